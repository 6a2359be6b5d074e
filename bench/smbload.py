#!/usr/bin/python3
"""Load generators and helpers for bench/run.sh (run with /usr/bin/python3,
which has impacket).

Subcommands (every result is printed as one line "RESULT key=value ..."
so the shell driver can grep it; errors go to stderr and exit non-zero):

  mkfiles DIR COUNT SIZE PREFIX   create COUNT files of SIZE bytes locally
  idle    HOST PORT USER PASS N   open N connections (NEGOTIATE, SESSION_SETUP,
                                  TREE_CONNECT with impacket), report when all
                                  are up, then hold them until stdin closes
  mix     HOST PORT USER PASS SHARE NCLIENTS SECONDS
                                  NCLIENTS forked processes, one connection
                                  each, looping open/read/close and
                                  open/query-info/close on a fixed file set;
                                  prints ops/s and latency percentiles
  memcpy  MIB ROUNDS              user-space copy bandwidth (bytearray slice
                                  assignment = one memcpy per round)
  mem     PID                     RSS and PSS of PID and all its descendants
  table   RESULTS.TSV             the markdown table from the driver's TSV
"""
import os
import resource
import statistics
import sys
import time


def fail(msg):
    print("smbload: " + msg, file=sys.stderr)
    sys.exit(1)


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def connect(host, port, user, password, share=None):
    from impacket.smbconnection import SMBConnection
    from impacket import smb3structs
    # impacket 0.10 speaks SMB 3.0 at most reliably (its 3.1.1 negotiate
    # contexts are incomplete); the same dialect is used for both servers.
    conn = SMBConnection(host, host, sess_port=int(port), timeout=60,
                         preferredDialect=smb3structs.SMB2_DIALECT_30)
    conn.login(user, password)
    tid = conn.connectTree(share) if share else None
    return conn, tid


def cmd_mkfiles(d, count, size, prefix):
    os.makedirs(d, exist_ok=True)
    data = b"x" * int(size)
    for i in range(int(count)):
        fd = os.open(os.path.join(d, "%s%06d" % (prefix, i)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        if data:
            os.write(fd, data)
        os.close(fd)
    print("RESULT files=%d" % int(count))


def cmd_idle(host, port, user, password, n):
    raise_nofile()
    n = int(n)
    conns = []
    t0 = time.monotonic()
    for i in range(n):
        try:
            conns.append(connect(host, port, user, password, "IPC$")[0])
        except Exception as e:  # report how far we got
            fail("idle: connection %d of %d failed: %r" % (i + 1, n, e))
    print("RESULT up=%d seconds=%.2f" % (len(conns), time.monotonic() - t0), flush=True)
    # Hold them until the driver has measured the server and closes stdin.
    sys.stdin.read()
    for c in conns:
        try:
            c.close()
        except Exception:
            pass


def mix_worker(host, port, user, password, share, files, seconds, start_at, wfd, seed):
    from impacket.smbconnection import SMBConnection  # noqa: F401 (imported in parent too)
    from impacket.smb3structs import FILE_READ_DATA, FILE_READ_ATTRIBUTES, FILE_SHARE_READ, FILE_SHARE_WRITE
    import random
    rnd = random.Random(seed)
    lat = []
    errors = 0
    try:
        conn, tid = connect(host, port, user, password, share)
    except Exception as e:
        os.write(wfd, ("ERR connect %r\n" % e).encode())
        os._exit(1)
    smb3 = conn.getSMBServer()
    while time.time() < start_at:
        time.sleep(0.005)
    end = start_at + seconds
    while True:
        now = time.perf_counter()
        if time.time() >= end:
            break
        name = files[rnd.randrange(len(files))]
        try:
            if rnd.random() < 0.5:
                fid = conn.openFile(tid, name, desiredAccess=FILE_READ_DATA,
                                    shareMode=FILE_SHARE_READ | FILE_SHARE_WRITE)
                conn.readFile(tid, fid, 0, 65536)
                conn.closeFile(tid, fid)
            else:
                fid = conn.openFile(tid, name, desiredAccess=FILE_READ_ATTRIBUTES,
                                    shareMode=FILE_SHARE_READ | FILE_SHARE_WRITE)
                smb3.queryInfo(tid, fid)
                conn.closeFile(tid, fid)
        except Exception:
            errors += 1
            if errors > 20:
                break
            continue
        lat.append(time.perf_counter() - now)
    try:
        conn.close()
    except Exception:
        pass
    os.write(wfd, ("OK %d %s\n" % (errors, " ".join("%.6f" % x for x in lat))).encode())
    os._exit(0)


def cmd_mix(host, port, user, password, share, nclients, seconds):
    raise_nofile()
    import impacket.smbconnection  # noqa: F401  load before forking
    nclients, seconds = int(nclients), float(seconds)
    files = ["mix/f%02d" % i for i in range(16)]
    # Forked children connect first; all start together once everyone had
    # time to log in (connect time is not measured).
    start_at = time.time() + 2.0 + nclients * 0.1
    pipes, pids = [], []
    for i in range(nclients):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            mix_worker(host, port, user, password, share, files, seconds, start_at, w, i)
        os.close(w)
        pipes.append(r)
        pids.append(pid)
    lat, errors, failed = [], 0, 0
    for r in pipes:
        chunks = []
        while True:
            b = os.read(r, 1 << 20)
            if not b:
                break
            chunks.append(b)
        os.close(r)
        text = b"".join(chunks).decode()
        if not text.startswith("OK "):
            failed += 1
            print("smbload: mix worker: %s" % text.strip()[:200], file=sys.stderr)
            continue
        parts = text.split()
        errors += int(parts[1])
        lat.extend(float(x) for x in parts[2:])
    for pid in pids:
        os.waitpid(pid, 0)
    if failed or not lat:
        fail("mix: %d of %d clients failed, %d ops" % (failed, nclients, len(lat)))
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000.0
    print("RESULT ops=%d ops_per_s=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d"
          % (len(lat), len(lat) / seconds, p(0.50), p(0.99), errors))
    if errors:
        fail("mix: %d operations failed" % errors)


def cmd_memcpy(mib, rounds):
    n = int(mib) << 20
    src = bytearray(os.urandom(1 << 20)) * int(mib)
    dst = bytearray(n)
    dst[:] = src  # fault the pages in
    best = 0.0
    for _ in range(int(rounds)):
        t = time.perf_counter()
        dst[:] = src
        dt = time.perf_counter() - t
        best = max(best, n / dt)
    print("RESULT memcpy_gib_s=%.2f" % (best / (1 << 30)))


def descendants(root):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [int(root)]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cmd_mem(pid):
    rss = pss = nproc = 0
    for p in descendants(pid):
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
            nproc += 1
        except OSError:
            continue
    print("RESULT procs=%d rss_kib=%d pss_kib=%d" % (nproc, rss, pss))


def fmt(v):
    if v is None:
        return "n/a"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def cmd_table(tsv):
    # TSV columns: mode workload unit better kit smbd load_before load_after note
    rows = []
    with open(tsv) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            rows.append(line.rstrip("\n").split("\t"))
    print("| mode | workload | unit | smbkitd | smbd | smbkitd/smbd | better | load before→after |")
    print("|---|---|---|---:|---:|---:|---|---|")
    for r in rows:
        mode, wl, unit, better, kit, smbd, lb, la = r[:8]
        k = float(kit) if kit not in ("", "n/a") else None
        s = float(smbd) if smbd not in ("", "n/a") else None
        ratio = "n/a" if k is None or s is None or s == 0 else "%.2f" % (k / s)
        print("| %s | %s | %s | %s | %s | %s | %s | %s→%s |"
              % (mode, wl, unit, fmt(k), fmt(s), ratio, better, lb, la))


def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    cmds = {"mkfiles": cmd_mkfiles, "idle": cmd_idle, "mix": cmd_mix,
            "memcpy": cmd_memcpy, "mem": cmd_mem, "table": cmd_table}
    if argv[1] not in cmds:
        fail("unknown subcommand %s" % argv[1])
    cmds[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
