#!/usr/bin/python3
"""Interop tier 4: malformed and hostile input on raw TCP.

Sends broken SMB traffic to smbkitd over plain sockets (no SMB library) and
checks, after every case, that

  1. the server either answered with a well-framed SMB2 message or closed
     the connection (cases whose frame is complete must get one of the two
     within a few seconds; cases that leave a frame unfinished need not), and
  2. a fresh connection still negotiates successfully (the server neither
     crashed nor wedged).

A sanitizer build turns memory errors into crashes, which (2) sees, and the
harness (tests/interop/lib.sh) also scans the server log afterwards.

Framing is the direct-TCP transport of MS-SMB2 2.1: a 4-byte header whose
first byte is zero and whose other three bytes are the big-endian length of
one SMB2 message (or compound chain) that follows.

Everything is bounded: a fixed list of hand-written cases plus --random
cases from a seeded RNG (same seed, same bytes), and an overall --time-limit.

    test_malformed.py [--host H] [--port P] [--seed N] [--random N] [--time-limit S]

Connection parameters default to the SMBKIT_* variables lib.sh exports.
Prints "ok - name" / "not ok - name" and exits 1 on any failure.
"""

import argparse
import os
import random
import socket
import struct
import sys
import time

# ------------------------------------------------------------ constants
SMB2_MAGIC = b"\xfeSMB"
SMB1_MAGIC = b"\xffSMB"
TRANSFORM_MAGIC = b"\xfdSMB"       # MS-SMB2 2.2.41
COMPRESSION_MAGIC = b"\xfcSMB"     # MS-SMB2 2.2.42

NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT = 0, 1, 2, 3, 4
CREATE, CLOSE, FLUSH, READ, WRITE, LOCK, IOCTL, CANCEL, ECHO = 5, 6, 7, 8, 9, 10, 11, 12, 13
QUERY_DIRECTORY, CHANGE_NOTIFY, QUERY_INFO, SET_INFO, OPLOCK_BREAK = 14, 15, 16, 17, 18

FLAG_RELATED = 0x00000004          # SMB2_FLAGS_RELATED_OPERATIONS
ALL_DIALECTS = (0x0202, 0x0210, 0x0300, 0x0302, 0x0311)

STATUS_SUCCESS = 0
STATUS_MORE_PROCESSING_REQUIRED = 0xC0000016

REACT_TIMEOUT = 5.0     # seconds a complete bad frame may take to get a reaction
LIVENESS_TIMEOUT = 10.0


# ------------------------------------------------------------ encoders
def smb2_header(command, message_id=0, flags=0, next_command=0, credit_charge=1,
                credit_request=31, session_id=0, tree_id=0, status=0,
                structure_size=64, magic=SMB2_MAGIC):
    """The 64-byte sync header of MS-SMB2 2.2.1.2."""
    return struct.pack("<4sHHIHHIIQIIQ16s", magic, structure_size, credit_charge, status,
                       command, credit_request, flags, next_command, message_id,
                       0xFEFF, tree_id, session_id, b"\0" * 16)


def frame(payload, length=None, kind=0):
    """Direct-TCP framing: type byte (0 = session message) + 24-bit length."""
    if length is None:
        length = len(payload)
    return struct.pack(">I", (kind << 24) | (length & 0xFFFFFF)) + payload


def negotiate_contexts(preauth=True, encryption=True, salt=b"\x11" * 32):
    """NegotiateContextList for 3.1.1 (MS-SMB2 2.2.3.1): each context is
    8-byte aligned; the list starts 8-byte aligned after the dialects."""
    ctxs = []
    if preauth:  # SMB2_PREAUTH_INTEGRITY_CAPABILITIES, SHA-512 (2.2.3.1.1)
        data = struct.pack("<HHH", 1, len(salt), 0x0001) + salt
        ctxs.append(struct.pack("<HHI", 0x0001, len(data), 0) + data)
    if encryption:  # SMB2_ENCRYPTION_CAPABILITIES: AES-128-GCM, AES-128-CCM (2.2.3.1.2)
        data = struct.pack("<HHH", 2, 0x0002, 0x0001)
        ctxs.append(struct.pack("<HHI", 0x0002, len(data), 0) + data)
    out = b""
    for i, c in enumerate(ctxs):
        if i:
            out += b"\0" * (-len(out) % 8)
        out += c
    return out, len(ctxs)


def negotiate_body(dialects=ALL_DIALECTS, dialect_count=None, ctx_offset=None,
                   ctx_count=None, contexts=None, structure_size=36, security_mode=1,
                   capabilities=0x7F):
    """NEGOTIATE request body (MS-SMB2 2.2.3).  Any field can be forced to a
    wrong value; by default the body is valid and carries 3.1.1 contexts when
    0x0311 is offered."""
    dialect_bytes = b"".join(struct.pack("<H", d) for d in dialects)
    if dialect_count is None:
        dialect_count = len(dialects)
    fixed_len = 36
    ctx_blob, n_ctx = b"", 0
    if contexts is not None:
        ctx_blob, n_ctx = contexts
    elif 0x0311 in dialects:
        ctx_blob, n_ctx = negotiate_contexts()
    pad = b""
    auto_offset = 0
    if ctx_blob:
        pad = b"\0" * (-(64 + fixed_len + len(dialect_bytes)) % 8)
        auto_offset = 64 + fixed_len + len(dialect_bytes) + len(pad)
    if ctx_offset is None:
        ctx_offset = auto_offset
    if ctx_count is None:
        ctx_count = n_ctx
    body = struct.pack("<HHHHI16sIHH", structure_size, dialect_count, security_mode, 0,
                       capabilities, b"smbkit-malformed", ctx_offset, ctx_count, 0)
    return body + dialect_bytes + pad + ctx_blob


def negotiate_request(**kw):
    return smb2_header(NEGOTIATE, message_id=0) + negotiate_body(**kw)


def ntlmssp_negotiate():
    """A bare NTLMSSP NEGOTIATE_MESSAGE (MS-NLMP 2.2.1.1) with no domain or
    workstation, flags: UNICODE | REQUEST_TARGET | NTLM | EXTENDED_SESSIONSECURITY."""
    flags = 0x00000001 | 0x00000004 | 0x00000200 | 0x00080000
    return b"NTLMSSP\0" + struct.pack("<II", 1, flags) + struct.pack("<HHI", 0, 0, 0) * 2


def session_setup(message_id=1, sec_offset=None, sec_length=None, blob=None,
                  structure_size=25, session_id=0, truncate_to=None):
    """SESSION_SETUP request (MS-SMB2 2.2.5) with a possibly lying security
    buffer offset/length."""
    if blob is None:
        blob = ntlmssp_negotiate()
    if sec_offset is None:
        sec_offset = 64 + 24
    if sec_length is None:
        sec_length = len(blob)
    body = struct.pack("<HBBIIHHQ", structure_size, 0, 1, 0, 0, sec_offset & 0xFFFF,
                       sec_length & 0xFFFF, 0) + blob
    msg = smb2_header(SESSION_SETUP, message_id=message_id, session_id=session_id) + body
    if truncate_to is not None:
        msg = msg[:truncate_to]
    return msg


def echo(message_id=1, next_command=0, flags=0, pad_to=None):
    msg = smb2_header(ECHO, message_id=message_id, next_command=next_command, flags=flags) \
        + struct.pack("<HH", 4, 0)
    if pad_to is not None:
        msg += b"\0" * (pad_to - len(msg))
    return msg


def smb1_negotiate(dialects=(b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"), word_count=0,
                   byte_count=None, terminate=True):
    """SMB1 NEGOTIATE (MS-CIFS 2.2.4.52) as the multi-protocol negotiate of
    MS-SMB2 3.3.5.3 uses it."""
    data = b"".join(b"\x02" + d + (b"\0" if terminate else b"") for d in dialects)
    if byte_count is None:
        byte_count = len(data)
    hdr = struct.pack("<4sBIBHH8sHHHHH", SMB1_MAGIC, 0x72, 0, 0x18, 0xC853, 0, b"\0" * 8,
                      0, 0, 0xFEFF, 0, 0)
    return hdr + struct.pack("<BH", word_count, byte_count & 0xFFFF) + data


# ------------------------------------------------------------ socket helpers
class Closed(Exception):
    pass


def recv_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(n - len(buf))
        except (ConnectionResetError, BrokenPipeError):
            raise Closed()
        if not chunk:
            raise Closed()
        buf += chunk
    return buf


def recv_frame(sock, timeout):
    """Returns one framed message; raises Closed or socket.timeout."""
    deadline = time.monotonic() + timeout
    hdr = recv_exact(sock, 4, deadline)
    length = struct.unpack(">I", hdr)[0] & 0xFFFFFF
    return hdr, recv_exact(sock, length, deadline)


def connect(args):
    s = socket.create_connection((args.host, args.port), timeout=LIVENESS_TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send_all(sock, data):
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        raise Closed()


def check_reply_shape(hdr, msg):
    """A reply must itself be a sane SMB2 message: an empty frame, a header
    shorter than 64 bytes or a wrong magic means the server is confused."""
    if hdr[0] != 0:
        return "reply frame type byte 0x%02x" % hdr[0]
    if msg[:4] == SMB1_MAGIC:
        # An SMB1 error reply to an SMB1 NEGOTIATE that offers no SMB2
        # dialect is legitimate: 32-byte header, WordCount, ByteCount.
        if len(msg) < 35:
            return "SMB1 reply of %d bytes is shorter than its header" % len(msg)
        return None
    if len(msg) < 64:
        return "reply of %d bytes is shorter than an SMB2 header" % len(msg)
    if msg[:4] not in (SMB2_MAGIC, TRANSFORM_MAGIC):
        return "reply magic %r" % msg[:4]
    return None


def negotiate(sock, dialects=ALL_DIALECTS):
    """Valid NEGOTIATE; returns (status, dialect) of the response."""
    send_all(sock, frame(negotiate_request(dialects=dialects)))
    _, msg = recv_frame(sock, LIVENESS_TIMEOUT)
    if len(msg) < 64 + 6 or msg[:4] != SMB2_MAGIC:
        raise AssertionError("bad NEGOTIATE response (%d bytes)" % len(msg))
    status = struct.unpack_from("<I", msg, 8)[0]
    dialect = struct.unpack_from("<H", msg, 64 + 4)[0]
    return status, dialect


def server_alive(args):
    """A fresh connection must still negotiate."""
    try:
        with connect(args) as s:
            status, dialect = negotiate(s)
            if status != STATUS_SUCCESS:
                return "NEGOTIATE returned status 0x%08x" % status
            if dialect not in ALL_DIALECTS:
                return "NEGOTIATE picked dialect 0x%04x" % dialect
            return None
    except (OSError, Closed, AssertionError) as exc:
        return "fresh connection failed: %s" % (exc.__class__.__name__ + " " + str(exc)).strip()


# ------------------------------------------------------------ cases
class Case:
    """setup: "none" (first bytes on the connection) or "negotiated" (after a
    valid NEGOTIATE).  must_react: the frame is complete, so the server has
    to answer or close; False for deliberately unfinished frames."""

    def __init__(self, name, data, setup="none", must_react=True):
        self.name, self.data, self.setup, self.must_react = name, data, setup, must_react


def fixed_cases():
    c = []
    add = lambda *a, **k: c.append(Case(*a, **k))

    # --- framing
    add("empty frame (length 0)", frame(b""))
    add("frame with only 3 bytes of length", b"\x00\x00\x01", must_react=False)
    add("huge frame length 0xFFFFFF, few bytes sent", frame(b"\xfeSMB" + b"\0" * 60, length=0xFFFFFF),
        must_react=False)
    add("huge frame length, nothing sent", struct.pack(">I", 0xFFFFFF), must_react=False)
    add("length shorter than the header", frame(smb2_header(NEGOTIATE)[:20]))
    add("NetBIOS session request type 0x81", frame(b"\x20" + b"CKFDENECFDEFFCFGEFFCCACACACACACA\0" * 2, kind=0x81),
        must_react=False)
    add("NetBIOS keepalive type 0x85", frame(b"", kind=0x85), must_react=False)
    add("unknown frame type 0x42", frame(b"\0" * 64, kind=0x42), must_react=False)
    add("frame length says more than the message", frame(negotiate_request(), length=len(negotiate_request()) + 40),
        must_react=False)

    # --- protocol ids
    add("zero protocol id", frame(b"\0\0\0\0" + negotiate_request()[4:]))
    add("ASCII protocol id", frame(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + b"\0" * 64))
    add("transform header magic with garbage", frame(TRANSFORM_MAGIC + b"\x01" * 60))
    add("transform header, no session", frame(TRANSFORM_MAGIC + b"\0" * 48 + b"\x10" * 16))
    add("compression transform magic with garbage", frame(COMPRESSION_MAGIC + b"\xff" * 60))
    add("SMB1 magic, unknown command", frame(SMB1_MAGIC + b"\x99" + b"\0" * 40))

    # --- truncated headers
    for n in (4, 5, 16, 32, 63):
        add("SMB2 header truncated to %d bytes" % n, frame(negotiate_request()[:n]))
    add("header only, NEGOTIATE body missing", frame(smb2_header(NEGOTIATE)))
    add("header StructureSize 0", frame(smb2_header(NEGOTIATE, structure_size=0) + negotiate_body()))
    add("header StructureSize 65", frame(smb2_header(NEGOTIATE, structure_size=65) + negotiate_body()))
    add("async flag on NEGOTIATE", frame(smb2_header(NEGOTIATE, flags=0x2) + negotiate_body()))
    add("unknown command 0x0099 first", frame(smb2_header(0x99) + b"\0" * 32))
    add("command 0xFFFF first", frame(smb2_header(0xFFFF) + b"\0" * 32))

    # --- NEGOTIATE with mangled counts and offsets
    add("NEGOTIATE DialectCount 0", frame(negotiate_request(dialects=(), dialect_count=0)))
    add("NEGOTIATE DialectCount 0xFFFF, 2 dialects", frame(negotiate_request(dialects=(0x0202, 0x0210),
                                                                          dialect_count=0xFFFF)))
    add("NEGOTIATE DialectCount 5, 1 dialect", frame(negotiate_request(dialects=(0x0202,), dialect_count=5)))
    add("NEGOTIATE DialectCount 1000, 1000 dialects", frame(negotiate_request(dialects=(0x0202,) * 1000)))
    add("NEGOTIATE only unknown dialects", frame(negotiate_request(dialects=(0x0999, 0x0001))))
    add("NEGOTIATE dialect 0x02FF wildcard only", frame(negotiate_request(dialects=(0x02FF,))))
    add("NEGOTIATE StructureSize 35", frame(negotiate_request(structure_size=35)))
    add("NEGOTIATE StructureSize 0xFFFF", frame(negotiate_request(structure_size=0xFFFF)))
    add("NEGOTIATE body cut inside fixed part", frame(negotiate_request()[:64 + 20]))
    add("NEGOTIATE body cut inside dialects", frame(negotiate_request()[:64 + 36 + 3]))
    add("3.1.1: context offset beyond message", frame(negotiate_request(ctx_offset=0xFFFFFF00)))
    add("3.1.1: context offset inside header", frame(negotiate_request(ctx_offset=8)))
    add("3.1.1: context offset unaligned", frame(negotiate_request(ctx_offset=64 + 36 + 10 + 1)))
    add("3.1.1: context count 0xFFFF", frame(negotiate_request(ctx_count=0xFFFF)))
    add("3.1.1: context count 0", frame(negotiate_request(ctx_count=0)))
    add("3.1.1: no preauth context", frame(negotiate_request(contexts=negotiate_contexts(preauth=False))))
    add("3.1.1: context list absent", frame(negotiate_request(dialects=(0x0311,), contexts=(b"", 0))))
    bad_len_ctx = struct.pack("<HHI", 0x0001, 0xFFF0, 0) + b"\x01\x00\x20\x00\x01\x00"
    add("3.1.1: context DataLength beyond end", frame(negotiate_request(contexts=(bad_len_ctx, 1))))
    zero_hash = struct.pack("<HHI", 0x0001, 4, 0) + struct.pack("<HH", 0, 0)
    add("3.1.1: preauth HashAlgorithmCount 0", frame(negotiate_request(contexts=(zero_hash, 1))))
    big_hash = struct.pack("<HHI", 0x0001, 6, 0) + struct.pack("<HHH", 0x7FFF, 0, 1)
    add("3.1.1: preauth HashAlgorithmCount 0x7FFF", frame(negotiate_request(contexts=(big_hash, 1))))
    big_salt = struct.pack("<HHI", 0x0001, 6, 0) + struct.pack("<HHH", 1, 0xFFFF, 1)
    add("3.1.1: preauth SaltLength beyond context", frame(negotiate_request(contexts=(big_salt, 1))))
    pre, _ = negotiate_contexts(encryption=False)
    zero_ciph = struct.pack("<HHI", 0x0002, 2, 0) + struct.pack("<H", 0)
    add("3.1.1: encryption CipherCount 0", frame(negotiate_request(
        contexts=(pre + b"\0" * (-len(pre) % 8) + zero_ciph, 2))))
    many_ciph = struct.pack("<HHI", 0x0002, 4, 0) + struct.pack("<HH", 0xFFFF, 1)
    add("3.1.1: encryption CipherCount 0xFFFF", frame(negotiate_request(
        contexts=(pre + b"\0" * (-len(pre) % 8) + many_ciph, 2))))
    dup = pre + b"\0" * (-len(pre) % 8) + pre
    add("3.1.1: duplicate preauth contexts", frame(negotiate_request(contexts=(dup, 2))))
    add("3.1.1: unknown context type", frame(negotiate_request(
        contexts=(pre + b"\0" * (-len(pre) % 8) + struct.pack("<HHI", 0x7777, 3, 0) + b"abc", 2))))

    # --- SMB1 multi-protocol negotiate
    add("SMB1 NEGOTIATE, valid (SMB 2.???)", frame(smb1_negotiate()))
    add("SMB1 NEGOTIATE, ByteCount beyond end", frame(smb1_negotiate(byte_count=0xFFFF)))
    add("SMB1 NEGOTIATE, strings not terminated", frame(smb1_negotiate(terminate=False)))
    add("SMB1 NEGOTIATE, WordCount 0xFF", frame(smb1_negotiate(word_count=0xFF)))
    add("SMB1 NEGOTIATE, no dialects", frame(smb1_negotiate(dialects=())))
    add("SMB1 NEGOTIATE, only NT LM 0.12", frame(smb1_negotiate(dialects=(b"NT LM 0.12",))))
    add("SMB1 header truncated", frame(smb1_negotiate()[:20]))

    # --- requests before NEGOTIATE (MS-SMB2 3.3.5.2: the first request must be NEGOTIATE)
    add("SESSION_SETUP before NEGOTIATE", frame(session_setup(message_id=0)))
    for cmd, name in ((TREE_CONNECT, "TREE_CONNECT"), (CREATE, "CREATE"), (READ, "READ"),
                      (ECHO, "ECHO"), (LOGOFF, "LOGOFF"), (CLOSE, "CLOSE"), (IOCTL, "IOCTL"),
                      (CANCEL, "CANCEL")):
        # CANCEL gets no response by design (MS-SMB2 3.3.5.16); closing is fine too.
        add("%s before NEGOTIATE" % name, frame(smb2_header(cmd) + b"\x31" + b"\0" * 120),
            must_react=(cmd != CANCEL))

    # --- after NEGOTIATE: session setup with lying security buffers
    add("second NEGOTIATE on a negotiated connection", frame(smb2_header(NEGOTIATE, message_id=1)
                                                            + negotiate_body()), setup="negotiated")
    add("SESSION_SETUP valid raw NTLMSSP (control)", frame(session_setup()), setup="negotiated")
    add("SESSION_SETUP SecurityBufferOffset 0xFFFF", frame(session_setup(sec_offset=0xFFFF)), setup="negotiated")
    add("SESSION_SETUP SecurityBufferLength 0xFFFF", frame(session_setup(sec_length=0xFFFF)), setup="negotiated")
    add("SESSION_SETUP offset inside the header", frame(session_setup(sec_offset=16, sec_length=64)),
        setup="negotiated")
    add("SESSION_SETUP offset 0, length 0", frame(session_setup(sec_offset=0, sec_length=0)), setup="negotiated")
    add("SESSION_SETUP offset+length wraps 16 bits", frame(session_setup(sec_offset=0xFFF0, sec_length=0x20)),
        setup="negotiated")
    add("SESSION_SETUP empty security blob", frame(session_setup(blob=b"", sec_length=0)), setup="negotiated")
    add("SESSION_SETUP body truncated", frame(session_setup(truncate_to=64 + 10)), setup="negotiated")
    add("SESSION_SETUP StructureSize 0", frame(session_setup(structure_size=0)), setup="negotiated")
    add("SESSION_SETUP garbage SPNEGO", frame(session_setup(blob=b"\x60\x84\xff\xff\xff\xff\x06\x06")),
        setup="negotiated")
    add("SESSION_SETUP ASN.1 length overflow", frame(session_setup(blob=b"\x60\x88" + b"\xff" * 8 + b"\x06")),
        setup="negotiated")
    add("SESSION_SETUP NTLMSSP type 3 with wild offsets", frame(session_setup(
        blob=b"NTLMSSP\0" + struct.pack("<I", 3) + struct.pack("<HHI", 0xFFFF, 0xFFFF, 0xFFFFFFF0) * 6
        + struct.pack("<I", 0xE2088297))), setup="negotiated")
    add("SESSION_SETUP unknown SessionId (binding)", frame(session_setup(session_id=0x1234567890)),
        setup="negotiated")
    add("TREE_CONNECT without a session", frame(smb2_header(TREE_CONNECT, message_id=1)
                                                + struct.pack("<HHHH", 9, 0, 72, 8) + "\\\\x\\y".encode("utf-16-le")),
        setup="negotiated")

    # --- compound chains (MS-SMB2 3.3.5.2.7)
    add("compound of 2 ECHOs (control)", frame(echo(1, next_command=72, pad_to=72) + echo(2)), setup="negotiated")
    add("NextCommand beyond the end", frame(echo(1, next_command=1000, pad_to=72) + echo(2)), setup="negotiated")
    add("NextCommand points exactly at the end", frame(echo(1, next_command=72, pad_to=72)), setup="negotiated")
    add("NextCommand not 8-byte aligned", frame(echo(1, next_command=70, pad_to=72) + echo(2)),
        setup="negotiated")
    add("NextCommand smaller than a header", frame(echo(1, next_command=8, pad_to=72) + echo(2)),
        setup="negotiated")
    add("NextCommand 0xFFFFFFF8", frame(echo(1, next_command=0xFFFFFFF8, pad_to=72) + echo(2)),
        setup="negotiated")
    add("second compound element truncated", frame(echo(1, next_command=72, pad_to=72) + echo(2)[:30]),
        setup="negotiated")
    add("related flag on the first element", frame(echo(1, next_command=72, flags=FLAG_RELATED, pad_to=72)
                                                  + echo(2, flags=FLAG_RELATED)), setup="negotiated")
    chain = b"".join(echo(i + 1, next_command=72, pad_to=72) for i in range(511)) + echo(512)
    add("compound of 512 ECHOs", frame(chain), setup="negotiated")
    add("duplicate MessageId in a compound", frame(echo(1, next_command=72, pad_to=72) + echo(1)),
        setup="negotiated")
    add("MessageId 0xFFFFFFFFFFFFFFFF", frame(echo(0xFFFFFFFFFFFFFFFF)), setup="negotiated")
    add("MessageId far outside the credit window", frame(echo(1 << 40)), setup="negotiated")
    add("CreditCharge 0xFFFF", frame(smb2_header(ECHO, message_id=1, credit_charge=0xFFFF)
                                     + struct.pack("<HH", 4, 0)), setup="negotiated")
    return c


def random_cases(rng, count):
    c = []
    for i in range(count):
        kind = rng.randrange(4)
        if kind == 0:
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 300)))
            c.append(Case("random #%d: %d random bytes in a frame" % (i, len(data)), frame(data)))
        elif kind == 1:
            # A plausible header with random fields and a random body.
            cmd = rng.randrange(0x14)
            hdr = smb2_header(cmd, message_id=rng.choice((0, 1, rng.getrandbits(64))),
                              flags=rng.getrandbits(32) & 0x3F, next_command=rng.choice((0, 0, rng.getrandbits(32))),
                              credit_charge=rng.getrandbits(16), session_id=rng.choice((0, rng.getrandbits(64))),
                              tree_id=rng.getrandbits(32))
            body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 200)))
            setup = rng.choice(("none", "negotiated"))
            # CANCEL never gets a response (MS-SMB2 3.3.5.16).
            c.append(Case("random #%d: command 0x%02x, %d-byte body, %s" % (i, cmd, len(body), setup),
                          frame(hdr + body), setup=setup, must_react=(cmd != CANCEL)))
        elif kind == 2:
            # A valid request with a few bytes flipped.
            base = bytearray(rng.choice((negotiate_request(), session_setup(message_id=0),
                                         echo(0, next_command=72, pad_to=72) + echo(1))))
            for _ in range(rng.randrange(1, 6)):
                base[rng.randrange(len(base))] = rng.getrandbits(8)
            setup = "negotiated" if base[12] != NEGOTIATE else "none"
            is_cancel = base[12] == CANCEL and base[13] == 0
            c.append(Case("random #%d: valid request with flipped bytes, %s" % (i, setup), frame(bytes(base)),
                          setup=setup, must_react=not is_cancel))
        else:
            # A valid NEGOTIATE cut at a random point but framed as complete.
            req = negotiate_request()
            cut = rng.randrange(1, len(req))
            c.append(Case("random #%d: NEGOTIATE cut at %d bytes" % (i, cut), frame(req[:cut])))
    return c


# ------------------------------------------------------------ runner
def run_case(args, case):
    """Returns None on success, or the reason for failure."""
    try:
        sock = connect(args)
    except OSError as exc:
        return "cannot connect: %s" % exc
    try:
        if case.setup == "negotiated":
            status, _ = negotiate(sock)
            if status != STATUS_SUCCESS:
                return "setup NEGOTIATE failed with 0x%08x" % status
        send_all(sock, case.data)
        if not case.must_react:
            # Give the server a moment to trip over it, then hang up.
            try:
                recv_frame(sock, 0.3)
            except (socket.timeout, Closed, OSError):
                pass
            return None
        try:
            hdr, msg = recv_frame(sock, REACT_TIMEOUT)
        except Closed:
            return None                       # closing is a fine answer
        except socket.timeout:
            return "neither answered nor closed within %.0fs" % REACT_TIMEOUT
        return check_reply_shape(hdr, msg)
    except Closed:
        return None
    except (AssertionError, OSError) as exc:
        return "%s: %s" % (exc.__class__.__name__, exc)
    finally:
        sock.close()


def main():
    env = os.environ
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=env.get("SMBKIT_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env.get("SMBKIT_PORT", "445")))
    p.add_argument("--seed", type=int, default=int(env.get("SMBKIT_MALFORMED_SEED", "20240611")))
    p.add_argument("--random", type=int, default=int(env.get("SMBKIT_MALFORMED_RANDOM", "400")),
                   help="number of random cases")
    p.add_argument("--time-limit", type=float, default=float(env.get("SMBKIT_MALFORMED_TIME", "240")),
                   help="seconds for the whole run")
    args = p.parse_args()

    deadline = time.monotonic() + args.time_limit
    passed = failed = 0
    reason = server_alive(args)
    if reason:
        print("not ok - server negotiates before the first case: %s" % reason)
        print("malformed: 0 passed, 1 failed")
        return 1
    cases = fixed_cases() + random_cases(random.Random(args.seed), args.random)
    print("# %d cases, seed %d" % (len(cases), args.seed))
    dead_in_a_row = 0
    for case in cases:
        if time.monotonic() > deadline:
            print("not ok - time limit of %.0fs reached before case '%s'" % (args.time_limit, case.name))
            failed += 1
            break
        reason = run_case(args, case)
        alive = server_alive(args)
        if reason is None and alive is None:
            print("ok - %s" % case.name)
            passed += 1
            dead_in_a_row = 0
            continue
        print("not ok - %s" % case.name)
        if reason:
            print("#   reaction: %s" % reason)
        if alive:
            print("#   afterwards: %s" % alive)
            dead_in_a_row += 1
        failed += 1
        if dead_in_a_row >= 3:
            print("# server unreachable after 3 cases in a row; stopping")
            break
    print("malformed: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
