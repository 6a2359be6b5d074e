#!/usr/bin/env bash
# bench/run.sh [--quick] [--size SIZE] [--reps N] [--only WORKLOADS]
#
# smbkitd against Samba's smbd, side by side on loopback, over the same
# storage with equivalent settings, in three security modes (signing off,
# signing required, AES-128-GCM encryption required), plus the machine's
# ceiling (loopback TCP with iperf3, memory copy bandwidth) in the same run.
# Prints a markdown table to stdout and writes it to
# build-release/bench-results.md.  See bench/README.md for what each
# workload does and how the numbers are taken.
#
# --only seq,small,list,torture,mix,idle runs only those workloads (all
# three modes still), for measuring one change quickly.
#
# CPU rows: each server's CPU time per MiB (sequential) or per file (small
# files) and per operation (64-client mix), user plus system, from
# /proc/PID/stat (smbd: its reaped per-connection processes included).  On
# a shared 2-vCPU machine the throughput of one round can move by 2x; CPU
# per unit of work moves far less and shows what each server costs.
#
# Memory rows: each server's peak RSS and PSS during the sequential and the
# small-file workloads (sampled every 0.2 s over its whole process tree,
# smbd's per-connection processes included), and both a second after.
#
# Environment: SMBKIT_BUILD=DIR builds and runs smbkitd in DIR instead of
# build-release (release options; the table and logs go there too);
# BENCH_TMPDIR=DIR puts the scratch files on DIR instead of /dev/shm;
# BENCH_MEM_INTERVAL=SECONDS sets the memory sampling period, =off turns
# the sampler off (to measure what it costs).
#
# Exit status: 0 when everything ran; 1 when something is broken (a server
# did not start or died, a client reported an error).  Never fails on a
# ratio: this is a measurement, not a timed test.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=run.sh
BUILD=${SMBKIT_BUILD:-$ROOT/build-release}
[[ $BUILD == /* ]] || BUILD="$PWD/$BUILD"
LOAD="$ROOT/bench/smbload.py"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

QUICK=0
SIZE=
REPS=
ONLY=seq,small,list,torture,mix,idle
while [[ $# -gt 0 ]]; do
	case "$1" in
	--quick) QUICK=1 ;;
	--size) SIZE=$2; shift ;;
	--size=*) SIZE=${1#--size=} ;;
	--reps) REPS=$2; shift ;;
	--reps=*) REPS=${1#--reps=} ;;
	--only) ONLY=$2; shift ;;
	--only=*) ONLY=${1#--only=} ;;
	-h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

if [[ $QUICK -eq 1 ]]; then
	: "${SIZE:=64M}"; : "${REPS:=1}"
	SMALL_FILES=200 LIST_ENTRIES=5000 TORTURE_SECONDS=2 IDLE_CONNS=100
	MIX_CLIENTS=8 MIX_SECONDS=3 IPERF_SECONDS=2 MEMCPY_MIB=256
	SLOW_REPS=1 PAR_CLIENTS=2
else
	: "${SIZE:=1G}"; : "${REPS:=3}"
	SMALL_FILES=2000 LIST_ENTRIES=100000 TORTURE_SECONDS=10 IDLE_CONNS=1000
	MIX_CLIENTS=64 MIX_SECONDS=10 IPERF_SECONDS=5 MEMCPY_MIB=1024 PAR_CLIENTS=4
	# torture and the 64-client mix run for a fixed time each; two
	# interleaved rounds keep the full run under ~20 minutes.
	SLOW_REPS=$(( REPS < 2 ? REPS : 2 ))
fi
parse_size "$SIZE"
for wl in ${ONLY//,/ }; do
	case $wl in seq|small|list|torture|mix|idle) ;; *) echo "run.sh: unknown workload $wl in --only" >&2; exit 2 ;; esac
done
# want WORKLOAD: whether --only includes it
want() { [[ ",$ONLY," == *",$1,"* ]]; }

# ---------------------------------------------------------------- checks
need_root
for cmd in smbd smbpasswd smbclient smbtorture iperf3 meson ninja numfmt; do
	command -v "$cmd" >/dev/null || { echo "run.sh: $cmd is missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
"$PY" -c 'import impacket' 2>/dev/null || { echo "run.sh: python3-impacket is missing" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# ---------------------------------------------------------------- build
say "building release into $BUILD"
if [[ ! -f "$BUILD/build.ninja" ]]; then
	meson setup "$BUILD" --buildtype=release -Db_ndebug=true >"$BUILD-setup.log" 2>&1 \
		|| { cat "$BUILD-setup.log" >&2; echo "run.sh: meson setup failed" >&2; exit 1; }
	rm -f "$BUILD-setup.log"
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
bench_workdir "$BASE" smbkit-bench
FSTYPE=$(stat -f -c %T "$WORK")
STORAGE="$FSTYPE at $WORK ($(df -Ph "$WORK" | awk 'NR==2{print $2}') total; both shares in this one directory)"
LOGDIR="$BUILD/bench-logs"
rm -rf "$LOGDIR"; mkdir -p "$LOGDIR"
TSV="$WORK/results.tsv"
: >"$TSV"

CLIENT="$WORK/client"
mkdir -p "$CLIENT"
bench_cleanup_hook() { [[ -n "${IPERF_PID:-}" ]] && kill "$IPERF_PID" 2>/dev/null; }

# ---------------------------------------------------------------- configs
bench_user

# ---------------------------------------------------------------- clients
# Each workload function runs once against one server and prints
# "metric|unit|better|value" lines; a failed run returns non-zero.
# per_s WHICH AMOUNT "METRIC|UNIT" CPU_UNIT COMMANDS: one timed smbclient
# run; prints the row of AMOUNT per second, the row of the server's CPU
# µs per CPU_UNIT (AMOUNT of them), and the share of one CPU smbclient used
# while it ran (near 100 %: the client, not the server, set the pace).
per_s() {
	local w=$1 amount=$2 row=$3 cpu_unit=$4 t c0 c1
	shift 4
	c0=$(cpu_s "$w")
	t=$(smbc_s "$w" "$@") || return 1
	c1=$(cpu_s "$w")
	echo "$row|higher|$(rate "$amount" "$t" 1)"
	echo "${row%%|*}: server CPU|µs/$cpu_unit|lower|$(cpu_us_per "$c0" "$c1" "$amount")"
	echo "${row%%|*}: smbclient busy|% of a CPU|lower|$(client_busy_pct "$t")"
}

wl_seq() {
	local w=$1
	per_s "$w" "$SIZE_MIB" "seq write $SIZE_MIB MiB (smbclient put)|MiB/s" MiB "put $CLIENT/big.bin big.bin" || return 1
	per_s "$w" "$SIZE_MIB" "seq read $SIZE_MIB MiB (smbclient get)|MiB/s" MiB "get big.bin /dev/null" || return 1
	[[ $(stat -c %s "${SHAREDIR[$w]}/big.bin") -eq $SIZE_BYTES ]] || { echo "big.bin has the wrong size on $w" >&2; return 1; }
	# The same amount of data split over PAR_CLIENTS smbclients at once,
	# each with its own connection and file: one smbclient keeps only 16
	# MiB in flight, so the single-client rows above measure its pipeline
	# as much as the server; these show what the server does when the
	# clients together ask for more (on 2 CPUs, until the CPUs are full).
	local part=$((SIZE_BYTES / PAR_CLIENTS)) i
	local total_mib
	total_mib=$(awk -v b="$((part * PAR_CLIENTS))" 'BEGIN{printf "%.1f", b/1048576}')
	par_s "$w" "$total_mib" "seq write $total_mib MiB by $PAR_CLIENTS clients at once (smbclient put)|MiB/s" \
		"put $CLIENT/part.bin part-%i.bin" || return 1
	par_s "$w" "$total_mib" "seq read $total_mib MiB by $PAR_CLIENTS clients at once (smbclient get)|MiB/s" \
		"get part-%i.bin /dev/null" || return 1
	for ((i = 0; i < PAR_CLIENTS; i++)); do
		cmp -s "${SHAREDIR[$w]}/part-$i.bin" "$CLIENT/part.bin" || { echo "part-$i.bin differs on $w" >&2; return 1; }
	done
}

# par_s WHICH MIB "METRIC|UNIT" COMMANDS: PAR_CLIENTS smbclient runs at
# once, COMMANDS with %i replaced by each one's number; prints the rows of
# MIB per second over the wall time of the whole (first start to last
# end) and of the server's CPU µs per MiB.
par_s() {
	local w=$1 mib=$2 row=$3 cmds=$4 t c0 c1
	c0=$(cpu_s "$w")
	t=$(smbc_par_s "$PAR_CLIENTS" "$w" "$cmds") || return 1
	c1=$(cpu_s "$w")
	echo "$row|higher|$(rate "$mib" "$t" 0)"
	echo "${row%%|*}: server CPU|µs/MiB|lower|$(cpu_us_per "$c0" "$c1" "$mib")"
}

wl_small() {
	local w=$1 n=$SMALL_FILES stats= i
	# The stat pass: one "allinfo" (create, several query-infos, close) per file.
	for ((i = 0; i < n; i++)); do stats+="allinfo s$(printf %06d "$i"); "; done
	per_s "$w" "$n" "small files: create+write $n x 4 KiB (mput)|files/s" file "prompt OFF; mkdir small; cd small; lcd $CLIENT/small-src; mput s*" || return 1
	per_s "$w" "$n" "small files: stat (allinfo each)|files/s" file "cd small; $stats" || return 1
	rm -rf "$CLIENT/small-dst"; mkdir -p "$CLIENT/small-dst"
	per_s "$w" "$n" "small files: read (mget)|files/s" file "prompt OFF; cd small; lcd $CLIENT/small-dst; mget s*" || return 1
	[[ $(find "$CLIENT/small-dst" -type f | wc -l) -eq $n ]] || { echo "mget from $w fetched the wrong number of files" >&2; return 1; }
	per_s "$w" "$n" "small files: delete (del s*)|files/s" file "del small/s*; rmdir small" || return 1
	[[ ! -e "${SHAREDIR[$w]}/small" ]] || { echo "small/ still exists on $w" >&2; return 1; }
}

wl_list() {
	local w=$1 t got
	t=$(smbc_s "$w" "cd list; ls") || return 1
	got=$(grep -c '^  l[0-9]' "$OUT")
	[[ $got -eq $LIST_ENTRIES ]] || { echo "ls on $w listed $got of $LIST_ENTRIES entries" >&2; return 1; }
	echo "list dir of $LIST_ENTRIES entries (smbclient ls)|s|lower|$t"
}

wl_torture() {
	local w=$1 t v
	for t in echo path-contention-shared oplock1; do
		timeout $((TORTURE_SECONDS + 120)) smbtorture -s /dev/null "//127.0.0.1/$SHARE" -p "${PORT[$w]}" \
			-U "$USER_NAME%$PASS" "${PROT_OPTS[@]}" --option=torture:timelimit="$TORTURE_SECONDS" \
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
	local w=$1 line c0 c1 ops
	if [[ $PROT == encrypt ]]; then return 0; fi   # impacket 0.10 has no AES-GCM
	c0=$(cpu_s "$w")
	"$PY" "$LOAD" mix 127.0.0.1 "${PORT[$w]}" "$USER_NAME" "$PASS" "$SHARE" "$MIX_CLIENTS" "$MIX_SECONDS" >"$OUT" 2>&1
	line=$(grep '^RESULT' "$OUT") || { echo "mix against $w failed:" >&2; tail -5 "$OUT" >&2; return 1; }
	grep -q 'errors=0' <<<"$line" || { echo "mix against $w: $line" >&2; return 1; }
	c1=$(cpu_s "$w")
	ops=$(sed -n 's/.*\bops=\([0-9]*\).*/\1/p' <<<"$line")
	echo "$MIX_CLIENTS clients open/read/stat mix (impacket, SMB 3.0)|ops/s|higher|$(sed 's/.*ops_per_s=\([0-9.]*\).*/\1/' <<<"$line")"
	echo "$MIX_CLIENTS clients mix: p99 latency|ms|lower|$(sed 's/.*p99_ms=\([0-9.]*\).*/\1/' <<<"$line")"
	[[ -n "$ops" && "$ops" -gt 0 ]] && echo "$MIX_CLIENTS clients mix: server CPU|µs/op|lower|$(cpu_us_per "$c0" "$c1" "$ops")"
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
		tsv_row "$mode" "$key" "${units[$key]}" "${betters[$key]}" \
			"$(median ${vals[$key|kit]:-})" "$(median ${vals[$key|smbd]:-})" "$lb" "$la"
	done
}

# tsv_row MODE METRIC UNIT BETTER KIT SMBD LOAD_BEFORE LOAD_AFTER: one row
# of the table (smbload.py table adds the ratio)
tsv_row() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"; }

# mem_rows MODE WORKLOAD: ends the memory sampler started before WORKLOAD
# (mem_watch_start) and adds four rows: the peak RSS and peak PSS of each
# server during it (smbd: summed over all its processes, per-connection
# ones included), then RSS and PSS a second after it (smbd: the processes
# still alive).  See "memory" in lib.sh.  A measurement, never judged.
mem_rows() {
	local mode=$1 what=$2 l seen=
	mem_watch_stop
	[[ ${MEM_PEAK_PROCS[smbd]} == n/a ]] || seen=" (smbd: up to ${MEM_PEAK_PROCS[smbd]} processes)"
	alive kit "$mode" && alive smbd "$mode" || return 1
	measure_mem
	l=$(loadavg)
	say "  $mode memory during $what ($MEM_SAMPLES samples): peak RSS smbkitd ${MEM_PEAK_RSS[kit]} MiB, smbd ${MEM_PEAK_RSS[smbd]} MiB (up to ${MEM_PEAK_PROCS[smbd]} processes);" \
		"peak PSS smbkitd ${MEM_PEAK_PSS[kit]} MiB, smbd ${MEM_PEAK_PSS[smbd]} MiB: $(ratio "${MEM_PEAK_PSS[kit]}" "${MEM_PEAK_PSS[smbd]}")"
	say "  $mode memory after $what: RSS smbkitd ${MEM_RSS[kit]} MiB, smbd ${MEM_RSS[smbd]} MiB (${MEM_PROCS[smbd]} processes);" \
		"PSS smbkitd ${MEM_PSS[kit]} MiB, smbd ${MEM_PSS[smbd]} MiB"
	tsv_row "$mode" "memory during $what: peak RSS$seen" MiB lower \
		"${MEM_PEAK_RSS[kit]}" "${MEM_PEAK_RSS[smbd]}" "$MEM_LOAD0" "$MEM_LOAD1"
	tsv_row "$mode" "memory during $what: peak PSS" MiB lower \
		"${MEM_PEAK_PSS[kit]}" "${MEM_PEAK_PSS[smbd]}" "$MEM_LOAD0" "$MEM_LOAD1"
	tsv_row "$mode" "memory after $what: RSS (smbd: ${MEM_PROCS[smbd]} processes)" MiB lower "${MEM_RSS[kit]}" "${MEM_RSS[smbd]}" "$l" "$l"
	tsv_row "$mode" "memory after $what: PSS" MiB lower "${MEM_PSS[kit]}" "${MEM_PSS[smbd]}" "$l" "$l"
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
head -c "$((SIZE_BYTES / PAR_CLIENTS))" "$CLIENT/big.bin" >"$CLIENT/part.bin"
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
	set_prot "$mode"
	say "=== mode $mode"
	start_servers "$mode" || continue
	if want seq; then
		mem_watch_start
		run_pair "$mode" wl_seq "$REPS"
		mem_rows "$mode" "seq write+read"
	fi
	if want small; then
		mem_watch_start
		run_pair "$mode" wl_small "$REPS"
		mem_rows "$mode" "small files"
	fi
	want list && run_pair "$mode" wl_list "$REPS"
	want torture && run_pair "$mode" wl_torture "$SLOW_REPS"
	want mix && [[ $mode != encrypt ]] && run_pair "$mode" wl_mix "$SLOW_REPS"
	# Idle memory does not depend on signing; measured once, signing off.
	want idle && [[ $mode == off ]] && run_pair "$mode" wl_idle 1
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
	during="the highest sum of the samples taken every ${MEM_INTERVAL} s through all rounds of the workload (smbd's per-connection processes included)"
	[[ $MEM_INTERVAL == off ]] && during="n/a, the sampler was off (BENCH_MEM_INTERVAL=off)"
	echo "- memory rows: Rss and Pss of /proc/PID/smaps_rollup summed over each server's process tree; \"during\": $during; \"after\": one reading a second after the last round (smbd's per-connection processes have exited)"
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
