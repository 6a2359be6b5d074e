#!/usr/bin/python3
"""Attack tests (issue 5) beyond paths.

Usage: test_attacks.py HOST PORT SHARE USER PASSWORD POLICY_PORT POLICY_LOG
PORT serves SHARE from the command line; POLICY_PORT is the server that
test_attacks.sh starts from a configuration file (signing mandatory, access
policy, login failure limit 3 / backoff 3 s, listening on 127.0.0.1 and
127.0.0.2).  After every attack a normal client must still be served.
Prints "ok N - ..." / "not ok N - ..." and "N passed, N failed".
"""
import contextlib
import os
import socket
import struct
import sys
import time

from impacket import smb3structs as s
from impacket.smbconnection import SMBConnection, SessionError

ACCESS_DENIED = 0xC0000022
LOGON_FAILURE = 0xC000006D
# Default 3.0: impacket 0.10 (Debian 12) derives wrong 3.1.1 signing keys
# (Samba's smbd refuses its 3.1.1 TREE_CONNECT too); smbclient covers 3.1.1.
DIALECT = {"3.1.1": s.SMB2_DIALECT_311, "3.0.2": s.SMB2_DIALECT_302, "3.0": s.SMB2_DIALECT_30}[
    os.environ.get("SMBKIT_DIALECT", "3.0")]
results = []


@contextlib.contextmanager
def source(addr):
    """Makes the sockets opened inside bind to this loopback source address
    (impacket has no option for it; Linux would use 127.0.0.1)."""
    orig = socket.socket.connect

    def connect_from(self, a):
        try:
            self.bind((addr, 0))
        except OSError:
            pass
        return orig(self, a)
    socket.socket.connect = connect_from
    try:
        yield
    finally:
        socket.socket.connect = orig


def report(ok, what):
    results.append(bool(ok))
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), what))
    sys.stdout.flush()


def code(e):
    try:
        return e.getErrorCode()
    except Exception:
        return None


def connect(host, port, user, password, share=None, dialect=None, domain=""):
    c = SMBConnection(host, host, sess_port=int(port), preferredDialect=dialect or DIALECT)
    c.login(user, password, domain)
    tid = c.connectTree(share) if share else None
    return c, tid


def serves(host, port, user, password, share, what):
    try:
        c, tid = connect(host, port, user, password, share)
        c.listPath(share, "*")
        c.close()
        report(True, "after %s: the server still serves a normal client" % what)
    except Exception as e:
        report(False, "after %s: the server still serves a normal client: %r" % (what, e))


def send_raw_signed(c, command, body, tamper=None, tid=0):
    """Builds a signed request the way impacket does, optionally flips a byte
    after signing, sends it raw.  Returns (message id, raw bytes sent)."""
    smb = c.getSMBServer()
    pkt = smb.SMB_PACKET()
    pkt["Command"] = command
    pkt["Data"] = body
    pkt["TreeID"] = tid
    pkt["MessageID"] = smb._Connection["SequenceWindow"]
    smb._Connection["SequenceWindow"] += 1
    pkt["SessionID"] = smb._Session["SessionID"]
    pkt["CreditCharge"] = 1
    pkt["CreditRequestResponse"] = 1
    pkt["Flags"] = s.SMB2_FLAGS_SIGNED
    smb.signSMB(pkt)
    raw = bytearray(pkt.getData())
    if tamper is not None:
        raw[tamper] ^= 0x01
    smb._NetBIOSSession.send_packet(bytes(raw))
    return pkt["MessageID"], bytes(raw)


def recv_status(c, mid, timeout=5):
    """Status of the answer to mid, or 'closed' when the connection drops."""
    smb = c.getSMBServer()
    smb._NetBIOSSession.get_socket().settimeout(timeout)
    try:
        ans = smb.recvSMB(mid)
        return ans["Status"]
    except (socket.timeout, TimeoutError):
        return "timeout"
    except Exception:
        return "closed"


def echo_ok(c):
    try:
        return c.getSMBServer().echo()
    except Exception:
        return False


def signing_attacks(host, port2, user, password):
    # Tampered signature (MS-SMB2 3.3.5.2.4: verification fails -> ACCESS_DENIED).
    c, tid = connect(host, port2, user, password, "ro")
    mid, _ = send_raw_signed(c, s.SMB2_ECHO, s.SMB2Echo(), tamper=None)
    report(recv_status(c, mid) == 0, "control: a correctly signed ECHO is answered")
    body = s.SMB2Create()
    name = "x".encode("utf-16le")
    body["ImpersonationLevel"] = s.SMB2_IL_IMPERSONATION
    body["DesiredAccess"] = s.FILE_READ_ATTRIBUTES
    body["ShareAccess"] = 7
    body["CreateDisposition"] = s.FILE_OPEN
    body["NameOffset"] = 0x78
    body["NameLength"] = len(name)
    body["Buffer"] = name
    for where, off in (("signature byte", 48), ("body byte", 64 + 4), ("header TreeId", 36)):
        mid, _ = send_raw_signed(c, s.SMB2_CREATE, body, tamper=off, tid=tid)
        st = recv_status(c, mid)
        report(st in (ACCESS_DENIED, "closed"), "tampered %s: %s" % (where, st if isinstance(st, str) else
                                                                    "0x%08x" % st))
    report(echo_ok(c), "connection still usable after tampered messages (Windows: refused, not dropped)")
    c.close()
    serves(host, port2, user, password, "ro", "tampered signatures")

    # Replay: the same signed message (same MessageId) again -> dropped.
    c, tid = connect(host, port2, user, password, "ro")
    mid, raw = send_raw_signed(c, s.SMB2_ECHO, s.SMB2Echo())
    st1 = recv_status(c, mid)
    c.getSMBServer()._NetBIOSSession.send_packet(raw)
    st2 = recv_status(c, mid)
    report(st1 == 0 and st2 in ("closed", "timeout"),
           "replayed signed message (same MessageId): first %s, replay %s (connection dropped)" % (st1, st2))
    report(not echo_ok(c), "replaying connection is gone")
    serves(host, port2, user, password, "ro", "a replay")


def validate_negotiate(host, port, user, password, share):
    """3.0: FSCTL_VALIDATE_NEGOTIATE_INFO with values that differ from the
    NEGOTIATE (a downgrade in flight) -> the server drops the connection."""
    for label, mutate in (("control: matching values", None), ("dialect list stripped to 2.0.2", "dialects"),
                          ("different capabilities", "caps"), ("different client GUID", "guid"),
                          ("different security mode", "secmode")):
        try:
            c, tid = connect(host, port, user, password, share, dialect=s.SMB2_DIALECT_30)
        except Exception as e:
            report(False, "%s: connect %r" % (label, e))
            continue
        smb = c.getSMBServer()
        # What impacket sent in its NEGOTIATE (impacket/smb3.py negotiateSession):
        # only the preferred dialect, its ClientGuid, security mode, caps.
        guid = smb.ClientGuid.encode() if isinstance(smb.ClientGuid, str) else smb.ClientGuid
        secmode = smb._Connection["ClientSecurityMode"]
        caps = smb._Connection["Capabilities"]
        dialects = [s.SMB2_DIALECT_30]
        if mutate == "dialects":
            dialects = [s.SMB2_DIALECT_002]
        if mutate == "caps":
            caps ^= 0x40
        if mutate == "guid":
            guid = bytes(b ^ 0xFF for b in guid)
        if mutate == "secmode":
            secmode ^= s.SMB2_NEGOTIATE_SIGNING_REQUIRED
        blob = struct.pack("<I16sHH", caps, guid, secmode, len(dialects)) + b"".join(
            struct.pack("<H", d) for d in dialects)
        try:
            smb.ioctl(tid, None, ctlCode=0x00140204, flags=s.SMB2_0_IOCTL_IS_FSCTL, inputBlob=blob,
                      maxOutputResponse=24)
            outcome = "answered"
        except Exception as e:
            outcome = "closed" if not echo_ok(c) else "error %r" % code(e)
        alive = echo_ok(c)
        if mutate is None:
            report(alive, "VALIDATE_NEGOTIATE %s: %s" % (label, outcome))
        else:
            report(not alive, "VALIDATE_NEGOTIATE %s: %s, connection %s" % (label, outcome,
                                                                          "alive" if alive else "dropped"))
    serves(host, port, user, password, share, "VALIDATE_NEGOTIATE downgrades")


def login_attacks(host, port, user, password, share):
    for label, u, p in (("wrong password", user, password + "x"), ("unknown user", "nosuchuser", password),
                        ("anonymous (no guest mapping)", "", "")):
        try:
            c, tid = connect(host, port, u, p, share)
            report(False, "%s: logged in and connected!" % label)
        except SessionError as e:
            report(code(e) in (LOGON_FAILURE, ACCESS_DENIED), "%s refused: 0x%08x" % (label, code(e) or 0))
        except Exception as e:
            report(False, "%s: %r" % (label, e))
    serves(host, port, user, password, share, "bad logins")


def backoff(host2, port2, user, password, log):
    # limit 3 in the policy server: three failures block the address for 3 s
    for i in range(3):
        try:
            connect("127.0.0.1", port2, user, password + "bad")
        except Exception:
            pass
    t0 = time.time()
    try:
        connect("127.0.0.1", port2, user, password, "ro")
        report(False, "back-off: a correct login right after 3 failures was accepted")
    except SessionError as e:
        report(code(e) == LOGON_FAILURE, "back-off: correct password refused while blocked: 0x%08x (%.2f s, "
               "no sleeping)" % (code(e) or 0, time.time() - t0))
    except Exception as e:
        report(False, "back-off: %r" % e)
    try:
        with source("127.0.0.2"):
            c = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=int(port2), preferredDialect=DIALECT)
        c.login(user, password)
        c.connectTree("ro")
        report(True, "back-off is per address: 127.0.0.2 still logs in")
    except Exception as e:
        report(False, "back-off is per address: 127.0.0.2 refused: %r" % e)
    time.sleep(3.5)
    try:
        connect("127.0.0.1", port2, user, password, "ro")
        report(True, "back-off expires: login accepted after the block")
    except Exception as e:
        report(False, "back-off expires: %r" % e)
    with open(log) as f:
        text = f.read()
    report("too many failed logins" in text, "back-off is logged")


def policy(host, port2, user, password, log):
    def tc(u, share, src="127.0.0.1", pw=password):
        with source(src):
            c = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=int(port2), preferredDialect=DIALECT)
        c.login(u, pw)
        return c, c.connectTree(share)

    def can_write(c, tid, share):
        try:
            fid = c.createFile(tid, "w_%d.txt" % time.time_ns(), desiredAccess=s.FILE_WRITE_DATA,
                               creationDisposition=s.FILE_OVERWRITE_IF)
            c.closeFile(tid, fid)
            return True
        except SessionError:
            return False

    for u, share, exp_connect, exp_write, label in (
            (user, "rw", True, True, "member of @group in valid users writes to a writable share"),
            ("reader", "rw", True, False, "read list user gets read-only on a writable share"),
            ("banned", "rw", False, None, "invalid users (also in @group) is refused"),
            (user, "ro", True, False, "read only share: normal user cannot write"),
            ("writer", "ro", True, True, "write list user writes to a read only share"),
    ):
        try:
            c, tid = tc(u, share)
            w = can_write(c, tid, share)
            report(exp_connect and w == exp_write, "%s (connected, write %s)" % (label, w))
        except SessionError as e:
            report(not exp_connect and code(e) == ACCESS_DENIED, "%s (0x%08x)" % (label, code(e) or 0))
    try:
        tc(user, "denied")
        report(False, "share hosts deny: 127.0.0.1 connected to [denied]")
    except SessionError as e:
        report(code(e) == ACCESS_DENIED, "share hosts allow/deny: 127.0.0.1 refused at tree connect (0x%08x)" %
               (code(e) or 0))
    try:
        tc(user, "denied", src="127.0.0.2")
        report(True, "share hosts allow: 127.0.0.2 connects to [denied]")
    except Exception as e:
        report(False, "share hosts allow: 127.0.0.2 refused: %r" % e)
    # global hosts deny = 127.0.0.3: the connection is closed at accept
    try:
        sock = socket.socket()
        sock.bind(("127.0.0.3", 0))
        sock.settimeout(5)
        sock.connect(("127.0.0.1", int(port2)))
        sock.sendall(b"\0\0\0\0")
        data = sock.recv(10)
        report(data == b"", "global hosts deny: 127.0.0.3 is disconnected at once")
    except (ConnectionResetError, BrokenPipeError):
        report(True, "global hosts deny: 127.0.0.3 is disconnected at once (reset)")
    except Exception as e:
        report(False, "global hosts deny: %r" % e)
    # guests: unknown user maps to guest, allowed only where guest ok
    for share, ok in (("guestshare", True), ("ro", False)):
        try:
            tc("someone_unknown", share, pw="x")
            report(ok, "guest on [%s] %s" % (share, "allowed" if ok else "ALLOWED"))
        except SessionError as e:
            report(not ok and code(e) == ACCESS_DENIED, "guest on [%s] refused (0x%08x)" % (share, code(e) or 0))
    with open(log) as f:
        text = f.read()
    report("not allowed by hosts allow/hosts deny" in text and "listed in invalid users" in text,
           "refusals are logged with their reason")


def main():
    if len(sys.argv) != 8:
        print(__doc__)
        return 2
    host, port, share, user, password, port2, log2 = sys.argv[1:]
    steps = (lambda: login_attacks(host, port, user, password, share),
             lambda: signing_attacks(host, port2, user, password),
             lambda: validate_negotiate(host, port, user, password, share),
             lambda: policy(host, port2, user, password, log2),
             lambda: backoff(host, port2, user, password, log2))
    for fn in steps:
        try:
            fn()
        except Exception as e:
            import traceback
            report(False, "step raised %r" % e)
            print("# " + traceback.format_exc().replace("\n", "\n# "))
    serves(host, port, user, password, share, "everything")
    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
