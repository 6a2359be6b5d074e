#!/usr/bin/python3
"""Stress scenarios for smbkitd's object lifetimes (issue 4, "How it is checked").

    stress.py SCENARIO [--seconds N] [--procs N] [--seed N]

SCENARIO:
  disconnect  many client processes log in, open files with various share
              modes, take byte-range locks (some blocking and left pending),
              request leases and oplocks on files others hold (breaks in
              flight between connections and loop threads), write, and drop
              the TCP connection abruptly (RST, or FIN without LOGOFF) at a
              random point: between requests, right after a compound, after
              half a frame, with a CREATE waiting for a break.  Every worker
              also keeps a private file whose contents it verifies each round.
  trees       one session with two tree connects and opens, pending LOCKs,
              pending CHANGE_NOTIFYs and a CREATE waiting for a lease break on
              both; both TREE_DISCONNECTs sent in one compound or back to back
              while WRITE/READ/LOCK/CREATE on those trees are still in flight,
              LOGOFF racing them.  Every request must get its final answer,
              the session must be usable again, and the files free.
  durable     durable v2 handles with short timeouts are dropped; other
              clients reconnect right around the expiry while third clients
              open the same files with conflicting share modes.  At most one
              of the reconnect and the conflicting open may hold the file.
              Reports "skip" when the server grants no durable handles.
  reconnect-break
              a conflicting open while a durable reconnect is half done (a
              debug smbkitd with SMBKIT_TEST_RECONNECT_PAUSE_MS holds the
              window open): the lease break must reach the reconnected
              client rather than time out.  Three rounds per process.
  grant-break another client's CREATE breaks an oplock whose CREATE has
              granted it but not answered yet (a debug smbkitd with
              SMBKIT_TEST_GRANT_PAUSE_MS holds that window open): the break
              must follow the answer rather than time out.  Six rounds per
              process, oplocks and leases in turn.
  create-race a name appears between a CREATE's lookup and its create (a
              debug smbkitd with SMBKIT_TEST_CREATE_PAUSE_MS holds that
              window open; the test makes the name in the share directory):
              OPEN_IF, OVERWRITE_IF and SUPERSEDE must open what is there
              now, FILE_CREATE must fail with OBJECT_NAME_COLLISION.  Five
              rounds per process, one per disposition.
  resilient   FSCTL_LMR_REQUEST_RESILIENCY: the open outlives its
              connection for its timeout (share mode kept, DHnC reclaims it
              with its data) and is closed after it.  One round per process.
  app-instance
              AppInstanceId: a second client's open replaces the first
              client's (disconnected durable, then live) open at once.
  stream      streamed WRITEs: bodies that trickle, refused ones,
              connections dropped mid-body, stalled bodies.
  io-close    a dropped client's WRITE still running (held by a debug
              smbkitd with SMBKIT_TEST_WRITE_PAUSE): its open's close waits
              for it; another client's exclusive open is refused meanwhile
              and its data is not overwritten afterwards.  Two rounds.

Connection parameters come from SMBKIT_HOST/PORT/USER/PASS/SHARE_NAME
(tests/interop/lib.sh).  Prints "ok - ..." / "not ok - ..." / "ok - ... # skip"
lines; exits 1 on failure.  A Timeout (no answer in 20 s) is a failure: the
server is wedged, and the first worker to see it has gdb dump the server's
threads (SMBKIT_STRESS_DUMP, SMBKIT_STRESS_SERVER_PID; run.sh prints them).
"""
import argparse
import multiprocessing as mp
import os
import random
import struct
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smb2raw as s  # noqa: E402
from smb2raw import Dropped, Timeout  # noqa: E402

HOST = os.environ.get("SMBKIT_HOST", "127.0.0.1")
PORT = int(os.environ.get("SMBKIT_PORT", "445"))
USER = os.environ.get("SMBKIT_USER", "testuser")
PASS = os.environ.get("SMBKIT_PASS", "")
SHARE = os.environ.get("SMBKIT_SHARE_NAME", "share")

NSHARED = 6   # shared files all disconnect workers fight over
BLOCK = 4096  # private-file block each round writes


def connect(client_guid=None):
    c = s.Conn(HOST, PORT, client_guid=client_guid)
    c.login(USER, PASS)
    return c, c.tree_connect(HOST, SHARE)


def hx(st):
    return "0x%08x" % st


def wedged(rounds):
    """The error line for a request with no answer in 20 s, after leaving
    the evidence: the first worker to see a wedge in this run has gdb write
    every smbkitd thread's stack (SMBKIT_STRESS_DUMP, from run.sh) while
    the server is still stuck (it may move on once this client hangs up)."""
    dump, pid = os.environ.get("SMBKIT_STRESS_DUMP"), os.environ.get("SMBKIT_STRESS_SERVER_PID")
    if dump and pid:
        try:
            fd = os.open(dump, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            fd = None   # another worker is writing it
        if fd is not None:
            import subprocess
            with os.fdopen(fd, "w") as f:
                f.write("# smbkitd %s at %s, seen by worker pid %d\n" % (pid, time.strftime("%H:%M:%S"), os.getpid()))
                f.flush()
                try:
                    subprocess.run(["gdb", "-p", pid, "-batch", "-nx",
                                    # smbkitd logs the files with waiting CREATEs
                                    "-ex", "call (void)smbd_debug_dump_waits()",
                                    "-ex", "thread apply all bt 25"],
                                   stdout=f, stderr=subprocess.STDOUT, timeout=120)
                except (OSError, subprocess.TimeoutExpired) as e:
                    f.write("# gdb failed: %r\n" % e)
    return "round %d: no answer within 20s (server wedged?)" % rounds


# ====================================================================== disconnect storm
SHARED_OK = {0, s.STATUS_SHARING_VIOLATION}
LOCK_OK = {0, s.STATUS_LOCK_NOT_GRANTED, s.STATUS_FILE_LOCK_CONFLICT, s.STATUS_CANCELLED,
           s.STATUS_RANGE_NOT_LOCKED, s.STATUS_FILE_CLOSED,
           s.STATUS_ACCESS_DENIED}   # a handle opened without read or write data access
IO_OK = {0, s.STATUS_FILE_LOCK_CONFLICT, s.STATUS_ACCESS_DENIED}


def storm_round(rng, idx, c, tid, errors):
    """Random work on the shared files; returns how the round should end."""
    handles = []      # (fid, access)
    waiting = []      # mids of requests left pending on purpose
    steps = rng.randint(3, 12)
    drop_at = rng.randint(0, steps)   # == steps: finish the round cleanly
    for step in range(steps):
        if step == drop_at:
            return "drop"
        what = rng.random()
        name = "shared%d.dat" % rng.randrange(NSHARED)
        if what < 0.35 or not handles:
            access = rng.choice([s.FILE_READ_DATA, s.FILE_READ_DATA | s.FILE_WRITE_DATA,
                                 s.FILE_WRITE_DATA | s.DELETE, s.FILE_READ_ATTRIBUTES])
            share = rng.choice([0, s.SHARE_READ, s.SHARE_READ | s.SHARE_WRITE, 7])
            ctxs, oplock = (), rng.choice([s.OPLOCK_NONE, s.OPLOCK_II, s.OPLOCK_BATCH, s.OPLOCK_LEASE])
            if oplock == s.OPLOCK_LEASE:
                ctxs = (s.lease_v2_ctx(os.urandom(16), rng.choice([1, 3, 5, 7])),)
            body = c.create_body(name, access | s.FILE_READ_ATTRIBUTES, share, s.FILE_OPEN_IF, oplock=oplock,
                                 contexts=ctxs)
            mid = c.send(s.CREATE, body, tid)
            if rng.random() < 0.15:
                # Leave the CREATE in flight (it may be waiting for a break
                # of another client's lease) and drop right away.
                return "drop"
            r = c.wait(mid)
            if r.status not in SHARED_OK:
                errors.append("create %s: %s" % (name, hx(r.status)))
            elif r.status == 0:
                fid, _, ctx = c.parse_create(r)
                c.note_create(tid, fid, ctx)
                handles.append((fid, access))
        elif what < 0.55:
            fid, _ = rng.choice(handles)
            off = rng.randrange(0, 64, 8)
            flags = rng.choice([s.LOCK_EXCLUSIVE, s.LOCK_SHARED])
            blocking = rng.random() < 0.5
            if not blocking:
                flags |= s.LOCK_FAIL_IMMEDIATELY
            mid = c.send(s.LOCK, c.lock_body(fid, [(off, 8, flags)]), tid)
            if blocking:
                try:
                    r = c.wait(mid, 0.2)
                except Timeout:
                    if rng.random() < 0.5:
                        waiting.append(mid)      # stays pending until we leave
                        continue
                    c.cancel(mid)
                    r = c.wait(mid)
            else:
                r = c.wait(mid)
            if r.status not in LOCK_OK:
                errors.append("lock: %s" % hx(r.status))
        elif what < 0.75:
            fid, _ = rng.choice(handles)
            r = c.call(s.WRITE, c.write_body(fid, rng.randrange(0, 128), os.urandom(rng.randint(1, 256))), tid)
            if r.status not in IO_OK:
                errors.append("write: %s" % hx(r.status))
        elif what < 0.85:
            # CREATE + WRITE + CLOSE as one related compound (MS-SMB2 3.2.4.1.4).
            all1 = b"\xff" * 16
            parts = [(s.CREATE, c.create_body(name, s.FILE_READ_DATA | s.FILE_WRITE_DATA, 7, s.FILE_OPEN_IF), tid, 0),
                     (s.WRITE, c.write_body(all1, 200, b"compound"), tid, s.FLAG_RELATED),
                     (s.CLOSE, c.close_body(all1), tid, s.FLAG_RELATED)]
            cut = rng.random()
            if cut < 0.25:
                c.send_compound(parts, partial=rng.randint(5, 150))   # half a frame, then gone
                return "drop"
            mids = c.send_compound(parts)
            if cut < 0.5:
                return "drop"
            for m in mids:
                r = c.wait(m)
                if r.status not in IO_OK | SHARED_OK | {s.STATUS_FILE_CLOSED}:
                    errors.append("compound cmd %d: %s" % (r.command, hx(r.status)))
        else:
            fid, _ = handles.pop(rng.randrange(len(handles)))
            st = c.close(tid, fid)
            if st:
                errors.append("close: %s" % hx(st))
    if waiting and rng.random() < 0.5:
        return "drop"   # with blocking locks still pending
    for m in waiting:
        c.cancel(m)
    for m in waiting:
        r = c.wait(m)
        if r.status not in LOCK_OK:
            errors.append("pending lock: %s" % hx(r.status))
    return rng.choice(["drop", "fin", "logoff"])


def storm_worker(idx, deadline, seed, out):
    rng = random.Random(seed)
    errors, rounds = [], 0
    private = "private%02d.dat" % idx
    expected = None
    while time.time() < deadline and len(errors) < 5:
        rounds += 1
        c = None
        try:
            c, tid = connect()
            # The private file: nobody else touches it, so its contents are
            # exactly what this worker last wrote.
            st, fid, _, _ = c.create(tid, private, share=s.SHARE_READ, oplock=s.OPLOCK_BATCH)
            # The previous round dropped its connection abruptly; until the
            # server's loop that owned it has seen the reset, that round's
            # open still holds the file (Windows behaves the same).  So a
            # sharing violation is retried for a bounded time: an open that
            # outlived its connection for good still fails the round.
            retry_until = time.time() + 5
            while st == 0xC0000043 and time.time() < retry_until:
                time.sleep(0.05)
                st, fid, _, _ = c.create(tid, private, share=s.SHARE_READ, oplock=s.OPLOCK_BATCH)
            if st:
                errors.append("open %s: %s" % (private, hx(st)))
                c.abort()
                continue
            if expected is not None:
                st, data = c.read(tid, fid, 0, BLOCK)
                if st or data != expected:
                    errors.append("round %d: %s holds other data than written (%s, %d bytes)" %
                                  (rounds, private, hx(st), len(data)))
            block = rng.randbytes(BLOCK)
            st = c.write(tid, fid, 0, block)
            if st:
                errors.append("write %s: %s" % (private, hx(st)))
            else:
                expected = block
            if rng.random() < 0.5:
                c.close(tid, fid)   # else it is closed by the teardown
            end = storm_round(rng, idx, c, tid, errors)
            if end == "drop":
                c.abort()
            elif end == "fin":
                c.close_fin()
            else:
                if c.logoff() not in (0,):
                    errors.append("logoff failed")
                c.abort()
        except Timeout:
            errors.append(wedged(rounds))
        except Dropped:
            errors.append("round %d: the server dropped the connection" % rounds)
        except Exception as e:   # noqa: BLE001 - any surprise is a finding
            errors.append("round %d: %r" % (rounds, e))
        finally:
            if c:
                c.abort()
    out.put((idx, rounds, errors, private, expected))


# ====================================================================== tree teardown
def trees_round(rng, idx, rnd, errors):
    c, t1 = connect()
    t2 = c.tree_connect(HOST, SHARE)
    holder, htid = connect()
    mids = []
    try:
        per_tree = {}
        for t in (t1, t2):
            name = "tree%02d_%d.dat" % (idx, t)
            _, fa, _, _ = c.create(t, name)
            _, fb, _, _ = c.create(t, name)
            _, d, _, _ = c.create(t, "", access=s.FILE_READ_DATA, options=s.FILE_DIRECTORY_FILE)
            if c.call(s.LOCK, c.lock_body(fa, [(0, 10, s.LOCK_EXCLUSIVE)]), t).status:
                errors.append("lock on tree %d failed" % t)
            per_tree[t] = (name, fa, fb, d)
        # Another connection holds an RWH lease on a file both trees open
        # next, so those CREATEs wait for its break acknowledgement.
        hname = "treeh%02d.dat" % idx
        st, hfid, _, _ = holder.create(htid, hname, oplock=s.OPLOCK_LEASE,
                                       contexts=(s.lease_v2_ctx(os.urandom(16), 7),))
        if st:
            errors.append("holder open: %s" % hx(st))
        # The burst: nothing is waited for until everything is sent.
        for t, (name, fa, fb, d) in per_tree.items():
            mids.append(c.send(s.LOCK, c.lock_body(fb, [(0, 10, s.LOCK_EXCLUSIVE)]), t))     # pending
            mids.append(c.send(s.CHANGE_NOTIFY, c.notify_body(d), t))                        # pending
            mids.append(c.send(s.WRITE, c.write_body(fa, 0, os.urandom(4096)), t))
            mids.append(c.send(s.READ, c.read_body(fb, 20, 100), t))
            mids.append(c.send(s.CREATE, c.create_body(hname, s.FILE_READ_DATA | s.FILE_WRITE_DATA, 7,
                                                       s.FILE_OPEN_IF), t))                  # waits for the break
            mids.append(c.send(s.CREATE, c.create_body("treenew%02d_%d_%d.dat" % (idx, t, rnd),
                                                       s.FILE_READ_DATA | s.FILE_WRITE_DATA, 7, s.FILE_OPEN_IF,
                                                       oplock=s.OPLOCK_BATCH), t))
        how = rng.choice(["compound", "compound+logoff", "b2b", "b2b+logoff", "logoff"])
        td = c.tree_disconnect_body()
        if how.startswith("compound"):
            mids += c.send_compound([(s.TREE_DISCONNECT, td, t1, 0), (s.TREE_DISCONNECT, td, t2, 0)])
        elif how.startswith("b2b"):
            mids.append(c.send(s.TREE_DISCONNECT, td, t1))
            mids.append(c.send(s.TREE_DISCONNECT, td, t2))
        logged_off = how.endswith("logoff")
        if logged_off:
            mids.append(c.send(s.LOGOFF, td))
        if rng.random() < 0.2:
            c.abort()      # and gone, with all of that in flight
            return
        holder.poll(0.05)  # acknowledge the break now
        for m in mids:
            c.wait(m)      # every request gets its final answer
        if not logged_off:
            r = c.call(s.CREATE, c.create_body("x", s.FILE_READ_DATA, 7, s.FILE_OPEN_IF), t1)
            if r.status != s.STATUS_NETWORK_NAME_DELETED:
                errors.append("%s: CREATE on a disconnected tree: %s" % (how, hx(r.status)))
            c.logoff()
        # The same connection logs in again; every handle of the old session
        # is gone, so exclusive opens of its files succeed.
        c.session_id = 0
        c.session_setup(USER, PASS)
        t3 = c.tree_connect(HOST, SHARE)
        for t, (name, *_rest) in per_tree.items():
            st, fid, _, _ = c.create(t3, name, share=0)
            if st:
                errors.append("%s: %s still open after teardown: %s" % (how, name, hx(st)))
            else:
                c.close(t3, fid)
        if rng.random() < 0.5:
            c.logoff()
    finally:
        c.abort()
        holder.abort()


def trees_worker(idx, deadline, seed, out):
    rng = random.Random(seed)
    errors, rounds = [], 0
    while time.time() < deadline and len(errors) < 5:
        rounds += 1
        try:
            trees_round(rng, idx, rounds, errors)
        except Timeout:
            errors.append(wedged(rounds))
        except Dropped:
            errors.append("round %d: the server dropped the connection" % rounds)
        except Exception as e:   # noqa: BLE001
            errors.append("round %d: %r" % (rounds, e))
    out.put((idx, rounds, errors, None, None))


# ====================================================================== durable scavenger
def durable_granted():
    c, tid = connect()
    try:
        st, fid, level, ctxs = c.create(tid, "durable-probe.dat", oplock=s.OPLOCK_LEASE,
                                        contexts=(s.lease_v2_ctx(os.urandom(16), 7),
                                                  s.dh2q_ctx(os.urandom(16), 1000)))
        ok = st == 0 and b"DH2Q" in ctxs
        if st == 0:
            c.close(tid, fid)
        return ok
    finally:
        c.abort()


def durable_round(rng, idx, rnd, errors):
    guid = os.urandom(16)
    key = os.urandom(16)
    cguid = uuid.uuid4().bytes
    name = "durable%02d.dat" % idx
    timeout_ms = rng.randint(300, 1200)
    a, atid = connect(guid)
    st, fid, _, ctxs = a.create(a_tid := atid, name, share=s.SHARE_READ, oplock=s.OPLOCK_LEASE,
                                contexts=(s.lease_v2_ctx(key, 7), s.dh2q_ctx(cguid, timeout_ms)))
    if st == s.STATUS_SHARING_VIOLATION:
        # The previous round's reconnected handle, dropped again, is still
        # a disconnected durable open until its timeout.
        a.abort()
        time.sleep(0.2)
        return
    if st:
        errors.append("durable open: %s" % hx(st))
        a.abort()
        return
    if b"DH2Q" not in ctxs:
        errors.append("durable handle not granted on round %d" % rnd)
        a.abort()
        return
    granted_ms = struct.unpack_from("<I", ctxs[b"DH2Q"], 0)[0] or timeout_ms
    payload = b"durable %d %d " % (idx, rnd) + os.urandom(64)
    if a.write(a_tid, fid, 0, payload):
        errors.append("durable write failed")
    a.abort()
    t0 = time.monotonic()
    expiry = t0 + granted_ms / 1000.0
    result = {}

    def reconnect():
        time.sleep(max(0.0, expiry + rng.uniform(-0.25, 0.25) - time.monotonic()))
        b, btid = connect(guid)
        r = b.call(s.CREATE, b.create_body(name, s.FILE_READ_DATA | s.FILE_WRITE_DATA, s.SHARE_READ, s.FILE_OPEN,
                                           oplock=s.OPLOCK_LEASE,
                                           contexts=(s.lease_v2_ctx(key, 7), s.dh2c_ctx(fid, cguid))), btid)
        result["b"] = (r.status, time.monotonic())
        if r.status == 0:
            bfid, _, bctx = b.parse_create(r)
            b.note_create(btid, bfid, bctx)
            st, data = b.read(btid, bfid, 0, len(payload))
            if st or data != payload:
                errors.append("reconnected handle reads other data (%s)" % hx(st))
            # Hold the handle until C is done, answering breaks meanwhile.
            end = time.monotonic() + 10
            while not result["c_done"].is_set() and time.monotonic() < end:
                b.poll(0.02)
            result["b_breaks"] = len(b.breaks)
        result["b_release"] = time.monotonic()
        b.abort()

    def conflicting():
        time.sleep(max(0.0, expiry + rng.uniform(-0.25, 0.25) - time.monotonic()))
        cc, ctid = connect()
        got = None
        end = time.monotonic() + 0.6
        while time.monotonic() < end and got is None:
            asked = time.monotonic()
            st, cfid, _, _ = cc.create(ctid, name, access=s.FILE_READ_DATA | s.FILE_WRITE_DATA, share=0,
                                       disposition=s.FILE_OPEN)
            if time.monotonic() - asked > 5:
                result["c_slow"] = time.monotonic() - asked
            if st == 0:
                got = time.monotonic()
            elif st != s.STATUS_SHARING_VIOLATION:
                errors.append("conflicting open: %s" % hx(st))
                break
        result["c"] = got
        result["c_done"].set()
        if got is not None:
            # Hold it until the reconnect has answered.
            end = time.monotonic() + 10
            while "b" not in result and time.monotonic() < end:
                time.sleep(0.01)
        cc.abort()

    result["c_done"] = threading.Event()
    th = [threading.Thread(target=reconnect), threading.Thread(target=conflicting)]
    for t in th:
        t.start()
    for t in th:
        t.join(30)
    bst = result.get("b", (None, 0))[0]
    if result.get("c_slow") and bst == 0:
        errors.append("round %d: a conflicting open waited %.1f s while the reconnected client (which saw %d "
                      "break notifications) answered every break: the lease break did not reach the new "
                      "connection" % (rnd, result["c_slow"], result.get("b_breaks", 0)))
    if bst == 0 and result.get("c") is not None and result["c"] < result.get("b_release", 0):
        errors.append("round %d: the durable reconnect and a share-none open both got %s (timeout %d ms; "
                      "reconnect answered at +%.0f ms, conflicting open at +%.0f ms after the drop)" %
                      (rnd, name, granted_ms, (result["b"][1] - t0) * 1000, (result["c"] - t0) * 1000))
    if bst not in (0, s.STATUS_OBJECT_NAME_NOT_FOUND, s.STATUS_SHARING_VIOLATION, s.STATUS_INVALID_PARAMETER,
                   s.STATUS_FILE_CLOSED, None):
        errors.append("round %d: reconnect answered %s" % (rnd, hx(bst)))


def durable_worker(idx, deadline, seed, out):
    rng = random.Random(seed)
    errors, rounds = [], 0
    while time.time() < deadline and len(errors) < 5:
        rounds += 1
        try:
            durable_round(rng, idx, rounds, errors)
        except Timeout:
            errors.append(wedged(rounds))
        except Exception as e:   # noqa: BLE001
            errors.append("round %d: %r" % (rounds, e))
    out.put((idx, rounds, errors, None, None))


def conflicting_opens(name, openers, access, share, disposition):
    """Starts one thread per opener (conn, tid) that opens name and closes
    it again; returns (threads, result), result[i] = (status, seconds)."""
    result = {}

    def conflicting(i, cc, ctid):
        t = time.monotonic()
        st, cfid, _, _ = cc.create(ctid, name, access=access, share=share, disposition=disposition, timeout=60)
        result[i] = (st, time.monotonic() - t)
        if st == 0:
            cc.close(ctid, cfid)

    th = [threading.Thread(target=conflicting, args=(i, cc, ctid)) for i, (cc, ctid) in enumerate(openers)]
    for t in th:
        t.start()
    return th, result


def check_conflicting_opens(rnd, th, result, n, ok, holder, breaks, errors):
    """Joins conflicting_opens' threads: each open must have been answered
    within 5 s (not after the break timeout) with a status in ok."""
    for t in th:
        t.join(60)
    for i in range(n):
        st, took = result.get(i, (None, None))
        if st is None:
            errors.append("round %d: conflicting open %d got no answer" % (rnd, i))
        elif took > 5:
            errors.append("round %d: conflicting open %d waited %.1f s (%s); the %s saw %d breaks: "
                          "the break did not reach it" % (rnd, i, took, hx(st), holder, breaks))
        elif st not in ok:
            errors.append("round %d: conflicting open %d: %s" % (rnd, i, hx(st)))


def reconnect_break_round(idx, rnd, errors):
    """A conflicting open lands while a durable reconnect is between
    re-attaching the open and publishing it (smbkitd debug builds widen that
    window with SMBKIT_TEST_RECONNECT_PAUSE_MS).  The lease break it causes
    must reach the reconnected client, whose acknowledgement lets the open
    finish at once, instead of waiting out the break timeout."""
    guid = os.urandom(16)
    key = os.urandom(16)
    cguid = uuid.uuid4().bytes
    # A new name each round: the last round's handle waits out its
    # durable timeout after its client dropped it.
    name = "rbreak%02d-%d.dat" % (idx, rnd)
    a, atid = connect(guid)
    st, fid, _, ctxs = a.create(atid, name, share=s.SHARE_READ, oplock=s.OPLOCK_LEASE,
                                disposition=s.FILE_OVERWRITE_IF,
                                contexts=(s.lease_v2_ctx(key, 7), s.dh2q_ctx(cguid, 10000)))
    if st or b"DH2Q" not in (ctxs or {}):
        errors.append("round %d: durable open: %s, contexts %s" % (rnd, hx(st), sorted(ctxs)))
        a.abort()
        return
    a.abort()
    time.sleep(0.3)   # the server sees the connection go
    b, btid = connect(guid)
    # smbkitd spreads connections over its event loops by the kernel's
    # hash: of three conflicting openers, one is almost surely served by a
    # loop other than the reconnect's (which the pause blocks).
    openers = [connect() for _ in range(3)]
    mid = b.send(s.CREATE, b.create_body(name, s.FILE_READ_DATA | s.FILE_WRITE_DATA, s.SHARE_READ, s.FILE_OPEN,
                                         oplock=s.OPLOCK_LEASE,
                                         contexts=(s.lease_v2_ctx(key, 7), s.dh2c_ctx(fid, cguid))), btid)
    time.sleep(0.15)  # inside the server's pause
    th, result = conflicting_opens(name, openers, s.FILE_READ_DATA | s.FILE_WRITE_DATA, 0, s.FILE_OPEN)
    r = b.wait(mid)
    if r.status == s.STATUS_OBJECT_NAME_NOT_FOUND:
        pass   # a conflicting open got there first and closed the handle
    elif r.status:
        errors.append("round %d: reconnect: %s" % (rnd, hx(r.status)))
    else:
        bfid, _, bctx = b.parse_create(r)
        b.note_create(btid, bfid, bctx)
    end = time.monotonic() + 15
    while len(result) < len(openers) and time.monotonic() < end:
        b.poll(0.05)
    check_conflicting_opens(rnd, th, result, len(openers), (0, s.STATUS_SHARING_VIOLATION), "reconnected client",
                            len(b.breaks), errors)
    if r.status == 0 and not b.breaks:
        errors.append("round %d: the reconnected client saw no lease break" % rnd)
    b.abort()
    for cc, _ in openers:
        cc.abort()
    time.sleep(0.3)




def grant_break_round(idx, rnd, errors):
    """Another client's CREATE breaks an oplock that a CREATE has granted
    but not yet answered (smbkitd debug builds widen that window with
    SMBKIT_TEST_GRANT_PAUSE_MS for names beginning "grantpause").  No
    connection can carry the break then; it must follow the CREATE's answer
    (server/lease_durable.c lease_open_published), so that the holder's
    acknowledgement lets the conflicting opens finish at once instead of
    waiting out the break timeout."""
    name = "grantpause%02d-%d.dat" % (idx, rnd)
    a, atid = connect()
    a.auto_ack = False   # acknowledged below, once the handle is known
    # Of three conflicting openers, one is almost surely served by a loop
    # other than the holder's (which the pause blocks); see reconnect-break.
    openers = [connect() for _ in range(3)]
    # Odd rounds a batch oplock, even rounds an RWH lease (both break on
    # the conflicting opens below: batch to level II, RWH to RH).
    key = os.urandom(16)
    ctxs = () if rnd % 2 else (s.lease_v2_ctx(key, 7),)
    mid = a.send(s.CREATE, a.create_body(name, s.FILE_READ_DATA | s.FILE_WRITE_DATA, 7, s.FILE_OVERWRITE_IF,
                                         oplock=s.OPLOCK_BATCH if rnd % 2 else s.OPLOCK_LEASE,
                                         contexts=ctxs), atid)
    time.sleep(0.15)  # inside the server's pause
    # OPEN_IF: under load the holder's CREATE may not have made the file
    # yet (then nothing is broken and nothing waits).
    th, result = conflicting_opens(name, openers, s.FILE_READ_DATA, 7, s.FILE_OPEN_IF)
    r = a.wait(mid)
    if r.status:
        errors.append("round %d: the holder's create: %s" % (rnd, hx(r.status)))
    else:
        fid, _, _ = a.parse_create(r)
        seen = 0
        end = time.monotonic() + 15
        while len(result) < len(openers) and time.monotonic() < end:
            a.poll(0.05)
            for b in a.breaks[seen:]:
                if b[0] == "oplock" and b[1] == fid and b[2] != s.OPLOCK_NONE:
                    a.send(s.OPLOCK_BREAK, struct.pack("<HBBI16s", 24, b[2], 0, 0, fid), atid)
                elif b[0] == "lease" and b[1] == key:
                    a.send(s.OPLOCK_BREAK, struct.pack("<HHI16sIQ", 36, 0, 0, key, b[3], 0), atid)
            seen = len(a.breaks)
    check_conflicting_opens(rnd, th, result, len(openers), (0,), "holder", len(a.breaks), errors)
    a.abort()
    for cc, _ in openers:
        cc.abort()


def test_grant_pause():
    try:
        return int(os.environ["SMBKIT_TEST_GRANT_PAUSE_MS"]) > 0
    except (KeyError, ValueError):
        return False


# ====================================================================== create race
FILE_SUPERSEDED, FILE_OPENED, FILE_CREATED, FILE_OVERWRITTEN = 0, 1, 2, 3
STATUS_OBJECT_NAME_COLLISION = 0xC0000035
# (disposition, create options, what the test makes meanwhile, the answer
# MS-FSA 2.1.5.1 gives for a name that exists: status, CreateAction, and
# whether the file keeps its data)
CREATE_RACE_CASES = [
    (s.FILE_OPEN_IF, s.FILE_NON_DIRECTORY_FILE, "file", 0, FILE_OPENED, True),
    (s.FILE_OVERWRITE_IF, s.FILE_NON_DIRECTORY_FILE, "file", 0, FILE_OVERWRITTEN, False),
    (s.FILE_SUPERSEDE, s.FILE_NON_DIRECTORY_FILE, "file", 0, FILE_SUPERSEDED, False),
    (s.FILE_OPEN_IF, s.FILE_DIRECTORY_FILE, "dir", 0, FILE_OPENED, True),
    (s.FILE_CREATE, s.FILE_NON_DIRECTORY_FILE, "file", STATUS_OBJECT_NAME_COLLISION, None, True),
]


def create_race_round(idx, rnd, errors):
    """A CREATE whose lookup found no such name, and the name appears before
    it creates one (smbkitd debug builds hold that window for names
    beginning "createrace" with SMBKIT_TEST_CREATE_PAUSE_MS; here the name
    is made in the share directory, as a local process or another loop's
    client would).  Only FILE_CREATE may fail on an existing name (MS-FSA
    2.1.5.1); the other dispositions must look again and open it
    (server/smb2_create.c, the EEXIST retry)."""
    disp, options, kind, want_status, want_action, keeps = CREATE_RACE_CASES[(rnd - 1) % len(CREATE_RACE_CASES)]
    name = "createrace%02d-%d%s" % (idx, rnd, ".d" if kind == "dir" else ".dat")
    local = os.path.join(os.environ["SMBKIT_SHARE_DIR"], name)
    content = b"made meanwhile %d\n" % rnd
    c, tid = connect()
    access = s.FILE_READ_DATA | s.FILE_READ_ATTRIBUTES | (0 if kind == "dir" else s.FILE_WRITE_DATA)
    mid = c.send(s.CREATE, c.create_body(name, access, 7, disp, options=options), tid)
    time.sleep(0.15)  # inside the server's pause
    c.poll(0)
    if mid in c.pending:
        errors.append("round %d: the CREATE was answered before the name was made: the server's pause "
                      "(SMBKIT_TEST_CREATE_PAUSE_MS) did not hold it" % rnd)
        c.abort()
        return
    if kind == "dir":
        os.mkdir(local, 0o777)
    else:
        fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        os.write(fd, content)
        os.close(fd)
    r = c.wait(mid)
    what = "round %d (disposition %d, %s)" % (rnd, disp, kind)
    if r.status != want_status:
        errors.append("%s: %s, expected %s" % (what, hx(r.status), hx(want_status)))
    elif r.status == 0:
        action, = struct.unpack_from("<I", r.body, 4)
        eof, = struct.unpack_from("<Q", r.body, 48)
        attrs, = struct.unpack_from("<I", r.body, 56)
        fid = bytes(r.body[64:80])
        want_eof = len(content) if keeps and kind == "file" else 0
        if action != want_action:
            errors.append("%s: CreateAction %d, expected %d" % (what, action, want_action))
        if kind == "dir" and not attrs & 0x10:
            errors.append("%s: attributes %#x lack DIRECTORY" % (what, attrs))
        if kind == "file" and eof != want_eof:
            errors.append("%s: EndOfFile %d, expected %d" % (what, eof, want_eof))
        if kind == "file" and keeps:
            st, data = c.read(tid, fid, 0, 4096)
            if st or data != content:
                errors.append("%s: read %s, %r instead of what the test wrote" % (what, hx(st), data[:40]))
        c.close(tid, fid)
    if kind == "file":
        with open(local, "rb") as f:
            left = f.read()
        if left != (content if keeps else b""):
            errors.append("%s: the file holds %r afterwards" % (what, left[:40]))
    c.abort()


def test_create_pause():
    try:
        return int(os.environ["SMBKIT_TEST_CREATE_PAUSE_MS"]) > 0 and "SMBKIT_SHARE_DIR" in os.environ
    except (KeyError, ValueError):
        return False


FSCTL_LMR_REQUEST_RESILIENCY = 0x001401D4
IOCTL = 0x000B


def request_resiliency(c, tid, fid, timeout_ms):
    """IOCTL FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 2.2.31, 2.2.31.3): the
    NETWORK_RESILIENCY_REQUEST is Timeout (ms) and 4 reserved bytes."""
    data = struct.pack("<II", timeout_ms, 0)
    body = struct.pack("<HHI16sIIIIIIII", 57, 0, FSCTL_LMR_REQUEST_RESILIENCY, fid, 64 + 56, len(data), 0,
                       0, 0, 0, 1, 0) + data
    return c.call(IOCTL, body, tid).status


def resilient_round(idx, rnd, errors):
    """A resilient open (MS-SMB2 3.3.5.15.9) outlives its connection for
    its ResiliencyTimeout (3.3.7.1): meanwhile it still holds its share
    mode, and DHnC reclaims it with its data; after the timeout it is gone."""
    guid = os.urandom(16)
    name = "resilient%02d-%d.dat" % (idx, rnd)
    payload = b"resilient %d %d " % (idx, rnd) + os.urandom(32)
    a, atid = connect(guid)
    st, fid, _, _ = a.create(atid, name, share=s.SHARE_READ, disposition=s.FILE_OVERWRITE_IF)
    if st:
        errors.append("round %d: open: %s" % (rnd, hx(st)))
        a.abort()
        return
    st = request_resiliency(a, atid, fid, 4000)
    if st:
        errors.append("round %d: FSCTL_LMR_REQUEST_RESILIENCY: %s" % (rnd, hx(st)))
        a.abort()
        return
    a.write(atid, fid, 0, payload)
    a.abort()
    time.sleep(0.3)
    # Kept: a conflicting open still meets its share mode.
    cc, ctid = connect()
    st, cfid, _, _ = cc.create(ctid, name, share=0, disposition=s.FILE_OPEN)
    if st != s.STATUS_SHARING_VIOLATION:
        errors.append("round %d: an open conflicting with the disconnected resilient open: %s" % (rnd, hx(st)))
        if st == 0:
            cc.close(ctid, cfid)
    cc.abort()
    # Reclaimed with DHnC (2.2.13.2.4: the FileId).
    b, btid = connect(guid)
    st, bfid, _, _ = b.create(btid, name, share=s.SHARE_READ, disposition=s.FILE_OPEN,
                              contexts=(s.create_context(b"DHnC", fid),))
    if st:
        errors.append("round %d: DHnC reclaim of the resilient open: %s" % (rnd, hx(st)))
    else:
        st, data = b.read(btid, bfid, 0, len(payload))
        if st or data != payload:
            errors.append("round %d: the reclaimed open reads %s %r" % (rnd, hx(st), data[:16]))
        # Dropped again: after its timeout the open is closed.
        b.abort()
        time.sleep(4.0 + 1.5)
        d, dtid = connect(guid)
        st, _, _, _ = d.create(dtid, name, share=s.SHARE_READ, disposition=s.FILE_OPEN,
                               contexts=(s.create_context(b"DHnC", bfid),))
        if st != s.STATUS_OBJECT_NAME_NOT_FOUND:
            errors.append("round %d: DHnC after the resiliency timeout: %s" % (rnd, hx(st)))
        d.abort()
        return
    b.abort()




APP_INSTANCE_TAG = bytes.fromhex("45BCA66AEFA7F74A9008FA462E144D74")


def app_instance_ctx(app_id):
    """SMB2_CREATE_APP_INSTANCE_ID (MS-SMB2 2.2.13.2.13)."""
    return s.create_context(APP_INSTANCE_TAG, struct.pack("<HH16s", 20, 0, app_id))


def app_instance_round(idx, rnd, errors):
    """An application instance moves to another client (MS-SMB2 3.3.5.9.13):
    its durable open left disconnected on the first client is replaced by
    the second client's open naming the same AppInstanceId (no sharing
    violation, no break wait), and can no longer be reclaimed; then the same
    with the first open still connected: its next CLOSE gets FILE_CLOSED."""
    app_id = os.urandom(16)
    for live in (False, True):
        name = "appinst%02d-%d-%d.dat" % (idx, rnd, live)
        cguid = uuid.uuid4().bytes
        a, atid = connect(os.urandom(16))
        st, fid, _, ctxs = a.create(atid, name, share=0, disposition=s.FILE_OVERWRITE_IF, oplock=s.OPLOCK_BATCH,
                                    contexts=(s.dh2q_ctx(cguid, 30000), app_instance_ctx(app_id)))
        if st or b"DH2Q" not in (ctxs or {}):
            errors.append("round %d: first durable open: %s" % (rnd, hx(st)))
            a.abort()
            return
        if not live:
            a.abort()
            time.sleep(0.3)
        b, btid = connect(os.urandom(16))
        t = time.monotonic()
        st, bfid, _, _ = b.create(btid, name, share=0, disposition=s.FILE_OPEN, oplock=s.OPLOCK_BATCH,
                                  contexts=(s.dh2q_ctx(uuid.uuid4().bytes, 30000), app_instance_ctx(app_id)),
                                  timeout=60)
        took = time.monotonic() - t
        what = "live" if live else "disconnected"
        if st:
            errors.append("round %d: open replacing a %s instance: %s" % (rnd, what, hx(st)))
        elif took > 5:
            errors.append("round %d: open replacing a %s instance took %.1f s" % (rnd, what, took))
        if live:
            if a.breaks:
                errors.append("round %d: the replaced open got a break notification" % rnd)
            st = a.close(atid, fid)
            if st != s.STATUS_FILE_CLOSED:
                errors.append("round %d: CLOSE of the replaced open: %s" % (rnd, hx(st)))
            a.abort()
        else:
            c, ctid = connect()
            st, _, _, _ = c.create(ctid, name, share=s.SHARE_READ, disposition=s.FILE_OPEN,
                                   contexts=(s.dh2c_ctx(fid, cguid),))
            if st != s.STATUS_OBJECT_NAME_NOT_FOUND:
                errors.append("round %d: reclaiming the replaced open: %s" % (rnd, hx(st)))
            c.abort()
        b.abort()




def fixed_rounds_worker(round_fn, most):
    """A worker for the deterministic scenarios: up to `most` rounds of
    round_fn(idx, round, errors), stopping at the first error."""
    def worker(idx, deadline, seed, out):
        errors, rounds = [], 0
        while time.time() < deadline and rounds < most and not errors:
            rounds += 1
            try:
                round_fn(idx, rounds, errors)
            except Timeout:
                errors.append(wedged(rounds))
            except Exception as e:   # noqa: BLE001
                errors.append("round %d: %r" % (rounds, e))
        out.put((idx, rounds, errors, None, None))
    return worker


# ====================================================================== streamed WRITE
# A large unsigned WRITE is written while its body arrives (src/server/io_pool.h).
# Each round sends such WRITEs in pieces with pauses (the body trickles in,
# so the job parks and is queued again many times), checks the data, and
# mixes in the ends a streamed WRITE can have: a FileId that is not open
# (answered before the body is in; the connection goes on), a range another
# connection has locked (nothing written), and a connection dropped in the
# middle of a body.  Worker 0 also checks that bodies which never arrive
# hold no I/O thread: more stalled WRITEs than the server has workers, then
# another client's streamed WRITE and READ are still served.

STREAM_MIN = 300 * 1024   # above the server's BIG_FRAME_MIN (256 KiB)


def send_streamed_write(c, tid, fid, offset, data, rng, upto=None, pause=0.002):
    """Sends WRITE(fid, offset, data) in random pieces; stops after `upto`
    bytes of the frame when given.  Returns the message id."""
    charge = (len(data) - 1) // 65536 + 1
    hdr, mid = c.header(s.WRITE, tid, 0, credit_charge=charge)
    msg = hdr + s.Conn.write_body(fid, offset, data)
    frame = struct.pack(">I", len(msg)) + msg
    end = len(frame) if upto is None else upto
    pos = 0
    while pos < end:
        n = min(end - pos, rng.choice((113, 4096, 65536, 200000, 1 << 20)))
        c.sock.sendall(frame[pos:pos + n])
        pos += n
        if rng.random() < 0.5:
            time.sleep(pause * rng.random())
    return mid


def read_all(c, tid, fid, length):
    data = b""
    while len(data) < length:
        st, part = c.read(tid, fid, len(data), min(65536, length - len(data)))
        if st or not part:
            return st or 0xC0000011, data   # STATUS_END_OF_FILE: shorter than written
        data += part
    return 0, data


def stream_stall_check(rng, errors):
    """Bodies that never arrive must not hold the pool's threads."""
    stalled = []
    try:
        for i in range(12):   # the server has 2 workers per loop, at most 16
            c, tid = connect()
            st, fid, _, _ = c.create(tid, "stream-stall-%d.bin" % i, disposition=s.FILE_OVERWRITE_IF)
            if st:
                errors.append("stall: create %s" % hx(st))
                return
            send_streamed_write(c, tid, fid, 0, os.urandom(1 << 20), rng, upto=150000)
            stalled.append(c)
        c, tid = connect()
        st, fid, _, _ = c.create(tid, "stream-stall-probe.bin", disposition=s.FILE_OVERWRITE_IF)
        data = os.urandom(1 << 20)
        mid = send_streamed_write(c, tid, fid, 0, data, rng)
        r = c.wait(mid, timeout=20)
        st, back = read_all(c, tid, fid, len(data))
        if r.status or st or back != data:
            errors.append("stall: probe write %s read %s, data %s" % (hx(r.status), hx(st),
                                                                       "equal" if back == data else "differs"))
        c.close(tid, fid)
        c.logoff()
        c.abort()
    finally:
        for sc in stalled:
            sc.abort()


def stream_round(idx, rnd, errors):
    rng = random.Random(idx * 7919 + rnd)
    if idx == 0 and rnd == 1:
        stream_stall_check(rng, errors)
        if errors:
            return
    c, tid = connect()
    # A file per round: the previous round dropped its connection in the
    # middle of a WRITE to its file (its open may still be closing).
    name = "stream-%d-%d.bin" % (idx, rnd)
    st, fid, _, _ = c.create(tid, name, disposition=s.FILE_OVERWRITE_IF)
    if st:
        errors.append("create %s: %s" % (name, hx(st)))
        return
    size = rng.randrange(STREAM_MIN, 3 << 20)
    data = os.urandom(size)
    mid = send_streamed_write(c, tid, fid, 0, data, rng)
    r = c.wait(mid)
    if r.status:
        errors.append("streamed write of %d bytes: %s" % (size, hx(r.status)))
        return
    count = struct.unpack_from("<I", r.body, 4)[0]
    st, back = read_all(c, tid, fid, size)
    if count != size or st or back != data:
        errors.append("streamed write of %d bytes: count %d, read %s, data %s" %
                      (size, count, hx(st), "equal" if back == data else "differs"))
        return

    # A FileId that is not open: answered (maybe before the body is in),
    # and the rest of the body is dropped; the connection goes on.
    mid = send_streamed_write(c, tid, b"\x11" * 16, 0, os.urandom(STREAM_MIN), rng)
    r = c.wait(mid)
    if r.status != s.STATUS_FILE_CLOSED:
        errors.append("streamed write to a closed FileId: %s" % hx(r.status))
        return
    if c.call(s.ECHO, struct.pack("<HH", 4, 0)).status:
        errors.append("echo after a refused streamed write failed")
        return

    # Another connection's exclusive lock on the range: refused, nothing
    # written.
    c2, tid2 = connect()
    st, fid2, _, _ = c2.create(tid2, name)
    lk = c2.call(s.LOCK, s.Conn.lock_body(fid2, [(4096, 4096, 0x2 | 0x10)]), tid2).status
    if st or lk:
        errors.append("second open %s / lock %s" % (hx(st), hx(lk)))
        return
    mid = send_streamed_write(c, tid, fid, 0, b"\xee" * STREAM_MIN, rng)
    r = c.wait(mid)
    c2.close(tid2, fid2)   # releases the lock, so the range can be read
    c2.logoff()
    c2.abort()
    st, back = read_all(c, tid, fid, STREAM_MIN)
    if r.status != s.STATUS_FILE_LOCK_CONFLICT or st or back != data[:STREAM_MIN]:
        errors.append("streamed write over a locked range: %s, read %s, data %s" %
                      (hx(r.status), hx(st), "unchanged" if back == data[:STREAM_MIN] else "changed"))
        return

    # Dropped in the middle of a body (RST or FIN): the server ends the
    # job without a response and without its thread.
    send_streamed_write(c, tid, fid, 0, os.urandom(2 << 20), rng, upto=rng.randrange(120, 1 << 20))
    if rng.random() < 0.5:
        c.abort()
    else:
        c.close_fin()
    if rnd > 2:   # the file of two rounds ago is settled: keep the share small
        c2, tid2 = connect()
        st, fid2, _, _ = c2.create(tid2, "stream-%d-%d.bin" % (idx, rnd - 2), access=0x10000,
                                   disposition=s.FILE_OPEN, options=s.FILE_NON_DIRECTORY_FILE | 0x1000)
        if st == 0:
            c2.close(tid2, fid2)
        c2.logoff()
        c2.abort()


# ====================================================================== close waits for I/O
# An open's close waits for the I/O pool's jobs on it (src/server/open.c,
# open_close_file).  A debug smbkitd started with
# SMBKIT_TEST_WRITE_PAUSE="OFFSET:MS" holds a WRITE at that file offset for
# MS before writing it.  The writer's connection is dropped meanwhile (its
# open held the file exclusively), and a second client opens the file with
# no sharing and OVERWRITE_IF.  That open must be refused
# (SHARING_VIOLATION) until the WRITE has ended, and the late data must not
# land on top of what the second client wrote after its open.  Round 1
# sends a 128 KiB WRITE (received whole, then written); round 2 a 1 MiB
# one (above BIG_FRAME_MIN: may be streamed) and drops with FIN instead
# of RST.

def test_write_pause():
    try:
        at, ms = os.environ["SMBKIT_TEST_WRITE_PAUSE"].split(":")
        return int(at), int(ms) / 1000.0
    except (KeyError, ValueError):
        return None


def io_close_round(idx, rnd, errors):
    at, pause = test_write_pause()
    name = "io-close-%d-%d.bin" % (idx, rnd)
    a, atid = connect()
    st, afid, _, _ = a.create(atid, name, share=0, disposition=s.FILE_OVERWRITE_IF)
    if st:
        errors.append("round %d: first open %s" % (rnd, hx(st)))
        return
    size = (128 << 10) if rnd == 1 else (1 << 20)
    hdr, _ = a.header(s.WRITE, atid, 0, credit_charge=(size - 1) // 65536 + 1)
    a.send_raw(hdr + s.Conn.write_body(afid, at, b"\xaa" * size))
    sent = time.monotonic()
    time.sleep(min(0.3, pause / 4))   # the server has the body and sits in the pause
    if rnd == 1:
        a.abort()
    else:
        a.close_fin()

    b, btid = connect()
    refused = 0
    while True:
        st, bfid, _, _ = b.create(btid, name, share=0, disposition=s.FILE_OVERWRITE_IF)
        if st != s.STATUS_SHARING_VIOLATION or time.monotonic() - sent > pause + 10:
            break
        refused += 1
        time.sleep(0.05)
    waited = time.monotonic() - sent
    if st:
        errors.append("round %d: second open %s after %.1f s" % (rnd, hx(st), waited))
        return
    if refused == 0 or waited < pause * 0.9:
        errors.append("round %d: the second open got the file %.2f s after the WRITE was sent, while the "
                      "WRITE was held for %.2f s (%d refusals)" % (rnd, waited, pause, refused))
    mine = os.urandom(4096)
    if b.write(btid, bfid, 0, mine):
        errors.append("round %d: second client's write failed" % rnd)
    b.close(btid, bfid)
    time.sleep(max(0.0, sent + pause + 0.5 - time.monotonic()))
    st, bfid, _, _ = b.create(btid, name, disposition=s.FILE_OPEN)
    st1, head = b.read(btid, bfid, 0, 8192)
    st2, late = b.read(btid, bfid, at, 4096)
    b.close(btid, bfid)
    b.logoff()
    b.abort()
    if st or st1 or head != mine:
        errors.append("round %d: the second client's data: open %s read %s, %s" %
                      (rnd, hx(st), hx(st1), "equal" if head == mine else "%d bytes, differ" % len(head)))
    if st2 != 0xC0000011:   # STATUS_END_OF_FILE: nothing at the held WRITE's offset
        errors.append("round %d: the dropped client's WRITE landed after the second open (read at its "
                      "offset: %s, %d bytes)" % (rnd, hx(st2), len(late)))


# ====================================================================== driver
WORKERS = {"disconnect": storm_worker, "trees": trees_worker, "durable": durable_worker,
           "reconnect-break": fixed_rounds_worker(reconnect_break_round, 3),
           "grant-break": fixed_rounds_worker(grant_break_round, 6),
           "create-race": fixed_rounds_worker(create_race_round, len(CREATE_RACE_CASES)),
           "resilient": fixed_rounds_worker(resilient_round, 1),
           "app-instance": fixed_rounds_worker(app_instance_round, 2),
           "stream": fixed_rounds_worker(stream_round, 1000),
           "io-close": fixed_rounds_worker(io_close_round, 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=sorted(WORKERS))
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--procs", type=int, default=16)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SMBKIT_STRESS_SEED", "0")) or None)
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    print("# %s: %d processes, %.0f s, seed %d" % (a.scenario, a.procs, a.seconds, seed))
    sys.stdout.flush()

    if a.scenario in ("durable", "reconnect-break", "app-instance"):
        try:
            granted = durable_granted()
        except Exception as e:   # noqa: BLE001
            print("not ok - durable: probe failed: %r" % (e,))
            return 1
        if not granted:
            print("ok - durable # skip: durable handles not granted")
            return 0

    if a.scenario == "grant-break" and not test_grant_pause():
        print("ok - grant-break # skip: SMBKIT_TEST_GRANT_PAUSE_MS not set (debug smbkitd test hook)")
        return 0

    if a.scenario == "create-race" and not test_create_pause():
        print("ok - create-race # skip: SMBKIT_TEST_CREATE_PAUSE_MS or SMBKIT_SHARE_DIR not set (debug smbkitd "
              "test hook)")
        return 0

    if a.scenario == "io-close" and test_write_pause() is None:
        print("ok - io-close # skip: SMBKIT_TEST_WRITE_PAUSE not set (debug smbkitd test hook)")
        return 0

    ctx = mp.get_context("fork")
    out = ctx.Queue()
    deadline = time.time() + a.seconds
    procs = [ctx.Process(target=WORKERS[a.scenario], args=(i, deadline, seed * 1000 + i, out))
             for i in range(a.procs)]
    t0 = time.time()
    for p in procs:
        p.start()
    results = []
    for _ in procs:
        try:
            results.append(out.get(timeout=a.seconds + 90))
        except Exception:   # noqa: BLE001
            break
    for p in procs:
        p.join(5)
        if p.is_alive():
            p.kill()
    failed = len(results) < len(procs)
    total_rounds = sum(r[1] for r in results)
    for idx, rounds, errors, _, _ in sorted(results):
        for e in errors:
            print("#   worker %d: %s" % (idx, e))
        failed |= bool(errors)
    if len(results) < len(procs):
        print("#   %d workers never reported" % (len(procs) - len(results)))

    # The disconnect storm's private files hold what their workers last wrote.
    if a.scenario == "disconnect" and results:
        try:
            c, tid = connect()
            bad = 0
            for _, _, _, private, expected in results:
                if expected is None:
                    continue
                st, fid, _, _ = c.create(tid, private, share=0, disposition=s.FILE_OPEN)
                data = b""
                if st == 0:
                    st, data = c.read(tid, fid, 0, BLOCK)
                    c.close(tid, fid)
                if st or data != expected:
                    bad += 1
                    print("#   %s: %s, %d bytes differ from the last write" % (private, hx(st), len(data)))
            c.logoff()
            c.abort()
            failed |= bad > 0
        except Exception as e:   # noqa: BLE001
            print("#   final check failed: %r" % (e,))
            failed = True
    print("%s - %s: %d rounds by %d processes in %.1f s" % ("not ok" if failed else "ok", a.scenario, total_rounds,
                                                           len(procs), time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
