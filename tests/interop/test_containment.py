#!/usr/bin/python3
"""Containment (issue 5): no name a client sends may reach outside the share.

Usage: test_containment.py HOST PORT SHARE USER PASSWORD SHARE_PATH TMP_PATH
TMP_PATH is the share's parent: it holds the canary (secret.txt and
outside/), prepared with the hostile symlinks by test_containment.sh.

Each case sends a CREATE / SET_INFO / QUERY_DIRECTORY with a hostile name
(raw UTF-16 bytes where a name cannot be expressed as a Python str) and
checks the NTSTATUS against what Windows answers, and that no secret was
read.  After all cases: the canary hash is unchanged, and the server still
serves a new client.  Prints "ok N - ..." / "not ok N - ..." and
"N passed, N failed".  Needs /usr/bin/python3 with impacket.
"""
import ctypes
import hashlib
import os
import struct
import sys
import threading
import time
import unicodedata

from impacket import smb3structs as s
from impacket.smbconnection import SMBConnection, SessionError

ST = {
    "SUCCESS": 0,
    "INVALID_PARAMETER": 0xC000000D,
    "NO_SUCH_FILE": 0xC000000F,
    "ACCESS_DENIED": 0xC0000022,
    "OBJECT_NAME_INVALID": 0xC0000033,
    "OBJECT_NAME_NOT_FOUND": 0xC0000034,
    "OBJECT_NAME_COLLISION": 0xC0000035,
    "OBJECT_PATH_INVALID": 0xC0000039,
    "OBJECT_PATH_NOT_FOUND": 0xC000003A,
    "OBJECT_PATH_SYNTAX_BAD": 0xC000003B,
    "NOT_A_DIRECTORY": 0xC0000103,
    "FILE_IS_A_DIRECTORY": 0xC00000BA,
    "INVALID_EA_NAME": 0x80000013,
    "STOPPED_ON_SYMLINK": 0x8000002D,
    "NAME_TOO_LONG": 0xC0000106,
    "NOT_SUPPORTED": 0xC00000BB,
    "INVALID_INFO_CLASS": 0xC0000003,
    "NO_MORE_FILES": 0x80000006,
    "NOT_SAME_DEVICE": 0xC00000D4,
    "FILE_CORRUPT": 0xC0000102,
    "TOO_MANY_LINKS": 0xC0000265,
    "INVALID_DEVICE_REQUEST": 0xC0000010,
}
NAME = {v: k for k, v in ST.items()}
# Every way of saying "no such thing / you can't have it" that a refused
# escape may legitimately produce.
REFUSED = {"ACCESS_DENIED", "OBJECT_NAME_INVALID", "OBJECT_NAME_NOT_FOUND", "OBJECT_PATH_NOT_FOUND",
           "OBJECT_PATH_SYNTAX_BAD", "OBJECT_PATH_INVALID", "INVALID_PARAMETER", "STOPPED_ON_SYMLINK",
           "NOT_A_DIRECTORY", "NO_SUCH_FILE", "NAME_TOO_LONG"}
SECRET = b"OUTSIDE-SECRET"
FILE_FULL_EA_INFORMATION = 15   # MS-FSCC 2.4.15
FILE_NAMES_INFORMATION = 12     # MS-FSCC 2.4.28

# SMBKIT_DIALECT=3.0 / 3.0.2 / 2.1 picks another dialect (default 3.0: the
# impacket 0.10 in Debian 12 derives wrong 3.1.1 signing keys -- Samba's smbd
# refuses its 3.1.1 TREE_CONNECT with ACCESS_DENIED too -- and cannot speak
# 3.0.2; smbclient covers 3.1.1 in the other tiers).
DIALECT = {"3.1.1": s.SMB2_DIALECT_311, "3.0.2": s.SMB2_DIALECT_302, "3.0": s.SMB2_DIALECT_30,
           "2.1": s.SMB2_DIALECT_21}[os.environ.get("SMBKIT_DIALECT", "3.0")]
results = []


def report(ok, what):
    results.append(bool(ok))
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), what))
    sys.stdout.flush()


def sname(st):
    return NAME.get(st, "0x%08x" % st)


class Client:
    def __init__(self, host, port, user, password, share):
        self.conn = SMBConnection(host, host, sess_port=int(port), preferredDialect=DIALECT)
        self.conn.login(user, password)
        self.tid = self.conn.connectTree(share)
        self.smb = self.conn.getSMBServer()

    def _send(self, command, req):
        pkt = self.smb.SMB_PACKET()
        pkt["Command"] = command
        pkt["TreeID"] = self.tid
        if self.smb._Session["SigningRequired"]:
            pkt["Flags"] = s.SMB2_FLAGS_SIGNED
        pkt["Data"] = req
        return self.smb.recvSMB(self.smb.sendSMB(pkt))

    def create(self, name, disposition=s.FILE_OPEN, access=None, options=s.FILE_NON_DIRECTORY_FILE,
               directory=False):
        """name: str or raw UTF-16LE bytes.  Returns (status, fid)."""
        uname = name if isinstance(name, bytes) else name.encode("utf-16le", "surrogatepass")
        req = s.SMB2Create()
        req["RequestedOplockLevel"] = s.SMB2_OPLOCK_LEVEL_NONE
        req["ImpersonationLevel"] = s.SMB2_IL_IMPERSONATION
        req["DesiredAccess"] = access if access is not None else (s.FILE_READ_DATA | s.FILE_READ_ATTRIBUTES)
        req["FileAttributes"] = s.FILE_ATTRIBUTE_DIRECTORY if directory else s.FILE_ATTRIBUTE_NORMAL
        req["ShareAccess"] = s.FILE_SHARE_READ | s.FILE_SHARE_WRITE | s.FILE_SHARE_DELETE
        req["CreateDisposition"] = disposition
        req["CreateOptions"] = s.FILE_DIRECTORY_FILE if directory else options
        req["NameOffset"] = 0x78
        req["NameLength"] = len(uname)
        req["Buffer"] = uname if uname else b"\0"
        ans = self._send(s.SMB2_CREATE, req)
        if ans["Status"] != 0:
            return ans["Status"], None
        return 0, s.SMB2Create_Response(ans["Data"])["FileID"].getData()

    def close(self, fid):
        req = s.SMB2Close()
        req["FileID"] = fid
        return self._send(s.SMB2_CLOSE, req)["Status"]

    def read(self, fid, n=4096):
        """Returns the data, or the NTSTATUS (int) of a failed READ."""
        req = s.SMB2Read()
        req["FileID"] = fid
        req["Length"] = n
        req["Offset"] = 0
        req["Buffer"] = b"\0"
        ans = self._send(s.SMB2_READ, req)
        if ans["Status"] != 0:
            return ans["Status"]
        return s.SMB2Read_Response(ans["Data"])["Buffer"]

    def write(self, fid, data):
        req = s.SMB2Write()
        req["Offset"] = 0
        req["FileID"] = fid
        req["Length"] = len(data)
        req["DataOffset"] = 0x70
        req["Buffer"] = data
        return self._send(s.SMB2_WRITE, req)["Status"]

    def set_info(self, fid, info_class, blob, info_type=s.SMB2_0_INFO_FILE):
        req = s.SMB2SetInfo()
        req["InfoType"] = info_type
        req["FileInfoClass"] = info_class
        req["BufferLength"] = len(blob)
        req["BufferOffset"] = 0x60
        req["FileID"] = fid
        req["Buffer"] = blob
        return self._send(s.SMB2_SET_INFO, req)["Status"]

    def query_dir(self, fid, pattern):
        """Returns (status, [names])."""
        upat = pattern if isinstance(pattern, bytes) else pattern.encode("utf-16le", "surrogatepass")
        req = s.SMB2QueryDirectory()
        req["FileInformationClass"] = FILE_NAMES_INFORMATION
        req["Flags"] = s.SMB2_RESTART_SCANS
        req["FileID"] = fid
        req["FileNameOffset"] = 0x60
        req["FileNameLength"] = len(upat)
        req["OutputBufferLength"] = 65536
        req["Buffer"] = upat if upat else b"\0"
        ans = self._send(s.SMB2_QUERY_DIRECTORY, req)
        if ans["Status"] != 0:
            return ans["Status"], []
        rsp = s.SMB2QueryDirectory_Response(ans["Data"])
        buf = rsp["Buffer"]
        names = []
        off = 0
        while off + 12 <= len(buf):
            nxt, _, nlen = struct.unpack("<III", buf[off:off + 12])
            names.append(buf[off + 12:off + 12 + nlen].decode("utf-16le", "replace"))
            if not nxt:
                break
            off += nxt
        return 0, names


def rename_blob(target, replace=False):
    """FILE_RENAME_INFORMATION_TYPE_2 (MS-FSCC 2.4.42.2); also the layout of
    FileLinkInformation (2.4.27.2)."""
    t = target if isinstance(target, bytes) else target.encode("utf-16le", "surrogatepass")
    return struct.pack("<B7xQI", 1 if replace else 0, 0, len(t)) + t


def tree_hash(root, skip=None):
    """Hash of names, types, modes, link targets and contents under root."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        if skip and os.path.abspath(dirpath).startswith(skip):
            dirnames[:] = []
            continue
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            if skip and os.path.abspath(p).startswith(skip):
                continue
            st = os.lstat(p)
            h.update(p.encode("utf-8", "surrogateescape") + b"\0" + str(st.st_mode).encode())
            if os.path.islink(p):
                h.update(os.readlink(p).encode("utf-8", "surrogateescape"))
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


# ------------------------------------------------------------------ cases

def open_case(c, label, name, expect, access=None, disposition=s.FILE_OPEN, options=s.FILE_NON_DIRECTORY_FILE,
              directory=False):
    """CREATE name; expect is a set of status names.  A successful open is
    read to prove it holds no outside content."""
    st, fid = c.create(name, disposition=disposition, access=access, options=options, directory=directory)
    leaked = False
    if st == 0 and fid is not None:
        if not directory:
            data = c.read(fid)
            leaked = isinstance(data, bytes) and SECRET in data
        c.close(fid)
    ok = sname(st) in expect and not leaked
    report(ok, "%s: %s%s (expected %s)" % (label, sname(st), " LEAKED OUTSIDE DATA" if leaked else "",
                                          "/".join(sorted(expect))))
    return st


def path_cases(c):
    REF = REFUSED
    SYNTAX = {"OBJECT_PATH_SYNTAX_BAD", "OBJECT_NAME_INVALID", "OBJECT_PATH_INVALID", "INVALID_PARAMETER"}
    NF = {"OBJECT_NAME_NOT_FOUND", "OBJECT_PATH_NOT_FOUND"}
    cases = [
        ("'..\\secret.txt'", "..\\secret.txt", SYNTAX),
        ("'../secret.txt'", "../secret.txt", SYNTAX),
        ("'..' as a whole name", "..", SYNTAX),
        ("'sub\\..\\..\\secret.txt'", "sub\\..\\..\\secret.txt", SYNTAX),
        ("'sub/../../secret.txt'", "sub/../../secret.txt", SYNTAX),
        ("mixed 'sub\\../..\\secret.txt'", "sub\\../..\\secret.txt", SYNTAX),
        ("'.\\..\\secret.txt'", ".\\..\\secret.txt", SYNTAX),
        ("'sub\\.\\..\\..\\secret.txt'", "sub\\.\\..\\..\\secret.txt", SYNTAX),
        ("'..\\outside\\secret.txt'", "..\\outside\\secret.txt", SYNTAX),
        ("'.. \\secret.txt' (trailing space: another name)", ".. \\secret.txt", NF | SYNTAX),
        ("'..\\u0000secret' (NUL)", "..\x00secret", SYNTAX),
        ("'...\\secret.txt'", "...\\secret.txt", NF | SYNTAX),
        ("'..\\.' trailing dot", "..\\.", SYNTAX),
        ("fullwidth U+FF0E U+FF0E", "\uff0e\uff0e\\secret.txt", NF | SYNTAX),
        ("'%2e%2e\\secret.txt'", "%2e%2e\\secret.txt", NF),
        ("leading '\\..\\secret.txt'", "\\..\\secret.txt", SYNTAX),
        ("leading '\\\\..\\secret.txt'", "\\\\..\\secret.txt", SYNTAX),
        ("'\\\\?\\C:\\secret.txt'", "\\\\?\\C:\\secret.txt", SYNTAX | NF),
        ("'\\\\.\\C:\\'", "\\\\.\\C:\\", SYNTAX | NF),
        ("'\\??\\C:\\Windows'", "\\??\\C:\\Windows", SYNTAX | NF),
        ("drive letter 'C:\\secret.txt'", "C:\\secret.txt", SYNTAX | NF),
        ("absolute '/etc/passwd' (share-relative)", "/etc/passwd", NF | {"INVALID_PARAMETER"}),
        ("absolute TMP path", os.path.join(TMP, "secret.txt"), NF | SYNTAX),
        ("unpaired high surrogate + '..'", b"\x00\xd8.\x00.\x00\\\x00s\x00", SYNTAX),
        ("unpaired low surrogate", b"\x00\xdcx\x00", SYNTAX),
        ("reversed surrogate pair", b"\x00\xdc\x00\xd8", SYNTAX),
        ("odd-length UTF-16 name", b".\x00.\x00\\", SYNTAX | {"INVALID_PARAMETER"}),
        # symlinks inside the share pointing out
        ("file symlink, absolute target", "link_abs", REF),
        ("file symlink, relative target", "link_rel", REF),
        ("symlink in a subdirectory up two levels", "sub\\link_up2", REF),
        ("through a directory symlink, absolute", "dirlink_abs\\secret.txt", REF),
        ("through a directory symlink, relative", "dirlink_rel\\secret.txt", REF),
        ("nested through a directory symlink", "dirlink_abs\\sub\\secret.txt", REF),
        ("symlink to /", "rootlink\\etc\\passwd", REF),
        ("symlink to /etc/passwd", "passwd_link", REF),
        ("symlink loop", "loop_a", REF),
        ("self-referencing symlink as a directory", "self\\x", REF),
        ("dangling symlink to outside", "dangling_out", REF),
    ]
    for label, name, expect in cases:
        open_case(c, label, name, expect)
    # control: a symlink that stays inside is followed
    open_case(c, "control: in-share symlink 'inside_link\\inner.txt' opens", "inside_link\\inner.txt", {"SUCCESS"})
    # writes through outside links
    rw = s.FILE_READ_DATA | s.FILE_WRITE_DATA | s.FILE_READ_ATTRIBUTES
    open_case(c, "overwrite_if through file symlink", "link_abs", REF, access=rw, disposition=s.FILE_OVERWRITE_IF)
    open_case(c, "supersede through file symlink", "link_rel", REF, access=rw, disposition=s.FILE_SUPERSEDE)
    open_case(c, "create inside a directory symlink", "dirlink_abs\\new_file.txt", REF, access=rw,
              disposition=s.FILE_CREATE)
    open_case(c, "create on a dangling symlink to outside", "dangling_out", REF | {"OBJECT_NAME_COLLISION"},
              access=rw, disposition=s.FILE_OPEN_IF)
    open_case(c, "mkdir inside a directory symlink", "dirlink_rel\\newdir", REF, disposition=s.FILE_CREATE,
              directory=True)
    open_case(c, "delete-on-close through file symlink", "link_abs", REF | {"SUCCESS"},
              access=s.DELETE | s.FILE_READ_ATTRIBUTES, options=s.FILE_DELETE_ON_CLOSE)
    open_case(c, "delete-on-close through a directory symlink", "dirlink_abs\\secret.txt", REF,
              access=s.DELETE | s.FILE_READ_ATTRIBUTES, options=s.FILE_DELETE_ON_CLOSE)
    open_case(c, "open a directory symlink to outside as directory", "dirlink_abs", REF, directory=True)


def stream_cases(c):
    SYN = {"OBJECT_NAME_INVALID", "INVALID_PARAMETER"}
    open_case(c, "stream 'normal.txt:..\\..\\secret.txt'", "normal.txt:..\\..\\secret.txt", SYN)
    open_case(c, "stream 'normal.txt:../x:$DATA'", "normal.txt:../x:$DATA", SYN)
    open_case(c, "stream 'normal.txt::$INDEX_ALLOCATION'", "normal.txt::$INDEX_ALLOCATION",
              SYN | {"NOT_A_DIRECTORY", "FILE_IS_A_DIRECTORY"})
    open_case(c, "stream 'sub:$I30:$INDEX_ALLOCATION'", "sub:$I30:$INDEX_ALLOCATION",
              SYN | {"NOT_A_DIRECTORY", "FILE_IS_A_DIRECTORY", "ACCESS_DENIED"})
    open_case(c, "stream 'normal.txt:x:$BOGUS'", "normal.txt:x:$BOGUS", SYN)
    open_case(c, "stream on a symlink to outside 'link_abs:s'", "link_abs:s", REFUSED,
              access=s.FILE_READ_DATA | s.FILE_WRITE_DATA, disposition=s.FILE_OPEN_IF)
    open_case(c, "stream on a file through a dir symlink", "dirlink_abs\\secret.txt:s", REFUSED,
              access=s.FILE_READ_DATA | s.FILE_WRITE_DATA, disposition=s.FILE_OPEN_IF)
    NF = {"OBJECT_NAME_NOT_FOUND", "OBJECT_PATH_NOT_FOUND"}
    # create a real stream first so the store exists
    st, fid = c.create("normal.txt:alt:$DATA", disposition=s.FILE_OPEN_IF,
                       access=s.FILE_READ_DATA | s.FILE_WRITE_DATA)
    if fid:
        c.write(fid, b"stream data")
        c.close(fid)
    report(st == 0, "control: stream 'normal.txt:alt:$DATA' created: %s" % sname(st))
    for nm in (".smbkit-streams", ".SMBKIT-STREAMS", ".Smbkit-Streams", "sub\\..\\.smbkit-streams"):
        open_case(c, "stream store '%s' unreachable" % nm, nm, NF | {"OBJECT_PATH_SYNTAX_BAD"}, directory=True)
    open_case(c, "stream store child '.smbkit-streams\\x'", ".smbkit-streams\\x", NF)
    open_case(c, "stream store created anew '.SMBKIT-streams' (mkdir)", ".SMBKIT-streams",
              NF | {"ACCESS_DENIED", "OBJECT_NAME_INVALID"}, disposition=s.FILE_CREATE, directory=True)
    st, fid = c.create("", directory=True)
    names = []
    if fid:
        _, names = c.query_dir(fid, "*")
        c.close(fid)
    report(not any(n.lower() == ".smbkit-streams" for n in names), "stream store hidden from the root listing")


def ea_cases(c):
    st, fid = c.create("normal.txt", access=s.FILE_READ_DATA | s.FILE_WRITE_EA | s.FILE_READ_EA)
    if not fid:
        report(False, "open normal.txt for EAs: %s" % sname(st))
        return
    before = set(os.listxattr(os.path.join(SHARE, "normal.txt")))
    for nm in (b"../user.smbkit.dosattrib", b"user.smbkit.dosattrib", b"\x00user.smbkit.sd", b"a:b",
               b"trusted.x", b"security.capability", b"A" * 260, b"x/../../y"):
        # FILE_FULL_EA_INFORMATION: Next, Flags, NameLen, ValueLen, name, NUL, value
        if len(nm) > 255:
            blob = struct.pack("<IBBH", 0, 0, 255, 1) + nm[:255] + b"\0" + b"v"
        else:
            blob = struct.pack("<IBBH", 0, 0, len(nm), 1) + nm + b"\0" + b"v"
        st = c.set_info(fid, FILE_FULL_EA_INFORMATION, blob)
        after = set(os.listxattr(os.path.join(SHARE, "normal.txt")))
        new = after - before
        bad = [x for x in new if not x.startswith("user.smbkit.ea.")]
        changed_internal = any(x in ("user.smbkit.dosattrib", "user.smbkit.btime", "user.smbkit.streams",
                                     "user.smbkit.sd") and x not in before for x in new)
        report(not bad and not changed_internal,
               "EA name %r: %s, xattrs stay under user.smbkit.ea. (new: %s)" % (nm[:40], sname(st), sorted(new)))
        before = after
    c.close(fid)


def name_cases(c):
    rw = s.FILE_READ_DATA | s.FILE_WRITE_DATA | s.FILE_READ_ATTRIBUTES
    INV = {"OBJECT_NAME_INVALID"}
    # Reserved DOS device names: on a POSIX backend they are ordinary names
    # (as in Samba); a client cannot reach a device through them.
    for nm in ("CON", "NUL", "AUX", "COM1", "LPT1", "con.txt", "PRN"):
        st, fid = c.create(nm, disposition=s.FILE_OPEN_IF, access=rw)
        if fid:
            c.write(fid, b"x")
            c.close(fid)
        ok = st == 0 and os.path.isfile(os.path.join(SHARE, nm))
        report(ok, "reserved name '%s' is an ordinary file in the share: %s" % (nm, sname(st)))
    open_case(c, "component of 256 bytes", "a" * 256, INV | {"NAME_TOO_LONG"}, access=rw, disposition=s.FILE_CREATE)
    open_case(c, "component of 255 bytes (allowed)", "b" * 255, {"SUCCESS"}, access=rw, disposition=s.FILE_CREATE)
    open_case(c, "128 x 2-byte UTF-8 = 256 bytes", "\u00e9" * 128, INV | {"NAME_TOO_LONG"}, access=rw,
              disposition=s.FILE_CREATE)
    deep = "\\".join(["d"] * 16000)   # 31999 chars = 63998 bytes: near the 16-bit limit
    open_case(c, "path longer than 32 KiB", deep, {"OBJECT_PATH_NOT_FOUND", "OBJECT_NAME_INVALID",
                                                   "NAME_TOO_LONG", "INVALID_PARAMETER"})
    for ch, lbl in (("\x01", "0x01"), ("\x1f", "0x1f"), ("\x7f", "DEL (allowed by Windows)"), ("\n", "newline")):
        exp = {"SUCCESS"} if ch == "\x7f" else INV
        open_case(c, "control character %s in a name" % lbl, "ctl%sname" % ch, exp, access=rw,
                  disposition=s.FILE_OPEN_IF)
    for ch in "*?<>|\"":
        open_case(c, "wildcard/reserved character %r in CREATE" % ch, "wild%sname" % ch, INV, access=rw,
                  disposition=s.FILE_OPEN_IF)
    open_case(c, "':' in a directory component", "sub:x\\y", INV | {"OBJECT_PATH_NOT_FOUND"})
    # NFC vs NFD: no normalisation (NTFS and Samba do none): two different
    # files that must not overwrite each other.
    nfc = unicodedata.normalize("NFC", "caf\u00e9.txt")
    nfd = unicodedata.normalize("NFD", nfc)
    st1, f1 = c.create(nfc, disposition=s.FILE_OVERWRITE_IF, access=rw)
    if f1:
        c.write(f1, b"NFC")
        c.close(f1)
    st2, f2 = c.create(nfd, disposition=s.FILE_OVERWRITE_IF, access=rw)
    if f2:
        c.write(f2, b"NFD")
        c.close(f2)
    st3, f3 = c.create(nfc)
    data = c.read(f3) if f3 else b""
    if f3:
        c.close(f3)
    report(st1 == 0 and st2 == 0 and data == b"NFC",
           "NFC and NFD spellings are distinct names, no collision (%s %s read %r)" % (sname(st1), sname(st2), data))


def rename_link_cases(c):
    rwd = s.FILE_READ_DATA | s.FILE_WRITE_DATA | s.DELETE | s.FILE_READ_ATTRIBUTES
    targets = [
        ("..\\escaped.txt", REFUSED),
        ("../escaped.txt", REFUSED),
        ("\\..\\escaped.txt", REFUSED),
        ("sub\\..\\..\\escaped.txt", REFUSED),
        ("dirlink_abs\\escaped.txt", REFUSED),
        ("dirlink_rel\\escaped.txt", REFUSED),
        ("rootlink\\tmp\\escaped.txt", REFUSED),
        ("C:\\escaped.txt", REFUSED),
        ("\\\\?\\C:\\escaped.txt", REFUSED),
        ("\uff0e\uff0e\\escaped.txt", REFUSED),
        (os.path.join(TMP, "escaped.txt"), REFUSED),
        (".smbkit-streams\\escaped.txt", REFUSED),
        ("normal.txt:..\\x", REFUSED),
    ]
    for kind, cls in (("rename", s.SMB2_FILE_RENAME_INFO), ("hard link", 11)):
        for tgt, expect in targets:
            st, fid = c.create("victim_%s.txt" % kind.replace(" ", ""), disposition=s.FILE_OPEN_IF, access=rwd)
            if not fid:
                report(False, "open source for %s: %s" % (kind, sname(st)))
                continue
            st = c.set_info(fid, cls, rename_blob(tgt, replace=True))
            c.close(fid)
            report(sname(st) in expect, "%s to %r: %s" % (kind, tgt, sname(st)))
        # overwriting a symlink that points out replaces the link, never the target
        st, fid = c.create("victim_%s.txt" % kind.replace(" ", ""), disposition=s.FILE_OPEN_IF, access=rwd)
        if fid:
            st = c.set_info(fid, cls, rename_blob("link_rel", replace=True))
            c.close(fid)
        with open(os.path.join(OUTSIDE, "secret.txt"), "rb") as f:
            intact = f.read().startswith(SECRET)
        report(intact, "%s over a symlink to outside leaves the target intact (%s)" % (kind, sname(st)))


def query_dir_cases(c):
    st, fid = c.create("", directory=True)
    if not fid:
        report(False, "open root: %s" % sname(st))
        return
    for pat in ("..\\*", "..", "..\\secret.txt", "../*", "sub\\..\\..\\*", "\\..\\*", "dirlink_abs\\*"):
        st, names = c.query_dir(fid, pat)
        leaked = [n for n in names if n in ("secret.txt", "outside", "users", "victim.txt")]
        report(not leaked, "QUERY_DIRECTORY pattern %r: %s %s" % (pat, sname(st), names[:5]))
    c.close(fid)
    # Listing a directory containing links to outside: the entries appear,
    # but reveal nothing of the target (size of secret.txt is 15).
    st, fid = c.create("", directory=True)
    conn_names = []
    try:
        for f in c.conn.listPath(SHARE_NAME, "*"):
            if f.get_longname() in ("link_abs", "link_rel", "dirlink_abs"):
                conn_names.append((f.get_longname(), f.get_filesize(), f.is_directory()))
    except SessionError as e:
        report(False, "listPath: %s" % e)
    if fid:
        c.close(fid)
    leaked = [x for x in conn_names if x[1] == len(SECRET) + 1 or x[2]]
    report(not leaked, "directory listing does not reveal the size/type of outside link targets %s" % conn_names)


# ------------------------------------------------------------------ race

libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def swapper(stop, count):
    """Exchanges race/d (a real directory) and race/alt (a symlink to the
    canary's d/) as fast as it can."""
    a = os.path.join(SHARE, "race", "d").encode()
    b = os.path.join(SHARE, "race", "alt").encode()
    while not stop.is_set():
        if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) == 0:
            count[0] += 1


def race_cases(c):
    stop = threading.Event()
    count = [0]
    t = threading.Thread(target=swapper, args=(stop, count))
    t.start()
    rw = s.FILE_READ_DATA | s.FILE_WRITE_DATA | s.FILE_READ_ATTRIBUTES
    leaks = opens = creates = deletes = renames = 0
    deadline = time.time() + 6
    i = 0
    try:
        while time.time() < deadline:
            i += 1
            st, fid = c.create("race\\d\\victim.txt")
            if fid:
                opens += 1
                data = c.read(fid)
                if isinstance(data, bytes) and SECRET in data:
                    leaks += 1
                c.close(fid)
            st, fid = c.create("race\\d\\new_%d.txt" % i, disposition=s.FILE_CREATE, access=rw)
            if fid:
                creates += 1
                c.write(fid, b"written by the race")
                c.close(fid)
            st, fid = c.create("race\\d\\victim.txt", access=s.DELETE | s.FILE_READ_ATTRIBUTES,
                               options=s.FILE_DELETE_ON_CLOSE)
            if fid:
                deletes += 1
                c.close(fid)
            st, fid = c.create("race\\d\\victim.txt", disposition=s.FILE_OPEN_IF,
                               access=rw | s.DELETE)
            if fid:
                if c.set_info(fid, s.SMB2_FILE_RENAME_INFO, rename_blob("race\\d\\renamed_%d.txt" % i)) == 0:
                    renames += 1
                c.close(fid)
            st, fid = c.create("race\\d\\sub%d" % i, disposition=s.FILE_CREATE, directory=True)
            if fid:
                c.close(fid)
    finally:
        stop.set()
        t.join()
    report(leaks == 0, "race: %d iterations, %d swaps; opens %d, creates %d, deletes %d, renames %d; "
           "outside content read %d times" % (i, count[0], opens, creates, deletes, renames, leaks))
    report(count[0] > 100, "race: the swapper really raced (%d swaps)" % count[0])


# ------------------------------------------------------------------ main

def main():
    global SHARE, TMP, OUTSIDE, SHARE_NAME
    if len(sys.argv) != 8:
        print(__doc__)
        return 2
    host, port, share, user, password, SHARE, TMP = sys.argv[1:]
    SHARE_NAME = share
    OUTSIDE = os.path.join(TMP, "outside")
    skip = os.path.abspath(SHARE)
    before = tree_hash(TMP, skip=skip)

    c = Client(host, port, user, password, share)
    for fn in (path_cases, stream_cases, ea_cases, name_cases, rename_link_cases, query_dir_cases, race_cases):
        try:
            fn(c)
        except Exception as e:  # a dropped connection is a failure, then go on
            import traceback
            report(False, "%s raised %r" % (fn.__name__, e))
            print("# " + traceback.format_exc().replace("\n", "\n# "))
            try:
                c = Client(host, port, user, password, share)
            except Exception as e2:
                report(False, "reconnect after %s: %r" % (fn.__name__, e2))
                break

    after = tree_hash(TMP, skip=skip)
    report(before == after, "nothing outside the share changed (canary hash %s)" % ("equal" if before == after
                                                                                   else "DIFFERS"))
    if before != after:
        for dp, dn, fn in os.walk(OUTSIDE):
            print("#   outside now: %s %s" % (dp, sorted(fn)))
    try:
        c2 = Client(host, port, user, password, share)
        st, fid = c2.create("normal.txt")
        if fid:
            c2.close(fid)
        report(st == 0, "the server still serves a new client: %s" % sname(st))
    except Exception as e:
        report(False, "the server still serves a new client: %r" % e)

    passed = sum(results)
    print("%d passed, %d failed" % (passed, len(results) - passed))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
