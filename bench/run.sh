#!/usr/bin/env bash
# bench/run.sh [--quick] [--size SIZE] [--reps N]
#
# smbkitd against Samba's smbd, side by side on loopback, over the same
# storage with equivalent settings, in three security modes (signing off,
# signing required, AES-128-GCM encryption required), plus the machine's
# ceiling (loopback TCP with iperf3, memory copy bandwidth) in the same run.
# Prints a markdown table to stdout and writes it to
# build-release/bench-results.md.  See bench/README.md for what each
# workload does and how the numbers are taken.
#
# Exit status: 0 when everything ran; 1 when something is broken (a server
# did not start or died, a client reported an error).  Never fails on a
# ratio: this is a measurement, not a timed test.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD="$ROOT/build-release"
PY=/usr/bin/python3
LOAD="$ROOT/bench/smbload.py"

QUICK=0
SIZE=
REPS=
while [[ $# -gt 0 ]]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--size) SIZE=$2; shift ;;
	--size=*) SIZE=${1#--size=} ;;
	--reps) REPS=$2; shift ;;
	--reps=*) REPS=${1#--reps=} ;;
	-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

if [[ $QUICK -eq 1 ]]; then
	: "${SIZE:=64M}"; : "${REPS:=1}"
	SMALL_FILES=200 LIST_ENTRIES=5000 TORTURE_SECONDS=2 IDLE_CONNS=100
	MIX_CLIENTS=8 MIX_SECONDS=3 IPERF_SECONDS=2 MEMCPY_MIB=256
	SLOW_REPS=1
else
	: "${SIZE:=1G}"; : "${REPS:=3}"
	SMALL_FILES=2000 LIST_ENTRIES=100000 TORTURE_SECONDS=10 IDLE_CONNS=1000
	MIX_CLIENTS=64 MIX_SECONDS=10 IPERF_SECONDS=5 MEMCPY_MIB=1024
	# torture and the 64-client mix run for a fixed time each; two
	# interleaved rounds keep the full run under ~20 minutes.
	SLOW_REPS=$(( REPS < 2 ? REPS : 2 ))
fi
SIZE_BYTES=$(numfmt --from=iec "${SIZE^^}" 2>/dev/null) || { echo "run.sh: bad --size $SIZE" >&2; exit 2; }
SIZE_MIB=$(awk -v b="$SIZE_BYTES" 'BEGIN{printf "%.1f", b/1048576}')

ERRORS=0
err() { echo "ERROR: $*" >&2; ERRORS=$((ERRORS + 1)); }
say() { echo "# $*" >&2; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.4f", b-a}'; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# ---------------------------------------------------------------- checks
if [[ $(id -u) -ne 0 ]]; then
	echo "run.sh: must run as root: smbd needs it to switch users, and both servers act as root's account" >&2
	exit 1
fi
for cmd in smbd smbpasswd smbclient smbtorture iperf3 meson ninja numfmt; do
	command -v "$cmd" >/dev/null || { echo "run.sh: $cmd is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
"$PY" -c 'import impacket' 2>/dev/null || { echo "run.sh: python3-impacket is missing" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---------------------------------------------------------------- build
say "building release into $BUILD"
if [[ ! -f "$BUILD/build.ninja" ]]; then
	meson setup "$BUILD" --buildtype=release -Db_ndebug=true >"$ROOT/build-release-setup.log" 2>&1 \
		|| { cat "$ROOT/build-release-setup.log" >&2; echo "run.sh: meson setup failed" >&2; exit 1; }
	rm -f "$ROOT/build-release-setup.log"
fi
if ! ninja -C "$BUILD" smbkitd smbkit-passwd >"$BUILD/bench-build.log" 2>&1; then
	tail -30 "$BUILD/bench-build.log" >&2
	echo "run.sh: release build failed" >&2
	exit 1
fi

# ---------------------------------------------------------------- scratch
# Both shares live in one directory on one file system.  tmpfs by default
# (/dev/shm) so neither server waits on a disk and the numbers measure the
# servers; BENCH_TMPDIR=/some/disk/dir to measure with real storage.
BASE=${BENCH_TMPDIR:-/dev/shm}
need_mib=$(( SIZE_BYTES / 1048576 * 3 + 512 ))
avail_mib=$(df -Pm "$BASE" | awk 'NR==2{print $4}')
if [[ -z "${BENCH_TMPDIR:-}" && ${avail_mib:-0} -lt $need_mib ]]; then
	BASE=${TMPDIR:-/tmp}
fi
WORK=$(mktemp -d "$BASE/smbkit-bench.XXXXXX")
chmod 755 "$WORK"
FSTYPE=$(stat -f -c %T "$WORK")
STORAGE="$FSTYPE at $WORK ($(df -Ph "$WORK" | awk 'NR==2{print $2}') total; both shares in this one directory)"
LOGDIR="$BUILD/bench-logs"
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"
TSV="$WORK/results.tsv"
: >"$TSV"

USER_NAME=$(id -un)
PASS="Bench-Pass.1"
SHARE=bench
declare -A PORT PID SHAREDIR
SHAREDIR[kit]="$WORK/share-smbkitd"
SHAREDIR[smbd]="$WORK/share-smbd"
CLIENT="$WORK/client"
mkdir -p "${SHAREDIR[kit]}" "${SHAREDIR[smbd]}" "$CLIENT" "$WORK/kit" "$WORK/samba"/{private,lock,state,cache,pid,ncalrpc}
chmod 1777 "${SHAREDIR[kit]}" "${SHAREDIR[smbd]}"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_server() { # stop_server kit|smbd
	local which=$1 pid=${PID[$1]:-} kids i
	[[ -n "$pid" ]] || return 0
	# Samba forks a child per connection: remember them to reap stragglers.
	kids=$(for p in /proc/[0-9]*; do
		awk -v want="$pid" '{sub(/.*\) /, ""); split($0, f, " "); if (f[2] == want) print FILENAME}' "$p/stat" 2>/dev/null
	done | sed -E 's#/proc/([0-9]+)/stat#\1#')
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

cleanup() {
	stop_server kit
	stop_server smbd
	[[ -n "${IPERF_PID:-}" ]] && kill "$IPERF_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

wait_port() { # wait_port which port
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "${PID[$1]}" 2>/dev/null || return 1
		port_open "$2" && return 0
		sleep 0.1
	done
	return 1
}

# ---------------------------------------------------------------- configs
# One user on both servers: SMB user = the account running the benchmark
# (root), so both servers do their file system work as the same Unix user.
printf '%s\n' "$PASS" | "$BUILD/smbkit-passwd" -f "$WORK/kit/users" add "$USER_NAME" \
	--unix-user "$USER_NAME" --password-stdin >"$LOGDIR/passwd.log" 2>&1 \
	|| { cat "$LOGDIR/passwd.log" >&2; echo "run.sh: smbkit-passwd failed" >&2; exit 1; }

write_configs() { # write_configs MODE   (off | sign | encrypt)
	local mode=$1 signing=auto encrypt=if_required algos=
	case "$mode" in
	sign) signing=mandatory ;;
	encrypt) encrypt=required; algos="server smb3 encryption algorithms = AES-128-GCM" ;;
	esac
	cat >"$WORK/kit/smbkitd.conf" <<EOF
[global]
	users file = $WORK/kit/users
	listen = 127.0.0.1:${PORT[kit]}
	log level = warn
	max connections = 0
	server signing = $signing
	server smb encrypt = $encrypt
	$algos
[$SHARE]
	path = ${SHAREDIR[kit]}
	read only = no
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
	server signing = $signing
	server smb encrypt = $encrypt
	$algos
[$SHARE]
	path = ${SHAREDIR[smbd]}
	read only = no
EOF
}

start_servers() { # start_servers MODE
	local mode=$1 attempt
	for attempt in 1 2 3; do
		PORT[kit]=$(free_port); PORT[smbd]=$(free_port)
		[[ ${PORT[kit]} != "${PORT[smbd]}" ]] || continue
		write_configs "$mode"
		"$BUILD/smbkitd" --foreground -c "$WORK/kit/smbkitd.conf" </dev/null >>"$LOGDIR/smbkitd-$mode.log" 2>&1 &
		PID[kit]=$!
		if [[ ! -s "$WORK/samba/private/passdb.tdb" ]]; then
			printf '%s\n%s\n' "$PASS" "$PASS" | smbpasswd -c "$WORK/samba/smb.conf" -s -a "$USER_NAME" >"$LOGDIR/smbpasswd.log" 2>&1 \
				|| { cat "$LOGDIR/smbpasswd.log" >&2; err "smbpasswd failed"; return 1; }
		fi
		# smbd's parent signals its whole process group (kill(0, SIGTERM))
		# when it exits; with --no-process-group that would be ours, so it
		# gets a session of its own (setsid execs it: same pid).
		setsid smbd -F --no-process-group -s "$WORK/samba/smb.conf" </dev/null >>"$LOGDIR/smbd-$mode.log" 2>&1 &
		PID[smbd]=$!
		if wait_port kit "${PORT[kit]}" && wait_port smbd "${PORT[smbd]}"; then
			say "mode $mode: smbkitd pid ${PID[kit]} port ${PORT[kit]}; smbd pid ${PID[smbd]} port ${PORT[smbd]}"
			return 0
		fi
		stop_server kit; stop_server smbd
	done
	err "mode $mode: a server did not start; logs: $LOGDIR/smbkitd-$mode.log $LOGDIR/smbd-$mode.log $WORK/samba/log.smbd"
	tail -5 "$LOGDIR/smbkitd-$mode.log" "$LOGDIR/smbd-$mode.log" >&2
	return 1
}

alive() { # alive which mode: fails (and records an error) when the server died
	if ! kill -0 "${PID[$1]}" 2>/dev/null; then
		err "$1 died during mode $2; log: $LOGDIR/$( [[ $1 == kit ]] && echo smbkitd || echo smbd )-$2.log"
		return 1
	fi
}

# ---------------------------------------------------------------- clients
PROT=off
smbc() { # smbc which commands...   (output in $OUT)
	local which=$1; shift
	local extra=()
	[[ $PROT == encrypt ]] && extra+=(--option='client smb3 encryption algorithms=AES-128-GCM')
	timeout 900 smbclient -s /dev/null "//127.0.0.1/$SHARE" -p "${PORT[$which]}" -U "$USER_NAME%$PASS" \
		-m SMB3_11 --client-protection="$PROT" "${extra[@]}" -c "$*" >"$OUT" 2>&1
	local rc=$?
	if [[ $rc -ne 0 ]] || grep -q 'NT_STATUS_' "$OUT"; then
		echo "smbclient against $which failed (rc $rc): $*" | cut -c1-300 >&2
		grep -m5 'NT_STATUS_' "$OUT" >&2 || tail -5 "$OUT" >&2
		return 1
	fi
}
OUT="$WORK/out"

# Each workload function runs once against one server and prints
# "metric|unit|better|value" lines; a failed run returns non-zero.
wl_seq() {
	local w=$1 t0 t1
	t0=$(now); smbc "$w" "put $CLIENT/big.bin big.bin" || return 1; t1=$(now)
	echo "seq write $SIZE_MIB MiB (smbclient put)|MiB/s|higher|$(awk -v m="$SIZE_MIB" -v t="$(elapsed "$t0" "$t1")" 'BEGIN{printf "%.1f", m/t}')"
	t0=$(now); smbc "$w" "get big.bin /dev/null" || return 1; t1=$(now)
	echo "seq read $SIZE_MIB MiB (smbclient get)|MiB/s|higher|$(awk -v m="$SIZE_MIB" -v t="$(elapsed "$t0" "$t1")" 'BEGIN{printf "%.1f", m/t}')"
	[[ $(stat -c %s "${SHAREDIR[$w]}/big.bin") -eq $SIZE_BYTES ]] || { echo "big.bin has the wrong size on $w" >&2; return 1; }
}

wl_small() {
	local w=$1 t0 t1 n=$SMALL_FILES stats= i
	# The stat pass: one "allinfo" (create, several query-infos, close) per file.
	for ((i = 0; i < n; i++)); do stats+="allinfo s$(printf %06d "$i"); "; done
	t0=$(now); smbc "$w" "prompt OFF; mkdir small; cd small; lcd $CLIENT/small-src; mput s*" || return 1; t1=$(now)
	echo "small files: create+write $n x 4 KiB (mput)|files/s|higher|$(awk -v n="$n" -v t="$(elapsed "$t0" "$t1")" 'BEGIN{printf "%.1f", n/t}')"
	t0=$(now); smbc "$w" "cd small; $stats" || return 1; t1=$(now)
	echo "small files: stat (allinfo each)|files/s|higher|$(awk -v n="$n" -v t="$(elapsed "$t0" "$t1")" 'BEGIN{printf "%.1f", n/t}')"
	rm -rf "$CLIENT/small-dst"; mkdir -p "$CLIENT/small-dst"
	t0=$(now); smbc "$w" "prompt OFF; cd small; lcd $CLIENT/small-dst; mget s*" || return 1; t1=$(now)
	echo "small files: read (mget)|files/s|higher|$(awk -v n="$n" -v t="$(elapsed "$t0" "$t1")" 'BEGIN{printf "%.1f", n/t}')"
	[[ $(find "$CLIENT/small-dst" -type f | wc -l) -eq $n ]] || { echo "mget from $w fetched the wrong number of files" >&2; return 1; }
	t0=$(now); smbc "$w" "del small/s*; rmdir small" || return 1; t1=$(now)
	echo "small files: delete (del s*)|files/s|higher|$(awk -v n="$n" -v t="$(elapsed "$t0" "$t1")" 'BEGIN{printf "%.1f", n/t}')"
	[[ ! -e "${SHAREDIR[$w]}/small" ]] || { echo "small/ still exists on $w" >&2; return 1; }
}

wl_list() {
	local w=$1 t0 t1 got
	t0=$(now); smbc "$w" "cd list; ls" || return 1; t1=$(now)
	got=$(grep -c '^  l[0-9]' "$OUT")
	[[ $got -eq $LIST_ENTRIES ]] || { echo "ls on $w listed $got of $LIST_ENTRIES entries" >&2; return 1; }
	echo "list dir of $LIST_ENTRIES entries (smbclient ls)|s|lower|$(elapsed "$t0" "$t1")"
}

torture_prot() {
	local extra=()
	[[ $PROT == encrypt ]] && extra+=(--option='client smb3 encryption algorithms=AES-128-GCM')
	printf '%s\n' "--client-protection=$PROT" "${extra[@]}"
}
wl_torture() {
	local w=$1 t v opts=()
	mapfile -t opts < <(torture_prot)
	for t in echo path-contention-shared oplock1; do
		timeout $((TORTURE_SECONDS + 120)) smbtorture -s /dev/null "//127.0.0.1/$SHARE" -p "${PORT[$w]}" \
			-U "$USER_NAME%$PASS" "${opts[@]}" --option=torture:timelimit="$TORTURE_SECONDS" \
			"smb2.bench.$t" >"$OUT" 2>&1
		if ! grep -q "^success: $t" "$OUT"; then
			echo "smbtorture smb2.bench.$t against $w failed:" >&2
			tr '\r' '\n' <"$OUT" | grep -v 'ops/second' | tail -8 >&2
			return 1
		fi
		case $t in
		echo) v=$(grep -o 'echo\[num/s=[0-9]*' "$OUT" | sed 's/.*=//' | awk '{s+=$1} END{if (NR) printf "%.0f", s/NR}')
			echo "smbtorture smb2.bench.echo (4 conns)|ops/s|higher|${v:-0}" ;;
		path-contention-shared) v=$(grep -o 'open\[num/s=[0-9]*' "$OUT" | sed 's/.*=//' | awk '{s+=$1} END{if (NR) printf "%.0f", s/NR}')
			echo "smbtorture smb2.bench.path-contention-shared (opens)|ops/s|higher|${v:-0}" ;;
		oplock1) v=$(grep -o '[0-9.]* ops/second' "$OUT" | tail -1 | cut -d' ' -f1)
			echo "smbtorture smb2.bench.oplock1|ops/s|higher|${v:-0}" ;;
		esac
	done
}

wl_mix() {
	local w=$1 line
	if [[ $PROT == encrypt ]]; then return 0; fi   # impacket 0.10 has no AES-GCM
	"$PY" "$LOAD" mix 127.0.0.1 "${PORT[$w]}" "$USER_NAME" "$PASS" "$SHARE" "$MIX_CLIENTS" "$MIX_SECONDS" >"$OUT" 2>&1
	line=$(grep '^RESULT' "$OUT") || { echo "mix against $w failed:" >&2; tail -5 "$OUT" >&2; return 1; }
	grep -q 'errors=0' <<<"$line" || { echo "mix against $w: $line" >&2; return 1; }
	echo "$MIX_CLIENTS clients open/read/stat mix (impacket, SMB 3.0)|ops/s|higher|$(sed 's/.*ops_per_s=\([0-9.]*\).*/\1/' <<<"$line")"
	echo "$MIX_CLIENTS clients mix: p99 latency|ms|lower|$(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$line")"
}

mem_of() { "$PY" "$LOAD" mem "$1" | sed 's/^RESULT //'; }
kv() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

wl_idle() {
	local w=$1 before after fifo="$WORK/idle.fifo" ipid i n=$IDLE_CONNS
	before=$(mem_of "${PID[$w]}")
	rm -f "$fifo"; mkfifo "$fifo"
	"$PY" "$LOAD" idle 127.0.0.1 "${PORT[$w]}" "$USER_NAME" "$PASS" "$n" <"$fifo" >"$OUT" 2>&1 &
	ipid=$!
	exec 8>"$fifo"
	for ((i = 0; i < 6000; i++)); do
		grep -q '^RESULT up=' "$OUT" && break
		kill -0 "$ipid" 2>/dev/null || break
		sleep 0.1
	done
	if ! grep -q '^RESULT up=' "$OUT"; then
		exec 8>&-; kill "$ipid" 2>/dev/null; wait "$ipid" 2>/dev/null
		echo "idle connections against $w failed:" >&2; tail -5 "$OUT" >&2
		return 1
	fi
	sleep 2   # let forked smbd children settle
	after=$(mem_of "${PID[$w]}")
	exec 8>&-
	wait "$ipid" 2>/dev/null
	echo "$n idle connections: server RSS total|MiB|lower|$(awk -v a="$(kv rss_kib "$after")" 'BEGIN{printf "%.1f", a/1024}')"
	echo "$n idle connections: server PSS total|MiB|lower|$(awk -v a="$(kv pss_kib "$after")" 'BEGIN{printf "%.1f", a/1024}')"
	echo "idle: RSS per connection (delta/$n)|KiB|lower|$(awk -v a="$(kv rss_kib "$after")" -v b="$(kv rss_kib "$before")" -v n="$n" 'BEGIN{printf "%.1f", (a-b)/n}')"
	echo "idle: PSS per connection (delta/$n)|KiB|lower|$(awk -v a="$(kv pss_kib "$after")" -v b="$(kv pss_kib "$before")" -v n="$n" 'BEGIN{printf "%.1f", (a-b)/n}')"
	echo "idle: server processes|count|lower|$(kv procs "$after")"
	# give smbd time to reap its 1,000 children before the next workload
	sleep 2
}

# run_pair MODE FN REPS: REPS interleaved rounds (smbkitd then smbd), the
# median of each metric per server goes into the TSV.
run_pair() {
	local mode=$1 fn=$2 reps=$3 r w lb la line metric unit better val key
	declare -A vals=() units=() betters=()
	local order=()
	lb=$(loadavg)
	for ((r = 0; r < reps; r++)); do
		for w in kit smbd; do
			alive "$w" "$mode" || return 1
			local res rc=0
			# A failed run still reports what it measured before failing
			# (smbtorture runs three tests); the failure is an error.
			res=$("$fn" "$w" 2>"$WORK/fn.err") || rc=$?
			[[ -s "$WORK/fn.err" ]] && cat "$WORK/fn.err" >&2
			[[ $rc -eq 0 ]] || err "$fn against $w (mode $mode, round $((r + 1))) failed"
			while IFS='|' read -r metric unit better val; do
				[[ -n "$metric" ]] || continue
				key="$metric"
				[[ -n "${units[$key]:-}" ]] || order+=("$key")
				units[$key]=$unit; betters[$key]=$better
				vals[$key|$w]+=" $val"
				say "  $mode $w round $((r + 1)): $metric = $val $unit"
			done <<<"$res"
			alive "$w" "$mode" || return 1
		done
	done
	la=$(loadavg)
	for key in "${order[@]}"; do
		# shellcheck disable=SC2086
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$key" "${units[$key]}" "${betters[$key]}" \
			"$(median ${vals[$key|kit]:-})" "$(median ${vals[$key|smbd]:-})" "$lb" "$la" >>"$TSV"
	done
}

# ---------------------------------------------------------------- data
say "storage: $STORAGE"
say "creating test data (file of $SIZE, $SMALL_FILES small files, $LIST_ENTRIES directory entries per share)"
"$PY" - "$CLIENT/big.bin" "$SIZE_BYTES" <<'EOF' || { echo "run.sh: could not create the test file" >&2; exit 1; }
import os, sys
path, size = sys.argv[1], int(sys.argv[2])
block = os.urandom(1 << 20)   # incompressible, cheap to repeat
with open(path, "wb") as f:
    left = size
    while left > 0:
        n = min(left, len(block))
        f.write(block[:n])
        left -= n
EOF
"$PY" "$LOAD" mkfiles "$CLIENT/small-src" "$SMALL_FILES" 4096 s >/dev/null || exit 1
for w in kit smbd; do
	"$PY" "$LOAD" mkfiles "${SHAREDIR[$w]}/list" "$LIST_ENTRIES" 0 l >/dev/null || exit 1
	"$PY" "$LOAD" mkfiles "${SHAREDIR[$w]}/mix" 16 65536 f >/dev/null || exit 1
	# mkfiles names them f000000..; the mix workload opens mix/f00..f15
	for ((i = 0; i < 16; i++)); do mv "${SHAREDIR[$w]}/mix/f$(printf %06d "$i")" "${SHAREDIR[$w]}/mix/f$(printf %02d "$i")"; done
done

# ---------------------------------------------------------------- ceiling
say "machine ceiling: iperf3 loopback ($IPERF_SECONDS s), memory copy"
lb=$(loadavg)
IPERF_PORT=$(free_port)
iperf3 -s -1 -p "$IPERF_PORT" >"$LOGDIR/iperf3-server.log" 2>&1 &
IPERF_PID=$!
for ((i = 0; i < 50; i++)); do port_open "$IPERF_PORT" && break; sleep 0.1; done
# port_open made (and dropped) a connection; -1 would end the server: give
# iperf3 a fresh start if it did.
sleep 0.2
if ! kill -0 "$IPERF_PID" 2>/dev/null; then
	iperf3 -s -1 -p "$IPERF_PORT" >"$LOGDIR/iperf3-server.log" 2>&1 &
	IPERF_PID=$!
	sleep 0.5
fi
if iperf3 -c 127.0.0.1 -p "$IPERF_PORT" -t "$IPERF_SECONDS" -J >"$LOGDIR/iperf3.json" 2>&1; then
	IPERF_MIB=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%.0f" % (d["end"]["sum_received"]["bits_per_second"]/8/1048576))' "$LOGDIR/iperf3.json")
else
	err "iperf3 failed: $(tail -3 "$LOGDIR/iperf3.json")"
	IPERF_MIB=n/a
fi
kill "$IPERF_PID" 2>/dev/null; wait "$IPERF_PID" 2>/dev/null; IPERF_PID=
MEMCPY=$("$PY" "$LOAD" memcpy "$MEMCPY_MIB" 5 | sed -n 's/.*memcpy_gib_s=//p')
DD=$(LC_ALL=C dd if=/dev/zero of=/dev/null bs=1M count=$((MEMCPY_MIB * 8)) 2>&1 | awk '/copied/{print $(NF-1), $NF}')
la=$(loadavg)
CEILING="loopback TCP (iperf3, 1 stream, ${IPERF_SECONDS} s): ${IPERF_MIB} MiB/s; memcpy (python bytearray copy of ${MEMCPY_MIB} MiB, best of 5): ${MEMCPY:-n/a} GiB/s; dd if=/dev/zero of=/dev/null bs=1M: ${DD:-n/a}; load $lb→$la"
say "$CEILING"

# ---------------------------------------------------------------- runs
MODES=(off sign encrypt)
for mode in "${MODES[@]}"; do
	PROT=$mode
	say "=== mode $mode"
	start_servers "$mode" || continue
	run_pair "$mode" wl_seq "$REPS"
	run_pair "$mode" wl_small "$REPS"
	run_pair "$mode" wl_list "$REPS"
	run_pair "$mode" wl_torture "$SLOW_REPS"
	[[ $mode != encrypt ]] && run_pair "$mode" wl_mix "$SLOW_REPS"
	# Idle memory does not depend on signing; measured once, signing off.
	[[ $mode == off ]] && run_pair "$mode" wl_idle 1
	stop_server kit
	stop_server smbd
	grep -h -E 'AddressSanitizer|runtime error|assert' "$LOGDIR/smbkitd-$mode.log" >&2 && err "smbkitd log of mode $mode has errors"
done

# ---------------------------------------------------------------- table
{
	echo "## smbkitd vs smbd $(date -u +%F' '%H:%M' UTC') $([[ $QUICK -eq 1 ]] && echo '(--quick)')"
	echo
	echo "- machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, kernel $(uname -r)"
	echo "- smbkitd $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty') (release, -Db_ndebug=true); $(smbd --version)"
	echo "- storage: $STORAGE"
	echo "- ceiling: $CEILING"
	echo "- modes: off = no signing (client --client-protection=off); sign = server signing mandatory + client sign; encrypt = server smb encrypt required, AES-128-GCM only, client encrypt"
	echo "- each value: median of $REPS interleaved rounds (smbkitd, smbd, smbkitd, ...; torture and mix: $SLOW_REPS rounds, mean when even); load = 1-min load average before→after the workload"
	echo
	"$PY" "$LOAD" table "$TSV"
	echo
	if [[ $ERRORS -gt 0 ]]; then echo "**$ERRORS error(s) during the run: see stderr and $LOGDIR**"; fi
} >"$BUILD/bench-results.md"
cat "$BUILD/bench-results.md"

if [[ $ERRORS -gt 0 ]]; then
	echo "run.sh: $ERRORS error(s)" >&2
	exit 1
fi
exit 0
