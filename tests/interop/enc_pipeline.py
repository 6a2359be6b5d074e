#!/usr/bin/python3
"""Pipelined encrypted requests, sent back to back in one burst.

smbkitd decrypts a large encrypted message on an I/O worker while its loop
goes on receiving, and dispatches nothing that arrived after it until it
has been dispatched itself (dispatch.c, dispatch_large_message).  This
sends, without waiting for any response, 1 MiB WRITEs interleaved with
small WRITEs and READs, all encrypted (impacket: AES-128-CCM, SMB 3.0), so
that large frames complete while an earlier one is still being decrypted
and small frames queue behind them.  Every request must be answered with
success, and the file must then hold exactly what was written.

Environment: SMBKIT_PORT, SMBKIT_USER, SMBKIT_PASS, SMBKIT_SHARE (a share
that requires encryption).  Exit 0 on success."""
import os
import struct
import sys

from impacket.smb3structs import (SMB2_DIALECT_30, SMB2_READ, SMB2_WRITE, SMB2Read, SMB2Read_Response,
                                  SMB2Write, SMB2Write_Response, FILE_READ_DATA, FILE_WRITE_DATA,
                                  FILE_SHARE_READ, FILE_OVERWRITE_IF)
from impacket.nt_errors import STATUS_SUCCESS
from impacket.smbconnection import SMBConnection

MIB = 1024 * 1024
port = int(os.environ["SMBKIT_PORT"])
conn = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port, preferredDialect=SMB2_DIALECT_30)
conn.login(os.environ["SMBKIT_USER"], os.environ["SMBKIT_PASS"])
smb = conn._SMBConnection
tid = conn.connectTree(os.environ["SMBKIT_SHARE"])
assert smb._Session["TreeConnectTable"][tid]["EncryptData"], "the share does not require encryption"
fid = smb.create(tid, "pipeline.bin", FILE_READ_DATA | FILE_WRITE_DATA, FILE_SHARE_READ, 0, FILE_OVERWRITE_IF, 0)

# A region written (and answered) before the burst, read back inside it.
mark = b"Z" * 4096
smb.write(tid, fid, mark, 8 * MIB, len(mark))
# A few requests to let the credit window grow (each asks for 127).
for _ in range(4):
    smb.read(tid, fid, 8 * MIB, 16)


def pattern(tag, n):
    return (tag * (n // len(tag) + 1))[:n]


writes = [(0, pattern(b"A1", MIB)), (MIB, pattern(b"B2", MIB)), (2 * MIB, pattern(b"c", 4096)),
          (3 * MIB, pattern(b"D4", MIB)), (2 * MIB + 4096, pattern(b"e", 100))]
# The burst: W, W, R, W(small), W, R, W(small), in this order.
order = [("w", 0), ("w", 1), ("r", None), ("w", 2), ("w", 3), ("r", None), ("w", 4)]

nb = smb._NetBIOSSession
frames = []
real_send = nb.send_packet
nb.send_packet = frames.append   # collect the encrypted messages instead of sending them
sent = []                        # (message id, kind, index)
for kind, i in order:
    packet = smb.SMB_PACKET()
    packet["TreeID"] = tid
    if kind == "w":
        off, data = writes[i]
        packet["Command"] = SMB2_WRITE
        packet["CreditCharge"] = 1 + (len(data) - 1) // 65536
        req = SMB2Write()
        req["FileID"] = fid
        req["Length"] = len(data)
        req["Offset"] = off
        req["WriteChannelInfoOffset"] = 0
        req["Buffer"] = data
    else:
        packet["Command"] = SMB2_READ
        packet["CreditCharge"] = 1
        req = SMB2Read()
        req["Padding"] = 0x50
        req["FileID"] = fid
        req["Length"] = len(mark)
        req["Offset"] = 8 * MIB
    packet["Data"] = req
    mid = smb.sendSMB(packet)
    # sendSMB advances the message id by one; a multi-credit request uses
    # CreditCharge ids (MS-SMB2 3.2.4.1.5).
    smb._Connection["SequenceWindow"] += packet["CreditCharge"] - 1
    sent.append((mid, kind, i))
nb.send_packet = real_send
window = smb._Connection["SequenceWindow"]
burst = b"".join(struct.pack(">I", len(f)) + f for f in frames)
print("burst: %d messages, %d bytes, largest frame %d" % (len(frames), len(burst), max(map(len, frames))))
nb.get_socket().sendall(burst)

ok = True
for mid, kind, i in sent:
    ans = smb.recvSMB(mid)
    if ans["Status"] != STATUS_SUCCESS:
        print("message %d (%s) answered %#x" % (mid, kind, ans["Status"]))
        ok = False
        continue
    if kind == "w":
        count = SMB2Write_Response(ans["Data"])["Count"]
        if count != len(writes[i][1]):
            print("WRITE %d wrote %d of %d" % (i, count, len(writes[i][1])))
            ok = False
    elif SMB2Read_Response(ans["Data"])["Buffer"] != mark:
        print("READ in the burst returned other data")
        ok = False
# recvSMB added each charge again: back to the ids actually used.
smb._Connection["SequenceWindow"] = window

expect = bytearray(4 * MIB)
for off, data in writes:
    expect[off:off + len(data)] = data
back = b""
while len(back) < len(expect):
    back += smb.read(tid, fid, len(back), min(MIB, len(expect) - len(back)))
if back != bytes(expect):
    first = next(k for k in range(len(expect)) if back[k:k + 1] != expect[k:k + 1])
    print("file content differs from offset %d" % first)
    ok = False
smb.close(tid, fid)
conn.deleteFile(os.environ["SMBKIT_SHARE"], "pipeline.bin")
print("all answered, content ok" if ok else "FAILED")
sys.exit(0 if ok else 1)
