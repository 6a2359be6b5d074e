#!/usr/bin/python3
"""Persistent handle survives a restart of smbkitd (driven by test_persistent.sh).

  test_persistent.py open  PORT SHARE FILE STATEFILE   open with DH2Q PERSISTENT, write, keep the
                                                         connection; prints the ids to STATEFILE
                                                         and then sleeps until killed
  test_persistent.py reclaim PORT SHARE FILE STATEFILE  new connection + session, DH2C, read back,
                                                         close
Raw create contexts (MS-SMB2 2.2.13.2.11 / 2.2.13.2.12) through impacket's SMB3.create.
"""
import json, os, struct, sys, time, uuid
from impacket import smb3
from impacket.smb3structs import (FILE_READ_DATA, FILE_WRITE_DATA, FILE_SHARE_READ, FILE_OVERWRITE_IF,
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
        c.close(tid, fid)
        print("reclaimed persistent id %s, same=%s, data %s" % (fid[:8].hex(), same_persistent,
                                                              "intact" if data == PAYLOAD else "DIFFERENT"))
        sys.exit(0 if same_persistent and data == PAYLOAD else 1)


if __name__ == "__main__":
    main()
