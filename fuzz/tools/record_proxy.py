# Records SMB frames between a client and smbkitd: listens on LPORT, forwards
# to 127.0.0.1:SPORT, appends each frame to OUT as "C" or "S" + 4-byte len + msg.
import socket, struct, sys, threading
LPORT, SPORT, OUT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('127.0.0.1', LPORT)); ls.listen(16)
def pump(src, dst, tag, out):
    buf = b''
    while True:
        try: d = src.recv(65536)
        except OSError: d = b''
        if not d:
            try: dst.shutdown(socket.SHUT_WR)
            except OSError: pass
            return
        dst.sendall(d); buf += d
        while len(buf) >= 4:
            n = struct.unpack('>I', buf[:4])[0] & 0xffffff
            if len(buf) < 4 + n: break
            with lock:
                out.write(tag + struct.pack('<I', n) + buf[4:4+n]); out.flush()
            buf = buf[4+n:]
cid = 0
while True:
    c, _ = ls.accept(); cid += 1
    s = socket.create_connection(('127.0.0.1', SPORT))
    out = open('%s.%d' % (OUT, cid), 'wb')
    threading.Thread(target=pump, args=(c, s, b'C', out), daemon=True).start()
    threading.Thread(target=pump, args=(s, c, b'S', out), daemon=True).start()
