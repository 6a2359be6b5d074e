#!/usr/bin/env bash
# bench/seq.sh [--size SIZE] [--reps N] [--modes "off sign encrypt"] [--ops "put get"] [--par N] [--perf DIR]
#
# Only the sequential rows of bench/run.sh: smbclient put / get of one large
# file against smbkitd and Samba's smbd, interleaved (kit, smbd, kit, ...),
# in each security mode, with the same server settings as run.sh.  Prints
# one line per mode and direction: median MiB/s of each server and the
# ratio smbkitd/smbd of the same run, each server's CPU per MiB, how busy
# smbclient was (% of one CPU: near 100 the client set the pace), with the
# load average; then each server's memory per mode: peak RSS and PSS during the transfers (sampled
# over its whole process tree, smbd's per-connection processes included;
# BENCH_MEM_INTERVAL, see lib.sh) and both a second after them.
#
# SMBKIT_BUILD=DIR picks the smbkitd build (default build-release; it is not
# rebuilt here).  --perf DIR records `perf record -g` of smbkitd during one
# extra get and one extra put per mode into DIR/{get,put}-MODE.data.
# --ops get measures only get (the file is placed in both shares first).
# --par N splits SIZE over N smbclients at once, each with its own
# connection and file (run.sh's "clients at once" rows); MiB/s is then
# over the wall time of the whole, and smbclient busy is their sum.
# The environment reaches smbkitd: SMBKITD_IO_THREADS=0 compares its
# paths on one binary.  BENCH_MAX_IO=BYTES sets both servers' largest
# READ/WRITE (lib.sh).
# --ab DIR puts smbkitd built in DIR where smbd would be (same smbkitd
# configuration, own port and share): an A/B of two builds, interleaved
# round by round like the comparison with Samba; the "smbd" columns are
# then DIR's smbkitd.
# SEQ_KEEP_LOG=FILE keeps the smbkitd log (e.g. of a sanitizer build).
# Must run as root (smbd).  Scratch on /dev/shm (tmpfs).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=seq.sh
BUILD=${SMBKIT_BUILD:-$ROOT/build-release}
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
SMBC_TIMEOUT=0   # a large --size on a sanitizer build may take long
SIZE=512M REPS=3 MODES="off sign encrypt" OPS="put get" PERFDIR= PAR=1
while [[ $# -gt 0 ]]; do
	case "$1" in
	--size) SIZE=$2; shift ;;
	--reps) REPS=$2; shift ;;
	--modes) MODES=$2; shift ;;
	--ops) OPS=$2; shift ;;
	--perf) PERFDIR=$2; shift ;;
	--par) PAR=$2; shift ;;
	--ab) BENCH_AB_BUILD=$(cd "$2" && pwd) || exit 2; shift ;;
	-h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "seq.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
need_root
[[ -x "$BUILD/smbkitd" ]] || { echo "seq.sh: no $BUILD/smbkitd (build it first)" >&2; exit 1; }
parse_size "$SIZE"

bench_workdir /dev/shm smbkit-seq
LOGDIR="$WORK/logs"
mkdir -p "$LOGDIR"
head -c "$SIZE_BYTES" /dev/urandom >"$WORK/big.bin"
[[ $PAR =~ ^[1-9][0-9]*$ ]] || { echo "seq.sh: --par wants a positive count" >&2; exit 2; }
PART_BYTES=$((SIZE_BYTES / PAR))
(( PAR == 1 )) || head -c "$PART_BYTES" "$WORK/big.bin" >"$WORK/part.bin"
bench_cleanup_hook() {
	local mode
	[[ -n "${SEQ_KEEP_LOG:-}" ]] || return 0
	for mode in $MODES; do cat "$(server_log kit "$mode")" 2>/dev/null; done >"$SEQ_KEEP_LOG"
}
bench_user

# par_cmd OP: one of the --par clients' smbclient command (%i: its number).
par_cmd() {
	if [[ $1 == put ]]; then echo "put $WORK/part.bin part-%i.bin"; else echo "get part-%i.bin /dev/null"; fi
}

# xfer WHICH OP: one put or get of the file; its MiB/s goes into
# V[OP-WHICH] and the server's CPU µs per MiB into C[OP-WHICH].  A failure
# ends the script.
xfer() {
	local w=$1 op=$2 cmd="get big.bin /dev/null" c0 c1 t
	[[ $op == put ]] && cmd="put $WORK/big.bin big.bin"
	c0=$(cpu_s "$w")
	if (( PAR > 1 )); then
		t=$(smbc_par_s "$PAR" "$w" "$(par_cmd "$op")") || exit 1
		SIZE_MIB_DONE=$(awk -v b="$((PART_BYTES * PAR))" 'BEGIN{printf "%.1f", b/1048576}')
	else
		t=$(smbc_s "$w" "$cmd") || exit 1
		SIZE_MIB_DONE=$SIZE_MIB
	fi
	c1=$(cpu_s "$w")
	V[$op-$w]+=" $(rate "$SIZE_MIB_DONE" "$t" 0)"
	C[$op-$w]+=" $(cpu_us_per "$c0" "$c1" "$SIZE_MIB_DONE")"
	B[$op-$w]+=" $(client_busy_pct "$t")"
}
MEMROWS=

echo "# $(date -u +%FT%TZ) size $SIZE_MIB MiB, $REPS rounds, build $BUILD, load $(cut -d' ' -f1-3 /proc/loadavg)"
[[ -n "${BENCH_AB_BUILD:-}" ]] && echo "# --ab: the smbd columns are smbkitd from $BENCH_AB_BUILD"
printf '| mode | op | smbkitd MiB/s | smbd MiB/s | ratio | rounds kit / smbd | server CPU µs/MiB kit / smbd | smbclient busy %% kit / smbd | load |\n|---|---|---:|---:|---:|---|---|---|---|\n'
for mode in $MODES; do
	set_prot "$mode"
	start_servers "$mode" || exit 1
	declare -A V=() C=() B=()
	load0=$(loadavg)
	if [[ " $OPS " != *" put "* ]]; then
		for w in kit smbd; do
			if (( PAR > 1 )); then
				for ((i = 0; i < PAR; i++)); do cp "$WORK/part.bin" "${SHAREDIR[$w]}/part-$i.bin"; done
			else
				cp "$WORK/big.bin" "${SHAREDIR[$w]}/big.bin"
			fi
		done
	fi
	mem_watch_start
	for ((r = 0; r < REPS; r++)); do
		for w in kit smbd; do
			[[ " $OPS " == *" put "* ]] && xfer "$w" put
			[[ " $OPS " == *" get "* ]] && xfer "$w" get
		done
	done
	mem_watch_stop
	measure_mem
	MEMROWS+="| $mode | ${MEM_PEAK_RSS[kit]} | ${MEM_PEAK_RSS[smbd]} | $(ratio "${MEM_PEAK_RSS[kit]}" "${MEM_PEAK_RSS[smbd]}")"
	MEMROWS+=" | ${MEM_PEAK_PSS[kit]} | ${MEM_PEAK_PSS[smbd]} | $(ratio "${MEM_PEAK_PSS[kit]}" "${MEM_PEAK_PSS[smbd]}")"
	MEMROWS+=" | ${MEM_RSS[kit]} / ${MEM_RSS[smbd]} | ${MEM_PSS[kit]} / ${MEM_PSS[smbd]} | ${MEM_PEAK_PROCS[smbd]} / ${MEM_PROCS[smbd]} | $MEM_SAMPLES |"$'\n'
	if (( PAR > 1 )); then
		for ((i = 0; i < PAR; i++)); do
			cmp -s "${SHAREDIR[kit]}/part-$i.bin" "$WORK/part.bin" || { echo "seq.sh: smbkitd stored different data in part-$i.bin" >&2; exit 1; }
		done
	else
		[[ $(stat -c %s "${SHAREDIR[kit]}/big.bin") -eq $SIZE_BYTES ]] || { echo "seq.sh: wrong size on smbkitd" >&2; exit 1; }
		cmp -s "${SHAREDIR[kit]}/big.bin" "$WORK/big.bin" || { echo "seq.sh: smbkitd stored different data" >&2; exit 1; }
		smbc kit "get big.bin $WORK/back.bin" || exit 1
		cmp -s "$WORK/back.bin" "$WORK/big.bin" || { echo "seq.sh: smbkitd returned different data" >&2; exit 1; }
		rm -f "$WORK/back.bin"
	fi
	load1=$(loadavg)
	for op in $OPS; do
		# shellcheck disable=SC2086
		k=$(median ${V[$op-kit]}); s=$(median ${V[$op-smbd]})
		# shellcheck disable=SC2086
		printf '| %s | %s | %s | %s | %s |%s /%s | %s / %s | %s / %s | %s→%s |\n' "$mode" "$op" "$k" "$s" \
			"$(ratio "$k" "$s")" "${V[$op-kit]}" "${V[$op-smbd]}" \
			"$(median ${C[$op-kit]})" "$(median ${C[$op-smbd]})" \
			"$(median ${B[$op-kit]})" "$(median ${B[$op-smbd]})" "$load0" "$load1"
	done
	if [[ -n "$PERFDIR" ]]; then
		mkdir -p "$PERFDIR"
		for op in $OPS; do
			perf record -q -g -o "$PERFDIR/$op-$mode.data" -p "${PID[kit]}" 2>/dev/null &
			ppid=$!
			sleep 0.3
			if (( PAR > 1 )); then smbc_par_s "$PAR" kit "$(par_cmd "$op")" >/dev/null || exit 1
			elif [[ $op == get ]]; then smbc kit "get big.bin /dev/null" || exit 1
			else smbc kit "put $WORK/big.bin big.bin" || exit 1; fi
			kill -INT "$ppid"; wait "$ppid" 2>/dev/null
		done
	fi
	unset V C B
	stop_server kit; stop_server smbd
done
echo
during="sampled every $MEM_INTERVAL s; smbd's per-connection processes included"
[[ $MEM_INTERVAL == off ]] && during="n/a: the sampler was off"
echo "# memory of each mode (Rss/Pss of /proc/PID/smaps_rollup summed over each server's process tree): peak during the transfers ($during) and a second after them (those have exited)"
printf '| mode | smbkitd peak RSS MiB | smbd peak RSS MiB | ratio | smbkitd peak PSS MiB | smbd peak PSS MiB | ratio | after: RSS kit / smbd | after: PSS kit / smbd | smbd processes peak / after | samples |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---|---|---|---:|\n'
printf '%s' "$MEMROWS"
