#!/usr/bin/python3
"""A signed WRITE whose connection dies mid-body, and one that completes.

smbkitd verifies a large signed WRITE while its body arrives (io_pool.h:
the worker feeds each chunk to the signature and parks between chunks) and
acts on nothing before the whole signature matches.  With impacket (SMB
3.0, AES-128-CMAC signing forced on):
  1. a signed 1 MiB WRITE completes: success, and the data is in the file;
  2. a second connection sends the first 600 KB of a signed 1 MiB WRITE
     and closes its socket: the parked job is ended with the connection
     (its MAC freed; the sanitizer build reports a leak otherwise), and
     nothing of that WRITE reaches the file;
  3. the server still serves a new connection, which reads both results.

Environment: SMBKIT_PORT, SMBKIT_USER, SMBKIT_PASS, SMBKIT_SHARE.
Exit 0 on success."""
import os
import sys
import time

from impacket.smb3structs import (SMB2_DIALECT_30, SMB2_FLAGS_SIGNED, SMB2_SESSION_FLAG_ENCRYPT_DATA, FILE_READ_DATA, FILE_WRITE_DATA,
                                  FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_OVERWRITE_IF, FILE_OPEN)
from impacket.smbconnection import SMBConnection

MIB = 1024 * 1024
port = int(os.environ["SMBKIT_PORT"])
share = os.environ["SMBKIT_SHARE"]


def connect():
    conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port, preferredDialect=SMB2_DIALECT_30)
    # Sign although the server does not require it (impacket then signs
    # every request after the session setup).
    conn._SMBConnection._Connection["RequireSigning"] = True
    conn.login(os.environ["SMBKIT_USER"], os.environ["SMBKIT_PASS"])
    smb = conn._SMBConnection
    assert smb._Session["SigningActivated"], "impacket does not sign"
    # impacket encrypts every 3.0 session the server can encrypt; this
    # test is about signed messages, and the share does not require it.
    smb._Session["SessionFlags"] &= ~SMB2_SESSION_FLAG_ENCRYPT_DATA
    return conn


good = os.urandom(MIB)
conn = connect()
smb = conn._SMBConnection
tid = conn.connectTree(share)
fid = smb.create(tid, "signed-good.bin", FILE_READ_DATA | FILE_WRITE_DATA, FILE_SHARE_READ, 0, FILE_OVERWRITE_IF, 0)
n = smb.write(tid, fid, good, 0, len(good))
if n != len(good):
    sys.exit("signed 1 MiB WRITE: %r bytes written" % (n,))
smb.close(tid, fid)

# The connection that dies mid-body.
conn2 = connect()
smb2 = conn2._SMBConnection
tid2 = conn2.connectTree(share)
fid2 = smb2.create(tid2, "signed-cut.bin", FILE_READ_DATA | FILE_WRITE_DATA, FILE_SHARE_READ | FILE_SHARE_WRITE, 0,
                   FILE_OVERWRITE_IF, 0)
sent = {}
nb = smb2._NetBIOSSession


def send_part(data):
    sent["magic"] = data[:4]
    sent["flags"] = int.from_bytes(data[16:20], "little")
    sock = nb.get_socket()
    sock.sendall(len(data).to_bytes(4, "big") + data[:600000])
    sent["len"] = len(data)


nb.send_packet = send_part
smb2.write(tid2, fid2, os.urandom(MIB), 0, MIB, waitAnswer=False)
if not sent or sent["magic"] != b"\xfeSMB" or not sent["flags"] & SMB2_FLAGS_SIGNED or sent["len"] < MIB:
    sys.exit("the cut WRITE was not a signed 1 MiB message: %r" % (sent,))
time.sleep(0.5)   # the server receives the first chunks and parks the job
nb.get_socket().close()
time.sleep(0.5)

conn3 = connect()
smb3 = conn3._SMBConnection
tid3 = conn3.connectTree(share)
fid3 = smb3.create(tid3, "signed-good.bin", FILE_READ_DATA, FILE_SHARE_READ, 0, FILE_OPEN, 0)
back = smb3.read(tid3, fid3, 0, MIB)
if back != good:
    sys.exit("signed-good.bin holds %d bytes, not what was written" % len(back))
smb3.close(tid3, fid3)
size = conn3.listPath(share, "signed-cut.bin")[0].get_filesize()
if size:
    sys.exit("signed-cut.bin holds %d bytes of a WRITE that never arrived whole" % size)
print("ok: signed 1 MiB WRITE written; cut signed WRITE wrote nothing; server still serves")
