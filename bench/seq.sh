#!/usr/bin/env bash
# bench/seq.sh [--size SIZE] [--reps N] [--modes "off sign encrypt"] [--ops "put get"] [--perf DIR]
#
# Only the sequential rows of bench/run.sh: smbclient put / get of one large
# file against smbkitd and Samba's smbd, interleaved (kit, smbd, kit, ...),
# in each security mode, with the same server settings as run.sh.  Prints
# one line per mode and direction: median MiB/s of each server and the
# ratio smbkitd/smbd of the same run, with the load average.
#
# SMBKIT_BUILD=DIR picks the smbkitd build (default build-release; it is not
# rebuilt here).  --perf DIR records `perf record -g` of smbkitd during one
# extra get and one extra put per mode into DIR/{get,put}-MODE.data.
# --ops get measures only get (the file is placed in both shares first).
# The environment reaches smbkitd: SMBKITD_ZEROCOPY=0 or SMBKITD_IO_THREADS=0
# compare its paths on one binary.
# SEQ_KEEP_LOG=FILE keeps the smbkitd log (e.g. of a sanitizer build).
# Must run as root (smbd).  Scratch on /dev/shm (tmpfs).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${SMBKIT_BUILD:-$ROOT/build-release}
SIZE=512M REPS=3 MODES="off sign encrypt" OPS="put get" PERFDIR=
while [[ $# -gt 0 ]]; do
	case "$1" in
	--size) SIZE=$2; shift ;;
	--reps) REPS=$2; shift ;;
	--modes) MODES=$2; shift ;;
	--ops) OPS=$2; shift ;;
	--perf) PERFDIR=$2; shift ;;
	-h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "seq.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
[[ $(id -u) -eq 0 ]] || { echo "seq.sh: must run as root" >&2; exit 1; }
[[ -x "$BUILD/smbkitd" ]] || { echo "seq.sh: no $BUILD/smbkitd (build it first)" >&2; exit 1; }
SIZE_BYTES=$(numfmt --from=iec "${SIZE^^}") || exit 2
SIZE_MIB=$(awk -v b="$SIZE_BYTES" 'BEGIN{printf "%.1f", b/1048576}')
PY=/usr/bin/python3

WORK=$(mktemp -d /dev/shm/smbkit-seq.XXXXXX)
chmod 755 "$WORK"
USER_NAME=$(id -un) PASS="Bench-Pass.1" SHARE=bench
declare -A PORT PID SHAREDIR
SHAREDIR[kit]="$WORK/share-smbkitd"; SHAREDIR[smbd]="$WORK/share-smbd"
mkdir -p "${SHAREDIR[kit]}" "${SHAREDIR[smbd]}" "$WORK/kit" "$WORK/samba"/{private,lock,state,cache,pid,ncalrpc}
chmod 1777 "${SHAREDIR[kit]}" "${SHAREDIR[smbd]}"
head -c "$SIZE_BYTES" /dev/urandom >"$WORK/big.bin"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
now() { date +%s.%N; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

stop_server() {
	local pid=${PID[$1]:-} i
	[[ -n "$pid" ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	PID[$1]=
}
cleanup() {
	stop_server kit; stop_server smbd
	[[ -n "${SEQ_KEEP_LOG:-}" ]] && cp "$WORK/smbkitd.log" "$SEQ_KEEP_LOG"
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT

printf '%s\n' "$PASS" | "$BUILD/smbkit-passwd" -f "$WORK/kit/users" add "$USER_NAME" \
	--unix-user "$USER_NAME" --password-stdin >/dev/null || exit 1

start_servers() {
	local mode=$1 signing=auto encrypt=if_required algos= S="$WORK/samba" i
	case "$mode" in
	sign) signing=mandatory ;;
	encrypt) encrypt=required; algos="server smb3 encryption algorithms = AES-128-GCM" ;;
	esac
	PORT[kit]=$(free_port); PORT[smbd]=$(free_port)
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
	"$BUILD/smbkitd" --foreground -c "$WORK/kit/smbkitd.conf" </dev/null >>"$WORK/smbkitd.log" 2>&1 &
	PID[kit]=$!
	if [[ ! -s "$S/private/passdb.tdb" ]]; then
		printf '%s\n%s\n' "$PASS" "$PASS" | smbpasswd -c "$S/smb.conf" -s -a "$USER_NAME" >/dev/null || exit 1
	fi
	setsid smbd -F --no-process-group -s "$S/smb.conf" </dev/null >>"$WORK/smbd.log" 2>&1 &
	PID[smbd]=$!
	for ((i = 0; i < 300; i++)); do
		port_open "${PORT[kit]}" && port_open "${PORT[smbd]}" && return 0
		sleep 0.1
	done
	echo "seq.sh: servers did not start" >&2; tail "$WORK/smbkitd.log" "$WORK/smbd.log" >&2; exit 1
}

PROT=off
smbc() { # smbc which cmd -> elapsed seconds on stdout
	local which=$1 cmd=$2 extra=() t0 t1
	[[ $PROT == encrypt ]] && extra+=(--option='client smb3 encryption algorithms=AES-128-GCM')
	t0=$(now)
	if ! smbclient -s /dev/null "//127.0.0.1/$SHARE" -p "${PORT[$which]}" -U "$USER_NAME%$PASS" \
		-m SMB3_11 --client-protection="$PROT" "${extra[@]}" -c "$cmd" >"$WORK/out" 2>&1 ||
		grep -q NT_STATUS_ "$WORK/out"; then
		echo "seq.sh: smbclient against $which failed: $cmd" >&2; cat "$WORK/out" >&2; exit 1
	fi
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.4f", b-a}'
}
# CPU seconds used so far by a server: its own and its reaped children's
# (smbd forks one process per connection and reaps it when it ends).
cpu_s() { sleep 0.3; awk -v hz="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); split($0, f, " "); printf "%.3f", (f[12]+f[13]+f[14]+f[15])/hz}' "/proc/${PID[$1]}/stat"; }
mibs() { awk -v m="$SIZE_MIB" -v t="$1" 'BEGIN{printf "%.0f", m/t}'; }

echo "# $(date -u +%FT%TZ) size $SIZE_MIB MiB, $REPS rounds, build $BUILD, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| mode | op | smbkitd MiB/s | smbd MiB/s | ratio | rounds kit / smbd | server CPU µs/MiB kit / smbd | load |\n|---|---|---:|---:|---:|---|---|---|\n'
for mode in $MODES; do
	PROT=$mode
	start_servers "$mode"
	declare -A V=() C=()
	load0=$(cut -d' ' -f1 /proc/loadavg)
	if [[ " $OPS " != *" put "* ]]; then
		cp "$WORK/big.bin" "${SHAREDIR[kit]}/big.bin"; cp "$WORK/big.bin" "${SHAREDIR[smbd]}/big.bin"
	fi
	for ((r = 0; r < REPS; r++)); do
		for w in kit smbd; do
			c0=$(cpu_s "$w")
			if [[ " $OPS " == *" put "* ]]; then
				V[put-$w]+=" $(mibs "$(smbc "$w" "put $WORK/big.bin big.bin")")"
				c1=$(cpu_s "$w")
				C[put-$w]+=" $(awk -v a="$c0" -v b="$c1" -v m="$SIZE_MIB" 'BEGIN{printf "%.0f", (b-a)*1000000/m}')"
				c0=$c1
			fi
			if [[ " $OPS " == *" get "* ]]; then
				V[get-$w]+=" $(mibs "$(smbc "$w" "get big.bin /dev/null")")"
				c2=$(cpu_s "$w")
				C[get-$w]+=" $(awk -v a="$c0" -v b="$c2" -v m="$SIZE_MIB" 'BEGIN{printf "%.0f", (b-a)*1000000/m}')"
			fi
		done
	done
	[[ $(stat -c %s "${SHAREDIR[kit]}/big.bin") -eq $SIZE_BYTES ]] || { echo "seq.sh: wrong size on smbkitd" >&2; exit 1; }
	cmp -s "${SHAREDIR[kit]}/big.bin" "$WORK/big.bin" || { echo "seq.sh: smbkitd stored different data" >&2; exit 1; }
	smbc kit "get big.bin $WORK/back.bin" >/dev/null
	cmp -s "$WORK/back.bin" "$WORK/big.bin" || { echo "seq.sh: smbkitd returned different data" >&2; exit 1; }
	rm -f "$WORK/back.bin"
	load1=$(cut -d' ' -f1 /proc/loadavg)
	for op in $OPS; do
		# shellcheck disable=SC2086
		k=$(median ${V[$op-kit]}); s=$(median ${V[$op-smbd]})
		# shellcheck disable=SC2086
		printf '| %s | %s | %s | %s | %s |%s /%s | %s / %s | %s→%s |\n' "$mode" "$op" "$k" "$s" \
			"$(awk -v a="$k" -v b="$s" 'BEGIN{printf "%.2f", a/b}')" "${V[$op-kit]}" "${V[$op-smbd]}" \
			"$(median ${C[$op-kit]})" "$(median ${C[$op-smbd]})" "$load0" "$load1"
	done
	if [[ -n "$PERFDIR" ]]; then
		mkdir -p "$PERFDIR"
		for op in $OPS; do
			perf record -q -g -o "$PERFDIR/$op-$mode.data" -p "${PID[kit]}" 2>/dev/null &
			ppid=$!
			sleep 0.3
			if [[ $op == get ]]; then smbc kit "get big.bin /dev/null" >/dev/null
			else smbc kit "put $WORK/big.bin big.bin" >/dev/null; fi
			kill -INT "$ppid"; wait "$ppid" 2>/dev/null
		done
	fi
	unset V C
	stop_server kit; stop_server smbd
done
