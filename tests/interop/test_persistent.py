#!/usr/bin/python3
"""Persistent handle survives a restart of smbkitd (driven by test_persistent.sh).

  test_persistent.py open  PORT SHARE FILE STATEFILE   open with DH2Q PERSISTENT, write, lock bytes
                                                         0-15 exclusively, keep the connection;
                                                         prints the ids to STATEFILE and then
                                                         sleeps until killed
  test_persistent.py reclaim PORT SHARE FILE STATEFILE  new connection + session, DH2C, read back;
                                                         the lock must have survived: a second
                                                         client cannot take it or read under it,
                                                         the reclaimed handle can unlock it, then
                                                         the second client can lock; close
Raw create contexts (MS-SMB2 2.2.13.2.11 / 2.2.13.2.12) through impacket's SMB3.create.
"""
import json, os, struct, sys, time, uuid
from impacket import smb3
from impacket.smb3structs import (SMB2_LOCK, SMB2Lock, SMB2_LOCK_ELEMENT, SMB2_LOCKFLAG_EXCLUSIVE_LOCK,
                                  SMB2_LOCKFLAG_FAIL_IMMEDIATELY, SMB2_LOCKFLAG_UNLOCK, FILE_SHARE_WRITE,
                                  FILE_READ_DATA, FILE_WRITE_DATA, FILE_SHARE_READ, FILE_OVERWRITE_IF,
                                  FILE_OPEN, FILE_NON_DIRECTORY_FILE, SMB2_OPLOCK_LEVEL_NONE,
                                  SMB2_DIALECT_302)

PERSISTENT = 0x2
PAYLOAD = b"persistent handle data survives restart\n" * 8


class Ctx:
    def __init__(self, name, data):
        self.name, self.data = name, data

    def getData(self):
        # Next, NameOffset, NameLength, Reserved, DataOffset, DataLength, Name, pad to 8, Data
        hdr = struct.pack("<IHHHHI", 0, 16, len(self.name), 0, 24, len(self.data))
        return hdr + self.name + b"\0" * (8 - len(self.name)) + self.data


def lock(c, tid, fid, offset, length, flags):
    """One SMB2 LOCK (MS-SMB2 2.2.26) with one element; returns the NTSTATUS.
    (impacket 0.10's SMB3.lock cannot serialise its elements on Python 3.)"""
    el = SMB2_LOCK_ELEMENT()
    el['Offset'], el['Length'], el['Flags'] = offset, length, flags
    pkt = c.SMB_PACKET()
    pkt['Command'] = SMB2_LOCK
    pkt['TreeID'] = tid
    req = SMB2Lock()
    req['FileID'] = fid
    req['LockCount'] = 1
    req['LockSequence'] = 0
    req['Locks'] = el.getData()
    pkt['Data'] = req
    ans = c.recvSMB(c.sendSMB(pkt))
    return ans['Status']


EXCL_NOW = SMB2_LOCKFLAG_EXCLUSIVE_LOCK | SMB2_LOCKFLAG_FAIL_IMMEDIATELY
STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_FILE_LOCK_CONFLICT = 0xC0000054


def connect(port):
    c = smb3.SMB3("SMBKIT", "127.0.0.1", sess_port=port, preferredDialect=SMB2_DIALECT_302)
    c.login("testuser", "testpass")
    return c


def main():
    mode, port, share, fname, state = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    c = connect(port)
    tid = c.connectTree(share)
    if mode == "open":
        guid = uuid.uuid4().bytes
        dh2q = Ctx(b"DH2Q", struct.pack("<II8s16s", 60000, PERSISTENT, b"\0" * 8, guid))
        fid = c.create(tid, fname, FILE_READ_DATA | FILE_WRITE_DATA, FILE_SHARE_READ, FILE_NON_DIRECTORY_FILE,
                       FILE_OVERWRITE_IF, 0, oplockLevel=SMB2_OPLOCK_LEVEL_NONE, createContexts=[dh2q])
        c.writeFile(tid, fid, PAYLOAD, 0)
        st = lock(c, tid, fid, 0, 16, EXCL_NOW)
        if st != 0:
            print("lock before the restart failed: %#x" % st)
            sys.exit(1)
        with open(state, "w") as f:
            json.dump({"fid": fid.hex(), "guid": guid.hex()}, f)
        # Keep the connection (and the handle) until the server is killed.
        while True:
            time.sleep(1)
    else:
        st = json.load(open(state))
        fid_old, guid = bytes.fromhex(st["fid"]), bytes.fromhex(st["guid"])
        dh2c = Ctx(b"DH2C", fid_old + guid + struct.pack("<I", PERSISTENT))
        fid = c.create(tid, fname, FILE_READ_DATA, FILE_SHARE_READ, FILE_NON_DIRECTORY_FILE, FILE_OPEN, 0,
                       oplockLevel=SMB2_OPLOCK_LEVEL_NONE, createContexts=[dh2c])
        same_persistent = fid[:8] == fid_old[:8]
        data = c.read(tid, fid, 0, len(PAYLOAD))
        # The byte-range lock taken before the restart is still held by
        # this handle (MS-FSA 2.1.4.10 conflicts for everyone else).
        c2 = connect(port)
        tid2 = c2.connectTree(share)
        fid2 = c2.create(tid2, fname, FILE_READ_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_NON_DIRECTORY_FILE,
                         FILE_OPEN, 0, oplockLevel=SMB2_OPLOCK_LEVEL_NONE)
        other_lock = lock(c2, tid2, fid2, 4, 4, EXCL_NOW)
        try:
            c2.read(tid2, fid2, 0, 8)
            other_read = 0
        except smb3.SessionError as e:
            other_read = e.get_error_code()
        unlock = lock(c, tid, fid, 0, 16, SMB2_LOCKFLAG_UNLOCK)
        other_lock_after = lock(c2, tid2, fid2, 4, 4, EXCL_NOW)
        c2.close(tid2, fid2)
        c.close(tid, fid)
        locks_ok = (other_lock == STATUS_LOCK_NOT_GRANTED and other_read == STATUS_FILE_LOCK_CONFLICT
                    and unlock == 0 and other_lock_after == 0)
        print("reclaimed persistent id %s, same=%s, data %s, lock %s (other lock %#x, other read %#x, "
              "unlock %#x, other lock after unlock %#x)" % (
                  fid[:8].hex(), same_persistent, "intact" if data == PAYLOAD else "DIFFERENT",
                  "kept" if locks_ok else "NOT KEPT", other_lock, other_read, unlock, other_lock_after))
        sys.exit(0 if same_persistent and data == PAYLOAD and locks_ok else 1)


if __name__ == "__main__":
    main()
