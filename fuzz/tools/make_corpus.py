#!/usr/bin/env python3
"""Builds the seed corpora under fuzz/corpus/<target>/ from recorded traffic.

A recording (see fuzz/README.md for how to make one with record_proxy.py)
is a sequence of frames: one byte 'C' (client to server) or 'S', a 4-byte
little-endian length, then the SMB message.  Usage:

    make_corpus.py OUTDIR cap.1 cap.2 ...

Every seed is named by the SHA-1 of its contents, so re-running only adds.
"""
import hashlib
import os
import struct
import sys

SMB2 = b'\xfeSMB'
NEGOTIATE, SESSION_SETUP, TREE_CONNECT, CREATE, CLOSE, FLUSH, READ, WRITE = 0, 1, 3, 5, 6, 7, 8, 9
LOCK, IOCTL, QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO, SET_INFO, OPLOCK_BREAK = 10, 11, 14, 15, 16, 17, 18
# fuzz_smb2_hdr_and_commands selector byte for each command (enum decoder).
CMD_SELECTOR = {NEGOTIATE: 1, SESSION_SETUP: 2, TREE_CONNECT: 3, CREATE: 4, CLOSE: 6, READ: 7,
                WRITE: 8, FLUSH: 9, QUERY_DIRECTORY: 10, QUERY_INFO: 11, SET_INFO: 12, IOCTL: 13,
                CHANGE_NOTIFY: 16, LOCK: 17, OPLOCK_BREAK: 18}
SEL_CREATE_CONTEXTS, SEL_COPYCHUNK, SEL_VALIDATE_NEGOTIATE = 5, 14, 15
SEL_LEASE_CTX, SEL_TRANSFORM, SEL_DURABLE, SEL_KRB5, SEL_TCP_FRAME = 19, 20, 21, 22, 23
FSCTL_SRV_COPYCHUNK, FSCTL_SRV_COPYCHUNK_WRITE = 0x001440F2, 0x001480F2
FSCTL_VALIDATE_NEGOTIATE_INFO, FSCTL_PIPE_TRANSCEIVE = 0x00140204, 0x0011C017
MAX_SEED = 16384


def u16(b, o): return struct.unpack_from('<H', b, o)[0]
def u32(b, o): return struct.unpack_from('<I', b, o)[0]


def read_capture(path):
    data = open(path, 'rb').read()
    off, frames = 0, []
    while off + 5 <= len(data):
        tag, n = data[off:off + 1], u32(data, off + 1)
        frames.append((tag, data[off + 5:off + 5 + n]))
        off += 5 + n
    return frames


def chain(msg):
    """The commands of a compound: (offset, bytes) of each."""
    off, out = 0, []
    while len(msg) - off >= 64 and msg[off:off + 4] == SMB2:
        nxt = u32(msg, off + 20)
        end = off + nxt if nxt and off + nxt <= len(msg) else len(msg)
        out.append(msg[off:end])
        if not nxt or off + nxt > len(msg):
            break
        off += nxt
    return out


def field(cmd, off, ln):
    """(offset from header, length) pair -> bytes, or b''."""
    if off < 64 or off + ln > len(cmd):
        return b''
    return cmd[off:off + ln]


class Corpus:
    # Seeds kept per (target, first byte): enough variety for the fuzzer to
    # start from, while the checked-in corpus stays small.
    CAP = 24

    def __init__(self, root):
        self.root = root
        self.seen = {}

    def add(self, target, blob):
        if not blob or len(blob) > MAX_SEED:
            return
        key = (target, blob[0])
        names = self.seen.setdefault(key, set())
        name = hashlib.sha1(blob).hexdigest()
        if name not in names and len(names) >= self.CAP:
            return
        names.add(name)
        d = os.path.join(self.root, target)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, hashlib.sha1(blob).hexdigest()), 'wb') as f:
            f.write(blob)


def der_octet_strings(b, depth=0):
    """Contents of every OCTET STRING in a DER blob (SPNEGO mechToken)."""
    out, off = [], 0
    while off + 2 <= len(b) and depth < 8:
        tag, ln, off = b[off], b[off + 1], off + 2
        if ln & 0x80:
            k = ln & 0x7f
            if k == 0 or k > 4 or off + k > len(b):
                break
            ln, off = int.from_bytes(b[off:off + k], 'big'), off + k
        val = b[off:off + ln]
        off += ln
        if tag == 0x04:
            out.append(val)
        elif tag & 0x20:
            inner = val
            if tag == 0x60:   # [APPLICATION 0]: OID then the token
                if len(val) > 2 and val[0] == 0x06:
                    inner = val[2 + val[1]:]
            out += der_octet_strings(inner, depth + 1)
    return out


def security_blob(cmd, response):
    if response:
        return field(cmd, u16(cmd, 64 + 4), u16(cmd, 64 + 6)) if len(cmd) >= 72 else b''
    return field(cmd, u16(cmd, 64 + 12), u16(cmd, 64 + 14)) if len(cmd) >= 80 else b''


def unsign(cmd):
    """The harness' session is unsigned: drop the SIGNED flag and signature."""
    b = bytearray(cmd)
    struct.pack_into('<I', b, 16, u32(b, 16) & ~0x8)
    b[48:64] = bytes(16)
    return bytes(b)


def process(corpus, frames):
    dialect = None
    pipe_chunks = []          # pipe writes/transceives of this connection
    after_tree = None         # client messages after the last tree connect
    tree_is_ipc = False
    all_client = []
    pending_tree = None
    for tag, msg in frames:
        if tag == b'C' and msg[:4] == b'\xfdSMB':
            # Encrypted (3.x): only the TRANSFORM_HEADER decoder can use it.
            corpus.add('fuzz_smb2_hdr_and_commands', bytes([SEL_TRANSFORM]) + msg)
            continue
        cmds = chain(msg)
        if tag == b'S':
            for c in cmds:
                command, status = u16(c, 12), u32(c, 8)
                if command == NEGOTIATE and status == 0 and len(c) >= 70:
                    dialect = u16(c, 64 + 4)
                if command in (SESSION_SETUP, NEGOTIATE):
                    blob = security_blob(c, True)
                    if blob:
                        corpus.add('fuzz_spnego', b'\x00' + blob)
                        for tok in der_octet_strings(blob):
                            if tok.startswith(b'NTLMSSP\x00'):
                                corpus.add('fuzz_ntlmssp', b'\x01' + tok)
                if command == TREE_CONNECT and status == 0 and pending_tree is not None:
                    tree_is_ipc = pending_tree
                    after_tree = []
            continue
        all_client.append(msg)
        if after_tree is not None:
            after_tree.append(msg)
        for c in cmds:
            command = u16(c, 12)
            sel = CMD_SELECTOR.get(command)
            if sel is not None:
                corpus.add('fuzz_smb2_hdr_and_commands', bytes([sel]) + c)
            corpus.add('fuzz_smb2_hdr_and_commands', b'\x00' + c[:64])
            if command == SESSION_SETUP:
                blob = security_blob(c, False)
                if blob:
                    corpus.add('fuzz_spnego', b'\x00' + blob)
                    corpus.add('fuzz_spnego', b'\x01' + blob)
                    for tok in der_octet_strings(blob):
                        if tok[:1] == b'\x60':
                            corpus.add('fuzz_smb2_hdr_and_commands', bytes([SEL_KRB5]) + tok)
                        if tok.startswith(b'NTLMSSP\x00'):
                            corpus.add('fuzz_ntlmssp', b'\x01' + tok)
                            if u32(tok, 8) == 3:
                                corpus.add('fuzz_ntlmssp', b'\x00' + tok)
            elif command == TREE_CONNECT and len(c) >= 72:
                path = field(c, u16(c, 64 + 4), u16(c, 64 + 6)).decode('utf-16-le', 'replace')
                pending_tree = path.upper().endswith('IPC$')
            elif command == CREATE and len(c) >= 120:
                ctx = field(c, u32(c, 64 + 48), u32(c, 64 + 52))
                if ctx:
                    corpus.add('fuzz_smb2_hdr_and_commands', bytes([SEL_CREATE_CONTEXTS]) + ctx)
                    dsel_now = {0x202: 0, 0x210: 1, 0x300: 2, 0x302: 3, 0x311: 4}.get(dialect, 4)
                    corpus.add('fuzz_smb2_hdr_and_commands', bytes([SEL_DURABLE, dsel_now, c[64 + 3]]) + ctx)
            elif command == IOCTL and len(c) >= 120:
                ctl = u32(c, 64 + 4)
                inp = field(c, u32(c, 64 + 24), u32(c, 64 + 28))
                if ctl in (FSCTL_SRV_COPYCHUNK, FSCTL_SRV_COPYCHUNK_WRITE):
                    corpus.add('fuzz_smb2_hdr_and_commands', bytes([SEL_COPYCHUNK]) + inp)
                elif ctl == FSCTL_VALIDATE_NEGOTIATE_INFO:
                    corpus.add('fuzz_smb2_hdr_and_commands', bytes([SEL_VALIDATE_NEGOTIATE]) + inp)
                elif ctl == FSCTL_PIPE_TRANSCEIVE and inp:
                    pipe_chunks.append(inp)
            elif command == WRITE and len(c) >= 112 and tree_is_ipc and after_tree is not None:
                data = field(c, u16(c, 64 + 2), u32(c, 64 + 4))
                if data:
                    pipe_chunks.append(data)
            elif command == SET_INFO and len(c) >= 96:
                itype, cls = c[64 + 2], c[64 + 3]
                buf = field(c, u16(c, 64 + 8), u32(c, 64 + 4))
                if itype == 1:
                    sel = {4: 0, 10: 1, 11: 1, 65: 1, 15: 3}.get(cls, 2)
                    corpus.add('fuzz_fileinfo', bytes([sel]) + buf)
                elif itype == 3:
                    corpus.add('fuzz_fileinfo', b'\x05' + buf)
                    corpus.add('fuzz_fileinfo', b'\x06' + buf)
            elif command == QUERY_INFO and len(c) >= 104:
                inp = field(c, u16(c, 64 + 8), u32(c, 64 + 12))
                if inp and c[64 + 2] == 1 and c[64 + 3] == 15:
                    corpus.add('fuzz_fileinfo', b'\x04' + inp)
    # DCE/RPC: the whole conversation of the pipe, and every PDU alone.
    if pipe_chunks:
        seq = b''.join(struct.pack('<H', len(p)) + p for p in pipe_chunks)
        corpus.add('fuzz_dcerpc', b'\x0a' + seq)
        for p in pipe_chunks:
            corpus.add('fuzz_dcerpc', b'\x0b' + struct.pack('<H', len(p)) + p)
            corpus.add('fuzz_dcerpc', b'\x06' + struct.pack('<H', len(p)) + p)
    # Whole request path: what the client sent after its last tree connect,
    # replayed behind the harness' own login and tree connect.
    dsel = {0x311: 0, 0x202: 2, 0x210: 2, 0x300: 3, 0x302: 3}.get(dialect, 0)
    def records(msgs):
        return b''.join(struct.pack('<I', len(m)) + m for m in msgs)
    if after_tree:
        msgs = [unsign(m) if len(m) >= 64 else m for m in after_tree]
        mode = 1 if tree_is_ipc else 0
        head = bytes([mode | dsel << 2])
        for i in range(0, len(msgs), 6):
            corpus.add('fuzz_server', head + records(msgs[i:i + 6]))
        total = head + records(msgs)
        corpus.add('fuzz_server', total[:MAX_SEED])
    if all_client:
        # From the first byte: NEGOTIATE, SESSION_SETUP (the login fails
        # without the real challenge, which is the point: the error paths).
        corpus.add('fuzz_server', bytes([3 | dsel << 2]) + records([unsign(m) for m in all_client[:4]]))


def smb2_hdr(command, message_id=5, session_id=0x1122334455667788, tree_id=1):
    """A 64-byte SMB2 request header (MS-SMB2 2.2.1.2)."""
    return struct.pack('<4sHHIHHIIQIIQ16s', SMB2, 64, 1, 0, command, 1, 0, 0, message_id, 0xFEFF,
                       tree_id, session_id, bytes(16))


def create_contexts(items):
    """A create context chain (MS-SMB2 2.2.13.2): (4-byte name, data) pairs,
    each context 8-byte aligned, data at offset 24."""
    out = b''
    for i, (name, data) in enumerate(items):
        body = struct.pack('<IHHHHI', 0, 16, len(name), 0, 24 if data else 0, len(data)) + name + bytes(4) + data
        if i + 1 < len(items):
            body += bytes(-len(body) % 8)
            body = struct.pack('<I', len(body)) + body[4:]
        out += body
    return out


def lease_v1(key, state):
    return key + struct.pack('<IIQ', state, 0, 0)


def lease_v2(key, state, parent=None, epoch=1):
    flags = 4 if parent else 0
    return key + struct.pack('<IIQ', state, flags, 0) + (parent or bytes(16)) + struct.pack('<HH', epoch, 0)


def synthetic_smb2(corpus):
    """Seeds for the decoders added after the recordings were made."""
    add = lambda sel, blob: corpus.add('fuzz_smb2_hdr_and_commands', bytes([sel]) + blob)
    fid = struct.pack('<QQ', 0x1000000001, 0x2000000002)
    # LOCK (2.2.26): one exclusive fail-immediately lock; an unlock + shared
    # pair with LockSequenceIndex 1 / Number 3; index 64.
    def lock(seq, elements):
        body = struct.pack('<HHI', 48, len(elements), seq) + fid
        body += b''.join(struct.pack('<QQII', o, n, f, 0) for o, n, f in elements)
        return smb2_hdr(LOCK) + body
    add(17, lock(0, [(0, 10, 0x12)]))
    add(17, lock(1 << 4 | 3, [(100, 50, 0x4), (0, 2 ** 64 - 1, 0x1)]))
    add(17, lock(64 << 4 | 15, [(2 ** 63, 1, 0x2), (4096, 4096, 0x11), (8192, 0, 0x4)]))
    # OPLOCK_BREAK acknowledgements: oplock (2.2.24.1) to level II and
    # none, lease (2.2.24.2) to R and none.
    add(18, smb2_hdr(OPLOCK_BREAK) + struct.pack('<HBBI', 24, 1, 0, 0) + fid)
    add(18, smb2_hdr(OPLOCK_BREAK) + struct.pack('<HBBI', 24, 0, 0, 0) + fid)
    key = bytes(range(1, 17))
    add(18, smb2_hdr(OPLOCK_BREAK) + struct.pack('<HHI', 36, 0, 0) + key + struct.pack('<IQ', 1, 0))
    add(18, smb2_hdr(OPLOCK_BREAK) + struct.pack('<HHI', 36, 0, 0) + key + struct.pack('<IQ', 0, 0))
    # RqLs data: v1 RWH, v2 RH with a parent key, v2 R without one.
    add(SEL_LEASE_CTX, lease_v1(key, 7))
    add(SEL_LEASE_CTX, lease_v2(key, 3, parent=bytes(range(32, 48)), epoch=7))
    add(SEL_LEASE_CTX, lease_v2(key, 1))
    # TRANSFORM_HEADER (2.2.41) over a "ciphertext" the length of an SMB2
    # header + a small body.  The harness picks the cipher from the low two
    # bits of Signature[0]: AES-128-CCM (11-byte nonce), AES-128-GCM and
    # AES-256-GCM (12).
    for sig0, nonce_len, size in ((0xA0, 11, 64 + 24), (0xA1, 12, 64 + 49), (0xA3, 12, 64 + 8)):
        nonce = bytes(range(0x40, 0x40 + nonce_len)) + bytes(16 - nonce_len)
        sig = bytes([sig0]) + bytes(range(0xA1, 0xB0))
        th = struct.pack('<I16s16sIHHQ', 0x424D53FD, sig, nonce, size, 0, 1, 0x1122334455667788)
        add(SEL_TRANSFORM, th + bytes((i * 37) & 0xFF for i in range(size)))
    # Durable + lease contexts as a CREATE carries them (2.2.13.2.3/4/11/12),
    # after [dialect index | replay << 3][RequestedOplockLevel].
    guid = bytes(range(0x70, 0x80))
    dhnq = (b'DHnQ', bytes(16))
    dhnc = (b'DHnC', fid)
    dh2q = (b'DH2Q', struct.pack('<II8x', 60000, 2) + guid)
    dh2c = (b'DH2C', fid + guid + struct.pack('<I', 0))
    rqls1 = (b'RqLs', lease_v1(key, 7))
    rqls2 = (b'RqLs', lease_v2(key, 7, parent=bytes(range(32, 48))))
    add(SEL_DURABLE, bytes([1, 0xFF]) + create_contexts([dhnq, rqls1]))
    add(SEL_DURABLE, bytes([0, 0x09]) + create_contexts([dhnq]))
    add(SEL_DURABLE, bytes([4 | 8, 0xFF]) + create_contexts([(b'MxAc', b''), dh2q, (b'QFid', b''), rqls2]))
    add(SEL_DURABLE, bytes([2, 0x09]) + create_contexts([dhnc, dhnq]))
    add(SEL_DURABLE, bytes([4, 0xFF]) + create_contexts([dh2c, rqls2]))
    # krb5 InitialContextToken (RFC 2743 3.1, RFC 4121 4.1) around a stub
    # AP-REQ, with the standard and the Microsoft OID; principals.
    ap_req = bytes([0x6E, 0x0A, 0x30, 0x08, 0xA0, 0x03, 0x02, 0x01, 0x05, 0xA1, 0x01, 0x0E])
    for oid in (bytes.fromhex('2a864886f712010202'), bytes.fromhex('2a864882f712010202')):
        inner = bytes([0x06, len(oid)]) + oid + b'\x01\x00' + ap_req
        add(SEL_KRB5, bytes([0x60, len(inner)]) + inner)
    add(SEL_KRB5, b'alice@EXAMPLE.COM')
    add(SEL_KRB5, b'cifs/server.example.com@EXAMPLE.COM')
    # Direct TCP frames (2.1): two messages back to back, then a partial one.
    msg = smb2_hdr(OPLOCK_BREAK) + struct.pack('<HBBI', 24, 1, 0, 0) + fid
    add(SEL_TCP_FRAME, struct.pack('>I', len(msg)) + msg + struct.pack('>I', 4) + b'abcd' +
        struct.pack('>I', 100) + b'xy')


def synthetic(corpus):
    """Seeds for inputs the recorded clients did not send."""
    synthetic_smb2(corpus)
    # FILE_FULL_EA_INFORMATION (MS-FSCC 2.4.15): two entries, 4-byte aligned.
    e1 = struct.pack('<IBBH', 16, 0, 4, 3) + b'USER\x00abc'
    e1 += bytes(16 - len(e1))
    e2 = struct.pack('<IBBH', 0, 0x80, 2, 1) + b'XY\x00z'
    corpus.add('fuzz_fileinfo', b'\x03' + e1 + e2)
    # FILE_GET_EA_INFORMATION (2.4.15.1).
    corpus.add('fuzz_fileinfo', b'\x04' + struct.pack('<IB', 12, 4) + b'USER\x00' + bytes(2)
               + struct.pack('<IB', 0, 2) + b'XY\x00')
    # Self-relative security descriptor (MS-DTYP 2.4.6): owner
    # S-1-5-32-544, group S-1-1-0, DACL with one ACCESS_ALLOWED ACE.
    owner = bytes([1, 2, 0, 0, 0, 0, 0, 5]) + struct.pack('<II', 32, 544)
    world = bytes([1, 1, 0, 0, 0, 0, 0, 1]) + struct.pack('<I', 0)
    ace = struct.pack('<BBHI', 0, 0, 8 + len(world), 0x001F01FF) + world
    dacl = struct.pack('<BBHHH', 2, 0, 8 + len(ace), 1, 0) + ace
    sd = struct.pack('<BBHIIII', 1, 0, 0x8004, 20, 20 + len(owner), 0, 20 + len(owner) + len(world))
    sd += owner + world + dacl
    corpus.add('fuzz_fileinfo', b'\x05' + sd)
    corpus.add('fuzz_fileinfo', b'\x06' + sd)
    # FILE_RENAME_INFORMATION_TYPE_2 (2.4.37.2).
    name = 'dir1\\new.txt'.encode('utf-16-le')
    corpus.add('fuzz_fileinfo', b'\x01' + struct.pack('<B7xQI', 1, 0, len(name)) + name)
    # FILE_BASIC_INFORMATION (2.4.7) and the single-value classes.
    corpus.add('fuzz_fileinfo', b'\x00' + struct.pack('<QQQQI4x', 1, 2, 3, 4, 0x20))
    corpus.add('fuzz_fileinfo', b'\x02' + struct.pack('<Q', 4096))
    corpus.add('fuzz_fileinfo', b'\x08' + b'A long file name.txt')


def main():
    corpus = Corpus(sys.argv[1])
    synthetic(corpus)
    for path in sys.argv[2:]:
        process(corpus, read_capture(path))


if __name__ == '__main__':
    main()
