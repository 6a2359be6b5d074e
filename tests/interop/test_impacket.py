#!/usr/bin/python3
"""Interop tier 2: impacket's SMB client against smbkitd.

impacket is an independent SMB2/3 client implementation (not Samba's), so it
catches assumptions that only hold for smbclient.  Run with /usr/bin/python3
(Debian's python3-impacket is installed for the system interpreter only).

Connection parameters come from the environment that tests/interop/lib.sh
exports (SMBKIT_HOST, SMBKIT_PORT, SMBKIT_USER, SMBKIT_PASS,
SMBKIT_SHARE_NAME), or from the command line:

    test_impacket.py [--host H] [--port P] [--user U] [--password PW] [--share S]

Prints "ok - name" / "not ok - name" per check and exits 1 if any failed.
"""

import argparse
import io
import os
import random
import sys
import traceback

try:
    from impacket.smbconnection import SMBConnection, SessionError
    from impacket import smb3structs
except ImportError as exc:  # pragma: no cover - environment problem
    print("not ok - import impacket (%s); install python3-impacket and use /usr/bin/python3" % exc)
    sys.exit(1)


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, func, *args):
        """Runs func; a raised exception or a False return is a failure."""
        try:
            value = func(*args)
        except Exception as exc:  # every failure is reported, never fatal
            print("not ok - %s" % name)
            for line in traceback.format_exception_only(type(exc), exc):
                print("#   " + line.rstrip())
            self.failed += 1
            return None
        if value is False:
            print("not ok - %s" % name)
            self.failed += 1
            return None
        print("ok - %s" % name)
        self.passed += 1
        return value


def parse_args():
    env = os.environ
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=env.get("SMBKIT_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env.get("SMBKIT_PORT", "445")))
    p.add_argument("--user", default=env.get("SMBKIT_USER", "testuser"))
    p.add_argument("--password", default=env.get("SMBKIT_PASS", ""))
    p.add_argument("--share", default=env.get("SMBKIT_SHARE_NAME", "share"))
    return p.parse_args()


def connect(args, dialect=None):
    conn = SMBConnection(args.host, args.host, sess_port=args.port, timeout=30,
                         preferredDialect=dialect)
    conn.login(args.user, args.password)
    return conn


def names_in(conn, share, pattern):
    return {f.get_longname() for f in conn.listPath(share, pattern)}


def file_ops(res, conn, args, tag, payload):
    """The full file round trip on one connection; names carry tag so the
    per-dialect runs do not interfere."""
    share = args.share
    fname = "imp_%s.bin" % tag
    dname = "imp_dir_%s" % tag
    renamed = "imp_%s_renamed.bin" % tag

    def put():
        conn.putFile(share, fname, io.BytesIO(payload).read)

    def get_matches():
        out = io.BytesIO()
        conn.getFile(share, fname, out.write)
        if out.getvalue() != payload:
            raise AssertionError("read back %d bytes, differing from the %d written"
                                 % (len(out.getvalue()), len(payload)))

    def listed():
        names = names_in(conn, share, "*")
        if fname not in names:
            raise AssertionError("%s missing from listing %r" % (fname, sorted(names)))

    def mkdir():
        conn.createDirectory(share, dname)
        if dname not in names_in(conn, share, "*"):
            raise AssertionError("directory not listed after createDirectory")

    def list_inside():
        conn.putFile(share, dname + "\\inner.txt", io.BytesIO(b"inner").read)
        names = names_in(conn, share, dname + "\\*")
        if "inner.txt" not in names:
            raise AssertionError("inner.txt not listed in %s: %r" % (dname, sorted(names)))
        conn.deleteFile(share, dname + "\\inner.txt")

    def rename():
        conn.rename(share, fname, renamed)
        names = names_in(conn, share, "*")
        if renamed not in names or fname in names:
            raise AssertionError("after rename the listing is %r" % sorted(names))

    def rmdir():
        conn.deleteDirectory(share, dname)
        if dname in names_in(conn, share, "*"):
            raise AssertionError("directory still listed after deleteDirectory")

    def delete():
        conn.deleteFile(share, renamed)
        if renamed in names_in(conn, share, "*"):
            raise AssertionError("file still listed after deleteFile")

    def missing_file_error():
        try:
            conn.getFile(share, "imp_does_not_exist_%s" % tag, lambda data: None)
        except SessionError as exc:
            # STATUS_OBJECT_NAME_NOT_FOUND (MS-ERREF 2.3.1)
            if exc.getErrorCode() != 0xC0000034:
                raise AssertionError("expected STATUS_OBJECT_NAME_NOT_FOUND, got 0x%08x"
                                     % exc.getErrorCode())
            return True
        raise AssertionError("opening a missing file succeeded")

    res.check("%s: putFile %d bytes" % (tag, len(payload)), put)
    res.check("%s: getFile returns the same bytes" % tag, get_matches)
    res.check("%s: listPath shows the file" % tag, listed)
    res.check("%s: createDirectory" % tag, mkdir)
    res.check("%s: listPath inside the directory" % tag, list_inside)
    res.check("%s: rename" % tag, rename)
    res.check("%s: deleteDirectory" % tag, rmdir)
    res.check("%s: deleteFile" % tag, delete)
    res.check("%s: missing file gives STATUS_OBJECT_NAME_NOT_FOUND" % tag, missing_file_error)


def main():
    args = parse_args()
    res = Results()
    # Seeded: a failure reproduces with the same bytes.
    payload = random.Random(1234).randbytes(2 * 1024 * 1024 + 777)

    # Default negotiation: impacket starts with an SMB1 NEGOTIATE offering
    # "SMB 2.002"/"SMB 2.???" and moves to SMB2 (MS-SMB2 3.3.5.3).
    conn = res.check("login (multi-protocol negotiate)", connect, args, None)
    if conn is not None:
        res.check("negotiated an SMB2/3 dialect",
                  lambda: conn.getDialect() in (smb3structs.SMB2_DIALECT_002, smb3structs.SMB2_DIALECT_21,
                                                smb3structs.SMB2_DIALECT_30, smb3structs.SMB2_DIALECT_302,
                                                smb3structs.SMB2_DIALECT_311))

        def shares():
            names = [s["shi1_netname"][:-1].lower() for s in conn.listShares()]
            if args.share.lower() not in names:
                raise AssertionError("share %r not in %r" % (args.share, names))
        res.check("listShares (srvsvc NetShareEnumAll) lists the share", shares)
        file_ops(res, conn, args, "default", payload)
        res.check("logoff", conn.logoff)
        conn.close()

    # Each SMB2 dialect impacket can start with directly.
    for tag, dialect in (("smb2_02", smb3structs.SMB2_DIALECT_002),
                         ("smb2_10", smb3structs.SMB2_DIALECT_21),
                         ("smb3_00", smb3structs.SMB2_DIALECT_30)):
        conn = res.check("%s: login" % tag, connect, args, dialect)
        if conn is None:
            continue
        res.check("%s: dialect is 0x%04x" % (tag, dialect), lambda: conn.getDialect() == dialect)
        file_ops(res, conn, args, tag, payload[: 300 * 1024])
        conn.close()

    def wrong_password():
        try:
            c = SMBConnection(args.host, args.host, sess_port=args.port, timeout=30)
            c.login(args.user, "wrong-" + args.password)
        except SessionError as exc:
            if exc.getErrorCode() != 0xC000006D:  # STATUS_LOGON_FAILURE
                raise AssertionError("expected STATUS_LOGON_FAILURE, got 0x%08x" % exc.getErrorCode())
            return True
        raise AssertionError("login with a wrong password succeeded")
    res.check("wrong password refused with STATUS_LOGON_FAILURE", wrong_password)

    print("impacket: %d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
