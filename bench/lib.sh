# shellcheck shell=bash disable=SC2034
# (SC2034: the variables set here are read by the scripts that source it.)
# bench/lib.sh: what bench/run.sh and bench/seq.sh share.  Sourced, not run.
#
# Both scripts run smbkitd and Samba's smbd side by side on loopback, over
# one scratch directory, with one user and the same settings per security
# mode, and measure them from the outside (client timing, /proc).  This file
# holds that common ground; each script keeps its own options, workloads
# and output.
#
# Before sourcing, the script sets PROG (its name, for messages) and BUILD
# (the smbkitd build tree).  After bench_workdir it sets LOGDIR (where the
# server logs go) before bench_user / start_servers.  The two servers are
# named "kit" (smbkitd) and "smbd" in PORT, PID and SHAREDIR.  A script may
# define bench_cleanup_hook: it runs on exit once both servers are stopped,
# before the scratch directory is removed.

PY=/usr/bin/python3
USER_NAME=$(id -un)
PASS="Bench-Pass.1"
SHARE=bench
declare -A PORT=() PID=() SHAREDIR=()
PROT=off          # client protection of the current mode: off | sign | encrypt
PROT_OPTS=()      # the smbclient / smbtorture options for PROT (set_prot)
ERRORS=0
SMBC_TIMEOUT=900  # seconds per smbclient run; 0: no limit

# ---------------------------------------------------------------- small tools
err() { echo "ERROR: $*" >&2; ERRORS=$((ERRORS + 1)); }
say() { echo "# $*" >&2; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.4f", b-a}'; }
# rate AMOUNT SECONDS DECIMALS: AMOUNT per second
rate() { awk -v n="$1" -v t="$2" -v d="$3" 'BEGIN{printf "%.*f", d, n/t}'; }
# ratio A B: A/B with two decimals, n/a when either is missing or B is 0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a == "" || b == "" || a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.2f", a/b}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

need_root() {
	[[ $(id -u) -eq 0 ]] && return 0
	echo "$PROG: must run as root: smbd needs it to switch users, and both servers act as root's account" >&2
	exit 1
}

# parse_size SIZE: sets SIZE_BYTES and SIZE_MIB (one decimal) from 512M, 1G...
parse_size() {
	SIZE_BYTES=$(numfmt --from=iec "${1^^}" 2>/dev/null) || { echo "$PROG: bad --size $1" >&2; exit 2; }
	SIZE_MIB=$(awk -v b="$SIZE_BYTES" 'BEGIN{printf "%.1f", b/1048576}')
}

# ---------------------------------------------------------------- /proc
# The process tree is read from /proc/PID/stat: "pid (comm) state ppid ...";
# comm may hold spaces and parentheses, so the fields after it are counted
# from the last ") ".  cat skips processes that exit while it reads (awk
# would stop at the first file that vanished).

# descendants PID: PID and every process below it, one per line (smbd forks
# one child per connection plus helpers such as notifyd and cleanupd).
descendants() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
		{ pid = $1; sub(/.*\) /, ""); split($0, f, " "); parent[pid] = f[2] }
		END {
			if (!(root in parent)) exit
			tree[root] = 1; print root
			do {
				grew = 0
				for (p in parent)
					if (!(p in tree) && (parent[p] in tree)) { tree[p] = 1; print p; grew = 1 }
			} while (grew)
		}'
}

# cpu_s WHICH: CPU seconds used so far by a server, its own and its reaped
# children's (utime stime cutime cstime; smbd reaps each connection's
# process when it ends).  The pause lets a child that just served a
# request exit and be reaped first.
cpu_s() {
	sleep 0.3
	awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); split($0, f, " "); printf "%.3f", (f[12]+f[13]+f[14]+f[15])/hz}' "/proc/${PID[$1]}/stat"
}

# cpu_us_per C0 C1 N: microseconds of CPU per unit between two cpu_s
# readings, for N units of work
cpu_us_per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN{printf "%.0f", (b-a)*1000000/n}'; }

# ---------------------------------------------------------------- memory
# Each server's memory is the sum over its process tree of Rss and Pss from
# /proc/PID/smaps_rollup.  smbd forks a process per connection and those
# exit with the connection, so a reading taken after a workload sees only
# smbd's long-lived processes (parent, notifyd, cleanupd) while smbkitd
# keeps everything in one process: to compare like with like, a sampler
# reads both trees every BENCH_MEM_INTERVAL seconds (default 0.2) during
# the workload and keeps each server's peak.  RSS counts a page shared by
# smbd's forked processes once per process; PSS divides it among them, so
# PSS is the fair sum and RSS the upper bound.  A peak is of the per-sample
# sums (what was resident at one moment); a spike shorter than the interval
# can fall between two samples.  BENCH_MEM_INTERVAL=off: no sampler (the
# peak rows say n/a), to measure what it costs.
MEM_INTERVAL=${BENCH_MEM_INTERVAL:-0.2}
if [[ $MEM_INTERVAL != off ]] && ! awk -v i="$MEM_INTERVAL" 'BEGIN{exit !(i ~ /^[0-9.]+$/ && i > 0)}'; then
	echo "$PROG: BENCH_MEM_INTERVAL must be a number of seconds above 0, or off" >&2
	exit 2
fi
MEM_SAMPLER_PID=

# The sampler, one python process for the whole workload (no fork per
# sample): python3 -c "$MEM_SAMPLER_PY" INTERVAL READY_FILE ROOT_PID...
# INTERVAL 0: one sample.  Otherwise it creates READY_FILE after the first
# sample and samples until SIGTERM, or until the benchmark that started it
# is gone.  Then it prints, per root, "RSS_MiB PSS_MiB PROCESSES SAMPLES":
# the highest of each over the samples.
read -r -d '' MEM_SAMPLER_PY <<'EOF'
import os, signal, sys, time

def children_by_parent():
    # Fallback when the kernel has no /proc/PID/task/TID/children
    # (CONFIG_PROC_CHILDREN): every process's parent, from /proc/PID/stat,
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so
    # ppid is counted from the last ") ".
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/" + d + "/stat", "rb") as f:
                st = f.read()
        except OSError:
            continue   # exited while we looked
        ppid = int(st[st.rindex(b") ") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(d))
    return children

def children_of(pid):
    # The children files of PID's threads: far cheaper than reading every
    # process's stat on a busy machine.
    kids = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return kids
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid), "rb") as f:
                kids += [int(k) for k in f.read().split()]
        except OSError:
            pass
    return kids

def tree_mem(root, children):
    # children: a children_by_parent() map, or None to use children_of
    rss = pss = procs = 0
    todo = [root]
    while todo:
        pid = todo.pop()
        todo.extend(children_of(pid) if children is None else children.get(pid, ()))
        try:
            with open("/proc/%d/smaps_rollup" % pid, "rb") as f:
                lines = f.read().split(b"\n")
        except OSError:
            continue
        for line in lines:
            if line.startswith(b"Rss:"):
                rss += int(line.split()[1])
                procs += 1   # a zombie has no Rss line: not counted
            elif line.startswith(b"Pss:"):
                pss += int(line.split()[1])
    return [rss, pss, procs]

def stop(signum, frame):
    raise SystemExit(0)

interval, ready = float(sys.argv[1]), sys.argv[2]
roots = [int(p) for p in sys.argv[3:]]
bench = os.getppid()
have_children_files = os.path.exists("/proc/self/task/%d/children" % os.getpid())
peak = [[0, 0, 0] for _ in roots]
samples = 0
signal.signal(signal.SIGTERM, stop)
try:
    while os.getppid() == bench:
        children = None if have_children_files else children_by_parent()
        for i, root in enumerate(roots):
            peak[i] = [max(a, b) for a, b in zip(peak[i], tree_mem(root, children))]
        samples += 1
        if interval <= 0:
            break
        if samples == 1:
            open(ready, "w").close()
        time.sleep(interval)
finally:
    for rss, pss, procs in peak:
        print("%.1f %.1f %d %d" % (rss / 1024, pss / 1024, procs, samples))
EOF

# mem_read OUTPUT_FILE PREFIX: MEM_<PREFIX>RSS/PSS/PROCS[kit|smbd] (MiB, one
# decimal) from the sampler's output, n/a where it has none; for the peaks
# (PREFIX PEAK_) also MEM_SAMPLES, the number of samples taken.
mem_read() {
	local out=$1 prefix=$2 w rss pss procs samples
	declare -n rss_of="MEM_${prefix}RSS" pss_of="MEM_${prefix}PSS" procs_of="MEM_${prefix}PROCS"
	exec 9<"$out"
	for w in kit smbd; do
		read -r rss pss procs samples <&9 || { rss=n/a pss=n/a procs=n/a samples=0; }
		rss_of["$w"]=$rss pss_of["$w"]=$pss procs_of["$w"]=$procs
	done
	exec 9<&-
	if [[ $prefix == PEAK_ ]]; then MEM_SAMPLES=$samples; fi
}
declare -A MEM_RSS=() MEM_PSS=() MEM_PROCS=() MEM_PEAK_RSS=() MEM_PEAK_PSS=() MEM_PEAK_PROCS=()
MEM_SAMPLES=0

# mem_watch_start: the sampler over both servers' trees, in the background,
# until mem_watch_stop (bench_cleanup stops it too).  Returns once the
# first sample is taken, so the peak includes the state before the work.
mem_watch_start() {
	local i
	mem_watch_stop
	MEM_LOAD0=$(loadavg)
	[[ $MEM_INTERVAL == off ]] && return 0
	rm -f "$WORK/mem-peak" "$WORK/mem-ready"
	"$PY" -c "$MEM_SAMPLER_PY" "$MEM_INTERVAL" "$WORK/mem-ready" "${PID[kit]}" "${PID[smbd]}" \
		>"$WORK/mem-peak" 2>"$WORK/mem-sampler.err" &
	MEM_SAMPLER_PID=$!
	for ((i = 0; i < 100; i++)); do
		[[ -e "$WORK/mem-ready" ]] && return 0
		kill -0 "$MEM_SAMPLER_PID" 2>/dev/null || break
		sleep 0.05
	done
	err "the memory sampler did not start: $(tail -3 "$WORK/mem-sampler.err")"
}

# mem_watch_stop: stops the sampler (SIGTERM: it prints its peaks and
# exits) and fills MEM_PEAK_RSS/PSS/PROCS[kit|smbd], MEM_SAMPLES and
# MEM_LOAD1; n/a when no sampler ran.
mem_watch_stop() {
	MEM_LOAD1=$(loadavg)
	if [[ -z "$MEM_SAMPLER_PID" ]]; then
		mem_read /dev/null PEAK_
		return 0
	fi
	kill -TERM "$MEM_SAMPLER_PID" 2>/dev/null
	wait "$MEM_SAMPLER_PID" 2>/dev/null
	MEM_SAMPLER_PID=
	mem_read "$WORK/mem-peak" PEAK_
}

# measure_mem: fills MEM_RSS, MEM_PSS (MiB, one decimal) and MEM_PROCS of
# both servers now, with one sample.  Waits a second first so that smbd's
# children of the connections just closed have exited: this is the memory
# each server keeps after the work.
measure_mem() {
	sleep 1
	"$PY" -c "$MEM_SAMPLER_PY" 0 - "${PID[kit]}" "${PID[smbd]}" >"$WORK/mem-now" 2>"$WORK/mem-sampler.err" \
		|| err "memory reading failed: $(tail -3 "$WORK/mem-sampler.err")"
	mem_read "$WORK/mem-now" ""
}

# ---------------------------------------------------------------- scratch
# bench_workdir BASE PREFIX: a fresh scratch directory $WORK under BASE with
# both shares, the server state directories, and the exit trap that stops
# the servers and removes it.
bench_workdir() {
	WORK=$(mktemp -d "$1/$2.XXXXXX") || { echo "$PROG: cannot create a scratch directory in $1" >&2; exit 1; }
	chmod 755 "$WORK"
	SHAREDIR[kit]="$WORK/share-smbkitd"
	SHAREDIR[smbd]="$WORK/share-smbd"
	mkdir -p "${SHAREDIR[kit]}" "${SHAREDIR[smbd]}" "$WORK/kit" "$WORK/samba"/{private,lock,state,cache,pid,ncalrpc}
	chmod 1777 "${SHAREDIR[kit]}" "${SHAREDIR[smbd]}"
	OUT="$WORK/out"
	trap bench_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

bench_cleanup() {
	mem_watch_stop
	stop_server kit
	stop_server smbd
	declare -F bench_cleanup_hook >/dev/null && bench_cleanup_hook
	[[ -n "${WORK:-}" && -d "$WORK" ]] && rm -rf "$WORK"
}

# ---------------------------------------------------------------- servers
# One user on both servers: SMB user = the account running the benchmark
# (root), so both servers do their file system work as the same Unix user.
# This adds it to smbkitd's users file; smbd's passdb is filled by the
# first start_servers (smbpasswd needs the smb.conf).
bench_user() {
	printf '%s\n' "$PASS" | "$BUILD/smbkit-passwd" -f "$WORK/kit/users" add "$USER_NAME" \
		--unix-user "$USER_NAME" --password-stdin >"$LOGDIR/passwd.log" 2>&1 \
		|| { cat "$LOGDIR/passwd.log" >&2; echo "$PROG: smbkit-passwd failed" >&2; exit 1; }
}

server_log() { # server_log WHICH MODE: the file the server's stdout/stderr go to
	echo "$LOGDIR/$([[ $1 == kit ]] && echo smbkitd || echo smbd)-$2.log"
}

write_configs() { # write_configs MODE   (off | sign | encrypt)
	local mode=$1 signing=auto encrypt=if_required algos='' both
	case "$mode" in
	sign) signing=mandatory ;;
	encrypt) encrypt=required; algos="server smb3 encryption algorithms = AES-128-GCM" ;;
	esac
	# The end of [global] (the mode) and the share, alike on both servers
	# (the share's path follows).
	both=$(printf '\tserver signing = %s\n\tserver smb encrypt = %s\n\t%s\n[%s]\n\tread only = no' \
		"$signing" "$encrypt" "$algos" "$SHARE")
	# BENCH_MAX_IO=BYTES: the largest READ/WRITE both servers offer (each
	# one's default otherwise: 8 MiB for both).
	local kit_io= smbd_io=
	if [[ -n "${BENCH_MAX_IO:-}" ]]; then
		kit_io=$'\tmax io size = '"$BENCH_MAX_IO"
		smbd_io=$(printf '\tsmb2 max read = %s\n\tsmb2 max write = %s\n\tsmb2 max trans = %s' \
			"$BENCH_MAX_IO" "$BENCH_MAX_IO" "$BENCH_MAX_IO")
	fi
	# BENCH_KIT_GLOBAL="LINE; LINE": more [global] lines for smbkitd only,
	# to compare its own settings (e.g. "busy poll = 0") on one binary.
	local kit_extra=
	[[ -n "${BENCH_KIT_GLOBAL:-}" ]] && kit_extra=$'\t'"${BENCH_KIT_GLOBAL//; /$'\n\t'}"
	cat >"$WORK/kit/smbkitd.conf" <<EOF
[global]
	users file = $WORK/kit/users
	listen = 127.0.0.1:${PORT[kit]}
	log level = warn
	max connections = 0
$kit_io
$kit_extra
$both
	path = ${SHAREDIR[kit]}
EOF
	local S="$WORK/samba"
	cat >"$S/smb.conf" <<EOF
[global]
	server role = standalone server
	smb ports = ${PORT[smbd]}
	interfaces = 127.0.0.1
	bind interfaces only = yes
	disable netbios = yes
	server min protocol = SMB2_02
	server max protocol = SMB3_11
	private dir = $S/private
	lock directory = $S/lock
	state directory = $S/state
	cache directory = $S/cache
	pid directory = $S/pid
	ncalrpc dir = $S/ncalrpc
	log file = $S/log.smbd
	log level = 0
	max log size = 0
	passdb backend = tdbsam:$S/private/passdb.tdb
	load printers = no
	printing = bsd
	printcap name = /dev/null
	disable spoolss = yes
$smbd_io
$both
	path = ${SHAREDIR[smbd]}
EOF
}

wait_port() { # wait_port WHICH PORT: fails when the server died or never listened
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "${PID[$1]}" 2>/dev/null || return 1
		port_open "$2" && return 0
		sleep 0.1
	done
	return 1
}

# start_servers MODE: both servers on fresh ports with MODE's settings;
# fails (with an error recorded) when one does not come up in three tries.
start_servers() {
	local mode=$1 attempt
	for attempt in 1 2 3; do
		PORT[kit]=$(free_port); PORT[smbd]=$(free_port)
		[[ ${PORT[kit]} != "${PORT[smbd]}" ]] || continue
		write_configs "$mode"
		"$BUILD/smbkitd" --foreground -c "$WORK/kit/smbkitd.conf" </dev/null >>"$(server_log kit "$mode")" 2>&1 &
		PID[kit]=$!
		if [[ -n "${BENCH_AB_BUILD:-}" ]]; then
			# A/B of two smbkitd builds (seq.sh --ab): the "smbd" slot runs
			# the other build with smbkitd's own configuration, on its own
			# port and share.
			sed -e "s|^\tlisten = .*|\tlisten = 127.0.0.1:${PORT[smbd]}|" \
				-e "s|^\tpath = .*|\tpath = ${SHAREDIR[smbd]}|" "$WORK/kit/smbkitd.conf" >"$WORK/kit/smbkitd-b.conf"
			"$BENCH_AB_BUILD/smbkitd" --foreground -c "$WORK/kit/smbkitd-b.conf" </dev/null >>"$(server_log smbd "$mode")" 2>&1 &
			PID[smbd]=$!
		else
			if [[ ! -s "$WORK/samba/private/passdb.tdb" ]]; then
				printf '%s\n%s\n' "$PASS" "$PASS" | smbpasswd -c "$WORK/samba/smb.conf" -s -a "$USER_NAME" >"$LOGDIR/smbpasswd.log" 2>&1 \
					|| { cat "$LOGDIR/smbpasswd.log" >&2; err "smbpasswd failed"; return 1; }
			fi
			# smbd's parent signals its whole process group (kill(0, SIGTERM))
			# when it exits; with --no-process-group that would be ours, so it
			# gets a session of its own (setsid execs it: same pid).
			setsid smbd -F --no-process-group -s "$WORK/samba/smb.conf" </dev/null >>"$(server_log smbd "$mode")" 2>&1 &
			PID[smbd]=$!
		fi
		if wait_port kit "${PORT[kit]}" && wait_port smbd "${PORT[smbd]}"; then
			say "mode $mode: smbkitd pid ${PID[kit]} port ${PORT[kit]}; smbd pid ${PID[smbd]} port ${PORT[smbd]}"
			return 0
		fi
		stop_server kit; stop_server smbd
	done
	err "mode $mode: a server did not start; logs: $(server_log kit "$mode") $(server_log smbd "$mode") $WORK/samba/log.smbd"
	tail -n 5 "$(server_log kit "$mode")" "$(server_log smbd "$mode")" >&2
	return 1
}

stop_server() { # stop_server kit|smbd
	local which=$1 pid=${PID[$1]:-} kids i k
	[[ -n "$pid" ]] || return 0
	# Samba forks a child per connection: remember them to reap stragglers.
	kids=$(descendants "$pid" | tail -n +2)
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	if kill -0 "$pid" 2>/dev/null; then
		err "$which (pid $pid) did not stop on SIGTERM within 10 s"
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	for k in $kids; do kill -KILL "$k" 2>/dev/null; done
	PID[$which]=
}

alive() { # alive WHICH MODE: fails (and records an error) when the server died
	if ! kill -0 "${PID[$1]}" 2>/dev/null; then
		err "$1 died during mode $2; log: $(server_log "$1" "$2")"
		return 1
	fi
}

# ---------------------------------------------------------------- clients
set_prot() { # set_prot MODE: the client protection for the servers' MODE
	PROT=$1
	PROT_OPTS=(--client-protection="$PROT")
	[[ $PROT == encrypt ]] && PROT_OPTS+=(--option='client smb3 encryption algorithms=AES-128-GCM')
}

smbc() { # smbc WHICH COMMANDS...: one smbclient run, output in $OUT
	local which=$1; shift
	timeout "$SMBC_TIMEOUT" smbclient -s /dev/null "//127.0.0.1/$SHARE" -p "${PORT[$which]}" -U "$USER_NAME%$PASS" \
		-m SMB3_11 "${PROT_OPTS[@]}" -c "$*" >"$OUT" 2>&1
	local rc=$?
	if [[ $rc -ne 0 ]] || grep -q 'NT_STATUS_' "$OUT"; then
		echo "smbclient against $which failed (rc $rc): $*" | cut -c1-300 >&2
		grep -m5 'NT_STATUS_' "$OUT" >&2 || tail -5 "$OUT" >&2
		return 1
	fi
}

# smbc_s WHICH COMMANDS...: smbc, timed: the seconds it took on stdout
# (connect and logon included).  The CPU seconds smbclient used (user +
# system) go into the file $WORK/client-cpu for client_busy_pct: on a small
# machine the client shares the CPUs with the server, and a client that
# uses a whole CPU is the bottleneck whatever the server does.
smbc_s() {
	local t0 t1
	client_cpu_mark
	t0=$(now)
	smbc "$@" || return 1
	t1=$(now)
	client_cpu_since_mark
	elapsed "$t0" "$t1"
}

# smbc_par_s N WHICH COMMANDS: N smbclient runs at once, COMMANDS with %i
# replaced by each one's number (0..N-1); prints the wall seconds from the
# first start to the last end, and leaves their summed CPU in
# $WORK/client-cpu as smbc_s does.  Fails if any run failed.
smbc_par_s() {
	local n=$1 which=$2 cmds=$3 i t0 t1 rc=0 pids=()
	client_cpu_mark
	t0=$(now)
	for ((i = 0; i < n; i++)); do
		( OUT="$WORK/par-$i.out"; smbc "$which" "${cmds//%i/$i}" ) &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	t1=$(now)
	client_cpu_since_mark
	[[ $rc -eq 0 ]] || return 1
	elapsed "$t0" "$t1"
}

# `times` is a builtin: with only a redirection it runs in this shell and
# reports the CPU of its finished children (the second line).
client_cpu_mark() { times >"$WORK/client-times0"; }
client_cpu_since_mark() {
	times >"$WORK/client-times1"
	awk 'function s(f, a) { split(f, a, /[ms]/); return a[1] * 60 + a[2] }
	     FNR == 2 { v = s($1) + s($2); if (NR == FNR) c0 = v; else c1 = v }
	     END { printf "%.3f\n", c1 - c0 }' "$WORK/client-times0" "$WORK/client-times1" >"$WORK/client-cpu"
}
# client_busy_pct SECONDS: the last smbc_s run's smbclient CPU over its
# wall time SECONDS, in % of one CPU
client_busy_pct() { awk -v c="$(cat "$WORK/client-cpu")" -v t="$1" 'BEGIN{printf "%.0f", c*100/t}'; }

set_prot off
