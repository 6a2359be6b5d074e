#!/usr/bin/python3
"""Directory leases (issue 4): two clients; client A caches a directory under
an SMB 3 directory lease (RqLs v2, R|H); client B changes the directory
(creates, then deletes an entry) and, separately, a local process writes a
file straight into the share's directory on disk.  Each time A must receive
a LEASE_BREAK notification for its directory lease.

Usage: test_dirlease.py HOST PORT SHARE USER PASSWORD SHARE_PATH
Prints "ok N - ..." / "not ok N - ..." and a final "N passed, N failed".
Needs /usr/bin/python3 with impacket (python3-impacket).
"""
import os
import select
import struct
import sys
import time
import uuid

from impacket import smb3 as smb3mod
from impacket import smb3structs as s
from impacket.smbconnection import SMBConnection

# A client gets directory leases only when its NEGOTIATE announces
# SMB2_GLOBAL_CAP_DIRECTORY_LEASING; impacket announces only encryption, so
# add the leasing bits to what it sends.
smb3mod.SMB2_GLOBAL_CAP_ENCRYPTION = (s.SMB2_GLOBAL_CAP_ENCRYPTION | s.SMB2_GLOBAL_CAP_LEASING |
                                      s.SMB2_GLOBAL_CAP_DIRECTORY_LEASING)

LEASE_R, LEASE_H, LEASE_W = 1, 2, 4
results = []


def report(ok, what):
    results.append(ok)
    print("%s %d - %s" % ("ok" if ok else "not ok", len(results), what))
    sys.stdout.flush()


def connect(host, port, user, password, share):
    c = SMBConnection(host, host, sess_port=int(port), preferredDialect=s.SMB2_DIALECT_30)
    # impacket's own create() mishandles servers that grant directory leasing
    # (its parent-directory bookkeeping); this test sends its own lease
    # contexts, so that bookkeeping is switched off.
    c._SMBConnection._Connection['SupportsDirectoryLeasing'] = False
    c.login(user, password)
    tid = c.connectTree(share)
    return c, tid


def lease_context(key, state, parent=None):
    """An RqLs v2 create context (MS-SMB2 2.2.13.2.10)."""
    flags = s.SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET if parent else 0
    data = struct.pack("<16sIIQ16sHH", key, state, flags, 0, parent or b"\0" * 16, 0, 0)
    ctx = s.SMB2CreateContext()
    ctx["Next"] = 0
    ctx["NameOffset"] = 16
    ctx["NameLength"] = 4
    ctx["DataOffset"] = 24
    ctx["DataLength"] = len(data)
    ctx["Buffer"] = b"RqLs" + b"\0" * 4 + data
    return ctx


def create(conn, tid, name, directory, disposition, lease=None, extra_options=0):
    """CREATE with an optional lease; returns (status, file_id, lease_state or None)."""
    smb = conn.getSMBServer()
    pkt = smb.SMB_PACKET()
    pkt["Command"] = s.SMB2_CREATE
    pkt["TreeID"] = tid
    if smb._Session["SigningRequired"]:
        pkt["Flags"] = s.SMB2_FLAGS_SIGNED
    req = s.SMB2Create()
    req["RequestedOplockLevel"] = s.SMB2_OPLOCK_LEVEL_LEASE if lease else s.SMB2_OPLOCK_LEVEL_NONE
    req["ImpersonationLevel"] = s.SMB2_IL_IMPERSONATION
    req["DesiredAccess"] = s.FILE_READ_DATA | s.FILE_READ_ATTRIBUTES | s.FILE_WRITE_DATA | s.DELETE
    req["FileAttributes"] = s.FILE_ATTRIBUTE_DIRECTORY if directory else s.FILE_ATTRIBUTE_NORMAL
    req["ShareAccess"] = s.FILE_SHARE_READ | s.FILE_SHARE_WRITE | s.FILE_SHARE_DELETE
    req["CreateDisposition"] = disposition
    req["CreateOptions"] = (s.FILE_DIRECTORY_FILE if directory else s.FILE_NON_DIRECTORY_FILE) | extra_options
    uname = name.encode("utf-16le")
    req["NameOffset"] = 0x78
    req["NameLength"] = len(uname)
    buf = uname if uname else b"\0"
    if lease:
        off = 0x78 + len(buf)
        pad = (8 - off % 8) % 8
        buf += b"\0" * pad
        req["CreateContextsOffset"] = 0x78 + len(buf)
        ctxdata = lease.getData()
        req["CreateContextsLength"] = len(ctxdata)
        buf += ctxdata
    req["Buffer"] = buf
    pkt["Data"] = req
    mid = smb.sendSMB(pkt)
    ans = smb.recvSMB(mid)
    if ans["Status"] != 0:
        return ans["Status"], None, None
    rsp = s.SMB2Create_Response(ans["Data"])
    state = None
    if rsp["CreateContextsLength"]:
        raw = ans.getData()
        off = rsp["CreateContextsOffset"]
        ctx = raw[off:off + rsp["CreateContextsLength"]]
        while ctx:
            nxt, noff, nlen, _, doff, dlen = struct.unpack("<IHHHHI", ctx[:16])
            if ctx[noff:noff + nlen] == b"RqLs":
                state = struct.unpack("<I", ctx[doff + 16:doff + 20])[0]
            if not nxt:
                break
            ctx = ctx[nxt:]
    return 0, rsp["FileID"].getData(), state


def close(conn, tid, fid):
    smb = conn.getSMBServer()
    pkt = smb.SMB_PACKET()
    pkt["Command"] = s.SMB2_CLOSE
    pkt["TreeID"] = tid
    if smb._Session["SigningRequired"]:
        pkt["Flags"] = s.SMB2_FLAGS_SIGNED
    req = s.SMB2Close()
    req["FileID"] = fid
    pkt["Data"] = req
    return smb.recvSMB(smb.sendSMB(pkt))["Status"]


def wait_break(conn, key, timeout):
    """Waits for a lease break notification for key; acks it if required.
    Returns (current, new) or None."""
    smb = conn.getSMBServer()
    sock = smb._NetBIOSSession.get_socket()
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([sock], [], [], max(0.0, end - time.time()))
        if not r:
            break
        data = smb._NetBIOSSession.recv_packet(1).get_trailer()
        pkt = s.SMB2Packet(data)
        if pkt["Command"] != s.SMB2_OPLOCK_BREAK or pkt["MessageID"] != 0xFFFFFFFFFFFFFFFF:
            continue
        body = pkt["Data"]
        size, epoch, flags, lkey, cur, new = struct.unpack("<HHI16sII", body[:32])
        if size != 44 or lkey != key:
            continue
        if flags & s.SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED:
            ack = smb.SMB_PACKET()
            ack["Command"] = s.SMB2_OPLOCK_BREAK
            ack["TreeID"] = 0
            if smb._Session["SigningRequired"]:
                ack["Flags"] = s.SMB2_FLAGS_SIGNED
            ack["Data"] = struct.pack("<HHI16sIQ", 36, 0, 0, key, new, 0)
            mid = smb.sendSMB(ack)
            smb.recvSMB(mid)
        return cur, new
    return None


def main():
    if len(sys.argv) != 7:
        print(__doc__)
        return 2
    host, port, share, user, password, share_path = sys.argv[1:]
    dname = "dirlease_%d" % os.getpid()
    a, atid = connect(host, port, user, password, share)
    b, btid = connect(host, port, user, password, share)
    smb_a = a.getSMBServer()

    st, dfid, _ = create(a, atid, dname, True, s.FILE_CREATE)
    report(st == 0, "client A creates directory %s" % dname)
    close(a, atid, dfid)

    key = uuid.uuid4().bytes
    st, dfid, state = create(a, atid, dname, True, s.FILE_OPEN, lease_context(key, LEASE_R | LEASE_H))
    report(st == 0 and state == (LEASE_R | LEASE_H), "client A holds an RH directory lease (got %r)" % state)

    # 1. Client B creates an entry.
    st, ffid, _ = create(b, btid, dname + "\\fromB.txt", False, s.FILE_CREATE)
    got = wait_break(a, key, 5)
    report(got is not None and not (got[1] & LEASE_R),
           "create of an entry by client B breaks A's directory lease (%r)" % (got,))
    if ffid:
        close(b, btid, ffid)

    # Re-acquire R (the break left H at most).
    close(a, atid, dfid)
    st, dfid, state = create(a, atid, dname, True, s.FILE_OPEN, lease_context(key, LEASE_R | LEASE_H))
    report(st == 0 and state is not None and state & LEASE_R, "client A re-acquires read caching (%r)" % state)

    # 2. Client B deletes the entry.
    st, ffid, _ = create(b, btid, dname + "\\fromB.txt", False, s.FILE_OPEN, extra_options=s.FILE_DELETE_ON_CLOSE)
    if ffid:
        close(b, btid, ffid)
    got = wait_break(a, key, 5)
    report(got is not None and not (got[1] & LEASE_R), "delete by client B breaks A's directory lease (%r)" % (got,))

    close(a, atid, dfid)
    st, dfid, state = create(a, atid, dname, True, s.FILE_OPEN, lease_context(key, LEASE_R | LEASE_H))

    # 3. A client's own change under its parent lease key does not break it.
    fkey = uuid.uuid4().bytes
    st, ffid, _ = create(a, atid, dname + "\\fromA.txt", False, s.FILE_CREATE,
                         lease_context(fkey, LEASE_R | LEASE_H | LEASE_W, parent=key))
    got = wait_break(a, key, 1)
    report(st == 0 and got is None, "A's own create (parent lease key set) does not break its lease (%r)" % (got,))
    if ffid:
        close(a, atid, ffid)

    # 4. A local process writes into the directory on disk.
    local = os.path.join(share_path, dname, "local.txt")
    with open(local, "w") as f:
        f.write("written locally\n")
    got = wait_break(a, key, 5)
    report(got is not None and not (got[1] & LEASE_R), "local file creation breaks A's directory lease (%r)" % (got,))

    close(a, atid, dfid)
    for n in ("local.txt", "fromA.txt"):
        try:
            os.unlink(os.path.join(share_path, dname, n))
        except OSError:
            pass
    try:
        os.rmdir(os.path.join(share_path, dname))
    except OSError:
        pass
    npass = sum(1 for r in results if r)
    print("%d passed, %d failed" % (npass, len(results) - npass))
    return 0 if npass == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
