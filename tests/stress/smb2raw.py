"""A small raw-socket SMB 2.1/3.0.2 client for the stress tests.

Unsigned and unencrypted (the stress server requires neither), NTLMv2 through
impacket.ntlm (raw NTLMSSP, no SPNEGO wrapping), one TCP connection per
object.  It can send requests without waiting for their answers, send
compounds, drop the connection abruptly at any point (RST), and it answers
oplock/lease break notifications by itself while it waits for something else,
so no client ever stalls a waiting CREATE of another client for the 35 s
break timeout.

Layouts are those of MS-SMB2 2.2 (section numbers next to each encoder).
"""
import os
import select
import socket
import struct
import time

from impacket import ntlm

NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT = 0, 1, 2, 3, 4
CREATE, CLOSE, FLUSH, READ, WRITE, LOCK, IOCTL, CANCEL, ECHO = 5, 6, 7, 8, 9, 10, 11, 12, 13
QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO, SET_INFO, OPLOCK_BREAK = 14, 15, 16, 17, 18

FLAG_RESPONSE, FLAG_ASYNC, FLAG_RELATED = 0x1, 0x2, 0x4

STATUS_SUCCESS = 0
STATUS_PENDING = 0x00000103
STATUS_NOTIFY_ENUM_DIR = 0x0000010C
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016
STATUS_FILE_CLOSED = 0xC0000128
STATUS_SHARING_VIOLATION = 0xC0000043
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
STATUS_RANGE_NOT_LOCKED = 0xC000007E
STATUS_CANCELLED = 0xC0000120
STATUS_NETWORK_NAME_DELETED = 0xC00000C9
STATUS_USER_SESSION_DELETED = 0xC0000203
STATUS_NOTIFY_CLEANUP = 0x0000010B
STATUS_INVALID_PARAMETER = 0xC000000D
STATUS_DELETE_PENDING = 0xC0000056
STATUS_ACCESS_DENIED = 0xC0000022

# Access masks, share access, dispositions, options (MS-SMB2 2.2.13).
FILE_READ_DATA, FILE_WRITE_DATA, FILE_APPEND_DATA = 0x1, 0x2, 0x4
FILE_READ_ATTRIBUTES, DELETE, SYNCHRONIZE = 0x80, 0x10000, 0x100000
GENERIC_ALL = 0x10000000
SHARE_READ, SHARE_WRITE, SHARE_DELETE = 1, 2, 4
FILE_SUPERSEDE, FILE_OPEN, FILE_CREATE, FILE_OPEN_IF, FILE_OVERWRITE, FILE_OVERWRITE_IF = 0, 1, 2, 3, 4, 5
FILE_DIRECTORY_FILE, FILE_NON_DIRECTORY_FILE = 0x1, 0x40
OPLOCK_NONE, OPLOCK_II, OPLOCK_EXCLUSIVE, OPLOCK_BATCH, OPLOCK_LEASE = 0, 1, 8, 9, 0xFF
LEASE_R, LEASE_H, LEASE_W = 1, 2, 4
LOCK_SHARED, LOCK_EXCLUSIVE, LOCK_UNLOCK, LOCK_FAIL_IMMEDIATELY = 1, 2, 4, 0x10


class Dropped(Exception):
    """The server closed the connection."""


class Timeout(Exception):
    """No answer within the deadline: the server is wedged (a test failure)."""


class Response:
    __slots__ = ("command", "status", "flags", "mid", "async_id", "tree_id", "session_id", "credits", "msg", "body")

    def __init__(self, msg):
        (_, _, _, self.status, self.command, self.credits, self.flags, _, self.mid) = \
            struct.unpack_from("<4sHHIHHIIQ", msg, 0)
        if self.flags & FLAG_ASYNC:
            self.async_id = struct.unpack_from("<Q", msg, 32)[0]
            self.tree_id = 0
        else:
            self.async_id = 0
            self.tree_id = struct.unpack_from("<I", msg, 36)[0]
        self.session_id = struct.unpack_from("<Q", msg, 40)[0]
        self.msg = msg
        self.body = msg[64:]


def utf16(s):
    return s.encode("utf-16le")


def create_context(name, data):
    """One SMB2_CREATE_CONTEXT (MS-SMB2 2.2.13.2), Next filled by the caller."""
    name_off = 16
    data_off = (name_off + len(name) + 7) & ~7
    ctx = struct.pack("<IHHHHI", 0, name_off, len(name), 0, data_off if data else 0, len(data))
    ctx += name + b"\0" * (data_off - name_off - len(name))
    return ctx + data


def chain_contexts(ctxs):
    out = b""
    for i, c in enumerate(ctxs):
        if i < len(ctxs) - 1:
            c += b"\0" * (-len(c) % 8)
            c = struct.pack("<I", len(c)) + c[4:]
        out += c
    return out


def lease_v2_ctx(key, state, parent=None, epoch=0):
    """RqLs v2 (MS-SMB2 2.2.13.2.10)."""
    flags = 4 if parent else 0
    return create_context(b"RqLs", struct.pack("<16sIIQ16sHH", key, state, flags, 0, parent or b"\0" * 16, epoch, 0))


def dh2q_ctx(create_guid, timeout_ms, persistent=False):
    """SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 (MS-SMB2 2.2.13.2.11)."""
    return create_context(b"DH2Q", struct.pack("<IIQ16s", timeout_ms, 2 if persistent else 0, 0, create_guid))


def dh2c_ctx(file_id, create_guid):
    """SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2 (MS-SMB2 2.2.13.2.12)."""
    return create_context(b"DH2C", struct.pack("<16s16sI", file_id, create_guid, 0))


def parse_contexts(blob):
    out = {}
    while len(blob) >= 16:
        nxt, noff, nlen, _, doff, dlen = struct.unpack_from("<IHHHHI", blob, 0)
        out[bytes(blob[noff:noff + nlen])] = bytes(blob[doff:doff + dlen])
        if not nxt:
            break
        blob = blob[nxt:]
    return out


class Conn:
    """One SMB2 connection.  auto_ack: answer break notifications."""

    def __init__(self, host, port, timeout=20.0, client_guid=None, auto_ack=True):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.mid = 0
        self.credits = 1
        self.session_id = 0
        self.pending = {}      # mid -> Response (final answers not claimed yet)
        self.async_ids = {}    # mid -> async id from an interim response
        self.breaks = []       # break notifications seen: (kind, fields)
        self.auto_ack = auto_ack
        self.client_guid = client_guid or os.urandom(16)
        self.rbuf = b""
        self.closed = False
        self.ack_tree = {}     # lease key / file id -> tree id to acknowledge its breaks on

    # ------------------------------------------------------------ transport
    def abort(self):
        """Drops the connection with a TCP RST (SO_LINGER 0), no LOGOFF."""
        if self.closed:
            return
        self.closed = True
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()

    def close_fin(self):
        """Drops the connection with an orderly FIN, still without LOGOFF."""
        if not self.closed:
            self.closed = True
            self.sock.close()

    def send_raw(self, payload, partial=None):
        data = struct.pack(">I", len(payload)) + payload
        if partial is not None:
            data = data[:partial]
        try:
            self.sock.sendall(data)
        except OSError:
            raise Dropped()

    def header(self, command, tree_id=0, flags=0, next_command=0, credit_charge=1, mid=None, async_id=None):
        if mid is None:
            mid = self.mid
            self.mid += credit_charge
        if async_id is not None:
            return struct.pack("<4sHHIHHIIQQQ16s", b"\xfeSMB", 64, credit_charge, 0, command, 64,
                               flags | FLAG_ASYNC, next_command, mid, async_id, self.session_id, b"\0" * 16), mid
        return struct.pack("<4sHHIHHIIQIIQ16s", b"\xfeSMB", 64, credit_charge, 0, command, 64, flags,
                           next_command, mid, 0xFEFF, tree_id, self.session_id, b"\0" * 16), mid

    def send(self, command, body, tree_id=0, flags=0):
        hdr, mid = self.header(command, tree_id, flags)
        self.send_raw(hdr + body)
        return mid

    def send_compound(self, parts, partial=None):
        """parts: [(command, body, tree_id, flags)].  Returns the mids."""
        msgs, mids = [], []
        for i, (cmd, body, tid, fl) in enumerate(parts):
            msg_len = 64 + len(body)
            pad = (-msg_len % 8) if i < len(parts) - 1 else 0
            nxt = msg_len + pad if i < len(parts) - 1 else 0
            hdr, mid = self.header(cmd, tid, fl, next_command=nxt)
            msgs.append(hdr + body + b"\0" * pad)
            mids.append(mid)
        self.send_raw(b"".join(msgs), partial=partial)
        return mids

    def _read_frame(self, deadline):
        while True:
            if len(self.rbuf) >= 4:
                n = struct.unpack(">I", self.rbuf[:4])[0] & 0xFFFFFF
                if len(self.rbuf) >= 4 + n:
                    f = self.rbuf[4:4 + n]
                    self.rbuf = self.rbuf[4 + n:]
                    return f
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout()
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            try:
                chunk = self.sock.recv(1 << 20)
            except OSError:
                raise Dropped()
            if not chunk:
                raise Dropped()
            self.rbuf += chunk

    def pump(self, deadline):
        """Reads one frame and files its messages.  Raises Timeout/Dropped."""
        f = self._read_frame(deadline)
        off = 0
        while True:
            nxt = struct.unpack_from("<I", f, off + 20)[0]
            msg = f[off:off + nxt] if nxt else f[off:]
            r = Response(msg)
            self.credits += r.credits
            if r.command == OPLOCK_BREAK and r.mid == 0xFFFFFFFFFFFFFFFF:
                self._on_break(r)
            elif r.status == STATUS_PENDING and r.flags & FLAG_ASYNC:
                self.async_ids[r.mid] = r.async_id
            else:
                self.pending[r.mid] = r
            if not nxt:
                break
            off += nxt

    def _on_break(self, r):
        b = r.body
        size = struct.unpack_from("<H", b, 0)[0]
        if size == 44:   # lease break notification (MS-SMB2 2.2.23.2)
            _, _, flags, key, cur, new = struct.unpack_from("<HHI16sII", b, 0)
            self.breaks.append(("lease", key, cur, new))
            if self.auto_ack and flags & 1:
                self.send(OPLOCK_BREAK, struct.pack("<HHI16sIQ", 36, 0, 0, key, new, 0), self.ack_tree.get(key, 0))
        else:            # oplock break notification (2.2.23.1)
            _, level, _, _, fid = struct.unpack_from("<HBBI16s", b, 0)
            self.breaks.append(("oplock", fid, level))
            if self.auto_ack:
                self.send(OPLOCK_BREAK, struct.pack("<HBBI16s", 24, level, 0, 0, fid), self.ack_tree.get(fid, 0))

    def wait(self, mid, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while mid not in self.pending:
            self.pump(deadline)
        self.async_ids.pop(mid, None)
        return self.pending.pop(mid)

    def poll(self, seconds):
        """Services the connection (acks breaks) for a while."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.pump(deadline)
        except Timeout:
            pass

    def call(self, command, body, tree_id=0, timeout=None):
        return self.wait(self.send(command, body, tree_id), timeout)

    # ------------------------------------------------------------ commands
    def negotiate(self, dialects=(0x0210, 0x0300, 0x0302)):
        """NEGOTIATE (2.2.3) without 3.1.1 contexts; leasing capability."""
        body = struct.pack("<HHHHI16sQ", 36, len(dialects), 1, 0, 0x2 | 0x4, self.client_guid, 0)
        body += b"".join(struct.pack("<H", d) for d in dialects)
        r = self.call(NEGOTIATE, body)
        if r.status:
            raise RuntimeError("negotiate: 0x%08x" % r.status)
        self.dialect = struct.unpack_from("<H", r.body, 4)[0]
        return self.dialect

    def session_setup(self, user, password):
        t1 = ntlm.getNTLMSSPType1("", "", signingRequired=False)
        blob = t1.getData()
        r = self._ss(blob)
        if r.status != STATUS_MORE_PROCESSING_REQUIRED:
            raise RuntimeError("session setup 1: 0x%08x" % r.status)
        self.session_id = r.session_id
        off, ln = struct.unpack_from("<HH", r.body, 4)
        t2 = r.msg[off:off + ln]
        t3, _ = ntlm.getNTLMSSPType3(t1, bytes(t2), user, password, "")
        r = self._ss(t3.getData())
        if r.status:
            raise RuntimeError("session setup 2: 0x%08x" % r.status)
        return r

    def _ss(self, blob):
        body = struct.pack("<HBBIIHHQ", 25, 0, 1, 0, 0, 88, len(blob), 0) + blob
        return self.call(SESSION_SETUP, body)

    def login(self, user, password):
        self.negotiate()
        self.session_setup(user, password)

    def tree_connect(self, host, share):
        path = utf16("\\\\%s\\%s" % (host, share))
        r = self.call(TREE_CONNECT, struct.pack("<HHHH", 9, 0, 72, len(path)) + path)
        if r.status:
            raise RuntimeError("tree connect: 0x%08x" % r.status)
        return r.tree_id

    @staticmethod
    def create_body(name, access, share, disposition, options=FILE_NON_DIRECTORY_FILE, oplock=OPLOCK_NONE,
                    contexts=()):
        uname = utf16(name)
        buf = uname or b"\0"
        ctx_off = ctx_len = 0
        if contexts:
            buf += b"\0" * (-(0x78 + len(buf)) % 8)
            ctx_off = 0x78 + len(buf)
            blob = chain_contexts(list(contexts))
            ctx_len = len(blob)
            buf += blob
        attrs = 0x10 if options & FILE_DIRECTORY_FILE else 0x80
        return struct.pack("<HBBIQQIIIIIHHII", 57, 0, oplock, 2, 0, 0, access, attrs, share, disposition, options,
                           0x78, len(uname), ctx_off, ctx_len) + buf

    @staticmethod
    def parse_create(r):
        """(file_id, oplock_level, contexts) of a successful CREATE response."""
        level = r.body[2]
        fid = bytes(r.body[64:80])
        coff, clen = struct.unpack_from("<II", r.body, 80)
        ctxs = parse_contexts(r.msg[coff:coff + clen]) if clen else {}
        return fid, level, ctxs

    def create(self, tid, name, access=FILE_READ_DATA | FILE_WRITE_DATA | FILE_READ_ATTRIBUTES,
               share=SHARE_READ | SHARE_WRITE | SHARE_DELETE, disposition=FILE_OPEN_IF,
               options=FILE_NON_DIRECTORY_FILE, oplock=OPLOCK_NONE, contexts=(), timeout=None):
        r = self.call(CREATE, self.create_body(name, access, share, disposition, options, oplock, contexts), tid,
                      timeout)
        if r.status:
            return r.status, None, None, None
        fid, level, ctxs = self.parse_create(r)
        self.note_create(tid, fid, ctxs)
        return 0, fid, level, ctxs

    def note_create(self, tid, fid, ctxs):
        """Remembers the tree on which breaks of this open are acknowledged."""
        self.ack_tree[fid] = tid
        if b"RqLs" in ctxs:
            self.ack_tree[ctxs[b"RqLs"][:16]] = tid

    @staticmethod
    def close_body(fid):
        return struct.pack("<HHI16s", 24, 0, 0, fid)

    def close(self, tid, fid):
        return self.call(CLOSE, self.close_body(fid), tid).status

    @staticmethod
    def write_body(fid, offset, data):
        return struct.pack("<HHIQ16sIIHHI", 49, 0x70, len(data), offset, fid, 0, 0, 0, 0, 0) + data

    def write(self, tid, fid, offset, data):
        return self.call(WRITE, self.write_body(fid, offset, data), tid).status

    @staticmethod
    def read_body(fid, offset, length):
        return struct.pack("<HBBIQ16sIIIHHB", 49, 0x50, 0, length, offset, fid, 0, 0, 0, 0, 0, 0)

    def read(self, tid, fid, offset, length):
        r = self.call(READ, self.read_body(fid, offset, length), tid)
        if r.status:
            return r.status, b""
        doff, _, dlen = struct.unpack_from("<BBI", r.body, 2)
        return 0, bytes(r.msg[doff:doff + dlen])

    @staticmethod
    def lock_body(fid, locks, seq=0):
        """locks: [(offset, length, flags)] (MS-SMB2 2.2.26)."""
        return struct.pack("<HHI16s", 48, len(locks), seq, fid) + b"".join(
            struct.pack("<QQII", o, ln, f, 0) for o, ln, f in locks)

    @staticmethod
    def notify_body(fid, tree=True):
        return struct.pack("<HHI16sII", 32, 1 if tree else 0, 4096, fid, 0xFFF, 0)

    def cancel(self, mid):
        """CANCEL (2.2.30) of mid, by AsyncId once the interim response came."""
        aid = self.async_ids.get(mid)
        hdr, _ = self.header(CANCEL, mid=mid, credit_charge=0, async_id=aid)
        self.send_raw(hdr + struct.pack("<HH", 4, 0))

    def tree_disconnect_body(self):
        return struct.pack("<HH", 4, 0)

    def logoff(self):
        return self.call(LOGOFF, struct.pack("<HH", 4, 0)).status
