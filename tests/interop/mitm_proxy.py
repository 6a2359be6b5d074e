#!/usr/bin/env python3
"""Man-in-the-middle TCP proxy for the downgrade / preauth-integrity tests.

Listens on a free loopback port, forwards every connection to the real
server, and in each connection rewrites the first SMB2 NEGOTIATE request
(client -> server) or response (server -> client) as --mode says.  Every
other message passes through unchanged.  Standard library only.

Usage:
    mitm_proxy.py --target 127.0.0.1:PORT --port-file FILE --log FILE --mode MODE

The listening port is written to --port-file once the socket listens (the
test waits for that file).  --log receives one line per event: what was
rewritten, and what the proxy saw afterwards (FSCTL_VALIDATE_NEGOTIATE_INFO
requests and their responses' status, SESSION_SETUP / TREE_CONNECT
statuses, who closed the connection), so the test can tell "the client
detected the tampering" from "nothing happened".

Modes:
    pass                 forward everything unchanged
    req-salt             flip one byte of the salt inside the client's
                         SMB2_PREAUTH_INTEGRITY_CAPABILITIES context
    req-drop-ctx=T       remove the negotiate context of type T (2 =
                         ENCRYPTION, 8 = SIGNING), fixing NegotiateContextCount
                         and the NetBIOS length
    req-ciphers          keep the ENCRYPTION_CAPABILITIES context but offer
                         only its last cipher (CipherCount and DataLength
                         shrink; the contexts are re-laid out)
    req-strip-dialect=D[,D...]  remove dialects D (hex, e.g. 0x0302) from the
                         client's list, fixing DialectCount and everything
                         after it (at least one dialect is always kept)
    rsp-dialect=D        change the server's chosen DialectRevision to D
    req-flip-encrypted=N flip one byte in the middle of the first encrypted
                         (TRANSFORM_HEADER) client message of at least N
                         bytes: its AEAD tag must then fail on the server
    req-flip-signed=N    flip one byte in the middle of the first signed
                         (Flags has SMB2_FLAGS_SIGNED) plain client message
                         of at least N bytes: its signature must then fail

Wire layouts (MS-SMB2):
  2.1       Direct TCP transport: 4-byte header, a zero byte and a 24-bit
            big-endian length, then the SMB2 message.
  2.2.1     SMB2 header, 64 bytes; Command at offset 12, Flags at 16 (bit 0:
            response), NextCommand at 20; Status at 8.
  2.2.3     NEGOTIATE request: StructureSize 36, DialectCount at +2,
            SecurityMode +4, Capabilities +8, ClientGuid +12,
            NegotiateContextOffset +28 (from the start of the SMB2 header),
            NegotiateContextCount +32, Dialects at +36.
  2.2.3.1   NEGOTIATE_CONTEXT: ContextType(2) DataLength(2) Reserved(4) Data,
            each context starting 8-byte aligned.
  2.2.3.1.1 PREAUTH_INTEGRITY_CAPABILITIES: HashAlgorithmCount(2)
            SaltLength(2) HashAlgorithms[count] Salt[SaltLength].
  2.2.3.1.2 ENCRYPTION_CAPABILITIES: CipherCount(2) Ciphers[count].
  2.2.4     NEGOTIATE response: StructureSize 65, SecurityMode +2,
            DialectRevision +4.
  2.2.31    IOCTL request: CtlCode at body offset 4.
"""

import argparse
import os
import select
import socket
import struct
import sys
import threading
import time

SMB2_MAGIC = b"\xfeSMB"
SMB2_HDR = 64
CMD_NEGOTIATE = 0x0000
CMD_SESSION_SETUP = 0x0001
CMD_TREE_CONNECT = 0x0003
CMD_IOCTL = 0x000B
FLAG_RESPONSE = 0x00000001
FLAG_SIGNED = 0x00000008
FSCTL_VALIDATE_NEGOTIATE_INFO = 0x00140204
CTX_PREAUTH = 0x0001
CTX_ENCRYPTION = 0x0002

CMD_NAMES = {CMD_NEGOTIATE: "NEGOTIATE", CMD_SESSION_SETUP: "SESSION_SETUP",
             CMD_TREE_CONNECT: "TREE_CONNECT", CMD_IOCTL: "IOCTL"}

log_lock = threading.Lock()
log_file = None


def log(msg):
    line = "%.3f %s\n" % (time.time(), msg)
    with log_lock:
        log_file.write(line)
        log_file.flush()


def recv_exact(sock, n):
    """Reads exactly n bytes; None on EOF."""
    chunks = []
    while n > 0:
        data = sock.recv(n)
        if not data:
            return None
        chunks.append(data)
        n -= len(data)
    return b"".join(chunks)


def recv_frame(sock):
    """One Direct TCP frame (2.1): returns (payload) or None on EOF."""
    head = recv_exact(sock, 4)
    if head is None:
        return None
    length = struct.unpack(">I", head)[0] & 0x00FFFFFF
    payload = recv_exact(sock, length) if length else b""
    if payload is None:
        return None
    return payload


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def align8(n):
    return (n + 7) & ~7


def parse_contexts(msg, offset, count):
    """Negotiate contexts (2.2.3.1) as a list of (type, data)."""
    ctxs = []
    pos = offset
    for i in range(count):
        pos = align8(pos)
        if pos + 8 > len(msg):
            raise ValueError("context %d header beyond the message" % i)
        ctype, dlen = struct.unpack_from("<HH", msg, pos)
        if pos + 8 + dlen > len(msg):
            raise ValueError("context %d data beyond the message" % i)
        ctxs.append([ctype, bytearray(msg[pos + 8:pos + 8 + dlen])])
        pos += 8 + dlen
    return ctxs


def build_negotiate_request(body_fixed, dialects, ctxs, had_ctx_fields):
    """Re-lays out a NEGOTIATE request: the 36 fixed bytes (with DialectCount
    and the context offset/count patched), the dialects, then the contexts
    8-byte aligned relative to the SMB2 header (2.2.3)."""
    body = bytearray(body_fixed)
    struct.pack_into("<H", body, 2, len(dialects))
    body += b"".join(struct.pack("<H", d) for d in dialects)
    if had_ctx_fields and ctxs:
        # Offsets count from the start of the SMB2 header.
        pad = align8(SMB2_HDR + len(body)) - (SMB2_HDR + len(body))
        body += b"\0" * pad
        struct.pack_into("<IH", body, 28, SMB2_HDR + len(body), len(ctxs))
        for i, (ctype, data) in enumerate(ctxs):
            if i:
                pad = align8(SMB2_HDR + len(body)) - (SMB2_HDR + len(body))
                body += b"\0" * pad
            body += struct.pack("<HHI", ctype, len(data), 0) + bytes(data)
    elif had_ctx_fields:
        struct.pack_into("<IH", body, 28, 0, 0)
    return bytes(body)


def rewrite_negotiate_request(msg, mode, arg, conn_id):
    """Returns the rewritten message (or the original when the mode does not
    apply) and logs what changed."""
    hdr, body = msg[:SMB2_HDR], msg[SMB2_HDR:]
    if len(body) < 36:
        log("conn %d: NEGOTIATE request too short to rewrite" % conn_id)
        return msg
    count = struct.unpack_from("<H", body, 2)[0]
    if 36 + 2 * count > len(body):
        log("conn %d: NEGOTIATE request dialect list beyond the message" % conn_id)
        return msg
    dialects = list(struct.unpack_from("<%dH" % count, body, 36))
    has_311 = 0x0311 in dialects
    ctx_off, ctx_count = struct.unpack_from("<IH", body, 28) if has_311 else (0, 0)
    ctxs = parse_contexts(msg, ctx_off, ctx_count) if has_311 and ctx_count else []
    log("conn %d: client NEGOTIATE dialects=[%s] contexts=[%s]" % (
        conn_id, ",".join("0x%04x" % d for d in dialects),
        ",".join("%d(%d)" % (t, len(d)) for t, d in ctxs)))

    if mode == "req-salt":
        for ctype, data in ctxs:
            if ctype == CTX_PREAUTH and len(data) >= 4:
                nalg, salt_len = struct.unpack_from("<HH", data, 0)
                salt_at = 4 + 2 * nalg
                if salt_len == 0 or salt_at + salt_len > len(data):
                    break
                data[salt_at] ^= 0x5A
                log("conn %d: REWROTE preauth salt byte 0 (salt length %d)" % (conn_id, salt_len))
                return hdr + build_negotiate_request(body[:36], dialects, ctxs, has_311)
        log("conn %d: no preauth salt to alter" % conn_id)
        return msg
    if mode == "req-drop-ctx":
        kept = [c for c in ctxs if c[0] != arg]
        if len(kept) == len(ctxs):
            log("conn %d: no negotiate context of type %d to remove" % (conn_id, arg))
            return msg
        log("conn %d: REWROTE removed negotiate context type %d (%d -> %d contexts)" % (
            conn_id, arg, len(ctxs), len(kept)))
        return hdr + build_negotiate_request(body[:36], dialects, kept, has_311)
    if mode == "req-ciphers":
        for c in ctxs:
            if c[0] == CTX_ENCRYPTION and len(c[1]) >= 4:
                n = struct.unpack_from("<H", c[1], 0)[0]
                if n < 2 or 2 + 2 * n > len(c[1]):
                    break
                ciphers = struct.unpack_from("<%dH" % n, c[1], 2)
                c[1] = bytearray(struct.pack("<HH", 1, ciphers[-1]))
                log("conn %d: REWROTE encryption ciphers [%s] -> [0x%04x]" % (
                    conn_id, ",".join("0x%04x" % x for x in ciphers), ciphers[-1]))
                return hdr + build_negotiate_request(body[:36], dialects, ctxs, has_311)
        log("conn %d: no encryption context with 2+ ciphers to change" % conn_id)
        return msg
    if mode == "req-strip-dialect":
        if not any(d in dialects for d in arg):
            log("conn %d: none of the dialects to strip is offered" % conn_id)
            return msg
        kept = [d for d in dialects if d not in arg]
        if not kept:
            log("conn %d: stripping would leave no dialect; forwarded unchanged" % conn_id)
            return msg
        log("conn %d: REWROTE stripped dialects [%s] -> [%s]" % (
            conn_id, ",".join("0x%04x" % d for d in arg),
            ",".join("0x%04x" % d for d in kept)))
        still_311 = 0x0311 in kept
        return hdr + build_negotiate_request(body[:36], kept, ctxs if still_311 else [], has_311)
    return msg


def rewrite_negotiate_response(msg, mode, arg, conn_id):
    body = msg[SMB2_HDR:]
    if len(body) < 8:
        return msg
    dialect = struct.unpack_from("<H", body, 4)[0]
    log("conn %d: server NEGOTIATE response dialect=0x%04x" % (conn_id, dialect))
    if mode == "rsp-dialect" and dialect != 0x02FF:
        out = bytearray(msg)
        struct.pack_into("<H", out, SMB2_HDR + 4, arg)
        log("conn %d: REWROTE response dialect 0x%04x -> 0x%04x" % (conn_id, dialect, arg))
        return bytes(out)
    return msg


def observe(msg, direction, conn_id):
    """Logs the interesting messages of a frame (walks compound chains)."""
    pos = 0
    while pos + SMB2_HDR <= len(msg) and msg[pos:pos + 4] == SMB2_MAGIC:
        status, cmd = struct.unpack_from("<IH", msg, pos + 8)
        flags, next_cmd = struct.unpack_from("<II", msg, pos + 16)
        is_rsp = bool(flags & FLAG_RESPONSE)
        name = CMD_NAMES.get(cmd)
        if cmd == CMD_IOCTL and not is_rsp and pos + SMB2_HDR + 8 <= len(msg):
            ctl = struct.unpack_from("<I", msg, pos + SMB2_HDR + 4)[0]
            if ctl == FSCTL_VALIDATE_NEGOTIATE_INFO:
                log("conn %d: %s VALIDATE_NEGOTIATE_INFO request (signed=%d)" % (
                    conn_id, direction, 1 if flags & 0x8 else 0))
        elif cmd == CMD_IOCTL and is_rsp:
            log("conn %d: %s IOCTL response status=0x%08x" % (conn_id, direction, status))
        elif name and name != "NEGOTIATE" and is_rsp:
            log("conn %d: %s %s response status=0x%08x" % (conn_id, direction, name, status))
        if next_cmd == 0:
            break
        pos += next_cmd
    if msg[:4] == b"\xfdSMB":
        pass  # encrypted (2.2.41): opaque to us, and nothing to rewrite


class Connection(threading.Thread):
    def __init__(self, conn_id, client, target, mode, arg):
        super().__init__(daemon=True)
        self.conn_id, self.client, self.target = conn_id, client, target
        self.mode, self.arg = mode, arg
        self.req_done = not mode.startswith("req-")
        self.rsp_done = not mode.startswith("rsp-")
        self.flip_done = mode not in ("req-flip-encrypted", "req-flip-signed")

    def run(self):
        cid = self.conn_id
        try:
            server = socket.create_connection(self.target, timeout=10)
        except OSError as e:
            log("conn %d: cannot reach server: %s" % (cid, e))
            self.client.close()
            return
        server.settimeout(None)
        # The server logs connections by peer address: this port ties its
        # log lines to this proxied connection.
        log("conn %d: upstream from 127.0.0.1:%d" % (cid, server.getsockname()[1]))
        socks = {self.client: (server, "C->S"), server: (self.client, "S->C")}
        try:
            while True:
                ready, _, _ = select.select(list(socks), [], [], 120)
                if not ready:
                    log("conn %d: idle for 120 s, closing" % cid)
                    return
                for s in ready:
                    peer, direction = socks[s]
                    try:
                        msg = recv_frame(s)
                    except OSError as e:
                        log("conn %d: %s read error %s" % (cid, direction, e))
                        return
                    if msg is None:
                        log("conn %d: %s closed by %s" % (
                            cid, direction, "client" if direction == "C->S" else "server"))
                        return
                    msg = self.maybe_rewrite(msg, direction)
                    observe(msg, direction, cid)
                    try:
                        peer.sendall(frame(msg))
                    except OSError as e:
                        log("conn %d: %s write error %s" % (cid, direction, e))
                        return
        finally:
            for s in (self.client, server):
                try:
                    s.close()
                except OSError:
                    pass

    def flip_target(self, msg):
        """Is msg the kind of client message the flip modes alter?"""
        if len(msg) < self.arg:
            return False
        if self.mode == "req-flip-encrypted":
            return msg[:4] == b"\xfdSMB"
        return (msg[:4] == SMB2_MAGIC and len(msg) >= SMB2_HDR
                and bool(struct.unpack_from("<I", msg, 16)[0] & FLAG_SIGNED))

    def maybe_rewrite(self, msg, direction):
        if not self.flip_done and direction == "C->S" and self.flip_target(msg):
            self.flip_done = True
            pos = len(msg) // 2
            b = bytearray(msg)
            b[pos] ^= 0x01
            log("conn %d: flipped byte %d of a %d-byte %s request" % (
                self.conn_id, pos, len(msg), "signed" if self.mode == "req-flip-signed" else "encrypted"))
            return bytes(b)
        if len(msg) < SMB2_HDR + 8 or msg[:4] != SMB2_MAGIC:
            return msg
        cmd = struct.unpack_from("<H", msg, 12)[0]
        flags = struct.unpack_from("<I", msg, 16)[0]
        if cmd != CMD_NEGOTIATE:
            return msg
        is_rsp = bool(flags & FLAG_RESPONSE)
        try:
            if direction == "C->S" and not is_rsp and not self.req_done:
                self.req_done = True
                return rewrite_negotiate_request(msg, self.mode, self.arg, self.conn_id)
            if direction == "S->C" and is_rsp and not self.rsp_done:
                # The answer to an SMB1 multi-protocol negotiate carries the
                # wildcard dialect 0x02FF; wait for the real SMB2 one.
                if struct.unpack_from("<H", msg, SMB2_HDR + 4)[0] != 0x02FF:
                    self.rsp_done = True
                return rewrite_negotiate_response(msg, self.mode, self.arg, self.conn_id)
            if direction == "S->C" and is_rsp:
                body = msg[SMB2_HDR:]
                log("conn %d: server NEGOTIATE response dialect=0x%04x" % (
                    self.conn_id, struct.unpack_from("<H", body, 4)[0]))
        except (ValueError, struct.error) as e:
            log("conn %d: cannot parse NEGOTIATE (%s); forwarded unchanged" % (self.conn_id, e))
        return msg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True, help="HOST:PORT of the real server")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--mode", default="pass")
    ap.add_argument("--lifetime", type=int, default=600,
                    help="exit after this many seconds whatever happens")
    a = ap.parse_args()

    global log_file
    log_file = open(a.log, "a")
    mode, _, raw = a.mode.partition("=")
    if mode not in ("pass", "req-salt", "req-drop-ctx", "req-ciphers",
                    "req-strip-dialect", "rsp-dialect", "req-flip-encrypted",
                    "req-flip-signed"):
        ap.error("unknown mode %s" % a.mode)
    if mode == "req-strip-dialect" and raw:
        arg = [int(x, 0) for x in raw.split(",")]
    else:
        arg = int(raw, 0) if raw else None
    if mode in ("req-drop-ctx", "req-strip-dialect", "rsp-dialect", "req-flip-encrypted",
                "req-flip-signed") and arg is None:
        ap.error("mode %s needs =VALUE" % mode)
    host, _, port = a.target.rpartition(":")
    target = (host, int(port))

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, a.port_file)  # atomic: the reader never sees half a port
    log("proxy listening on %d -> %s:%d mode=%s" % (lsock.getsockname()[1], host, target[1], a.mode))

    deadline = time.time() + a.lifetime
    conn_id = 0
    while time.time() < deadline:
        ready, _, _ = select.select([lsock], [], [], 1.0)
        if not ready:
            continue
        client, _ = lsock.accept()
        conn_id += 1
        log("conn %d: accepted" % conn_id)
        Connection(conn_id, client, target, mode, arg).start()
    log("proxy lifetime over, exiting")
    return 0


if __name__ == "__main__":
    sys.exit(main())
