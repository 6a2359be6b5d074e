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

# server_mem WHICH: "VmRSS_KiB VmHWM_KiB PROCESSES", from /proc/PID/status,
# summed over the server and all its descendants (for smbkitd one process).
# VmHWM is each process's peak resident set since it started, so the sum
# only covers processes still alive: smbd's per-connection children that
# have exited take their peaks with them.
server_mem() {
	local pid files=()
	for pid in $(descendants "${PID[$1]}"); do files+=("/proc/$pid/status"); done
	[[ ${#files[@]} -gt 0 ]] || { echo "0 0 0"; return 1; }
	cat "${files[@]}" 2>/dev/null | awk '
		/^Name:/ { n++ }
		/^VmRSS:/ { rss += $2 }
		/^VmHWM:/ { hwm += $2 }
		END { printf "%d %d %d\n", rss, hwm, n }'
}

# measure_mem: fills MEM_RSS, MEM_HWM (MiB, one decimal) and MEM_PROCS for
# both servers.  Waits a second first so that smbd's children of the
# connections just closed have exited.
declare -A MEM_RSS=() MEM_HWM=() MEM_PROCS=()
measure_mem() {
	local w rss hwm n
	sleep 1
	for w in kit smbd; do
		read -r rss hwm n < <(server_mem "$w")
		MEM_RSS[$w]=$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')
		MEM_HWM[$w]=$(awk -v k="$hwm" 'BEGIN{printf "%.1f", k/1024}')
		MEM_PROCS[$w]=$n
	done
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
	cat >"$WORK/kit/smbkitd.conf" <<EOF
[global]
	users file = $WORK/kit/users
	listen = 127.0.0.1:${PORT[kit]}
	log level = warn
	max connections = 0
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
		if [[ ! -s "$WORK/samba/private/passdb.tdb" ]]; then
			printf '%s\n%s\n' "$PASS" "$PASS" | smbpasswd -c "$WORK/samba/smb.conf" -s -a "$USER_NAME" >"$LOGDIR/smbpasswd.log" 2>&1 \
				|| { cat "$LOGDIR/smbpasswd.log" >&2; err "smbpasswd failed"; return 1; }
		fi
		# smbd's parent signals its whole process group (kill(0, SIGTERM))
		# when it exits; with --no-process-group that would be ours, so it
		# gets a session of its own (setsid execs it: same pid).
		setsid smbd -F --no-process-group -s "$WORK/samba/smb.conf" </dev/null >>"$(server_log smbd "$mode")" 2>&1 &
		PID[smbd]=$!
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
# (connect and logon included)
smbc_s() {
	local t0 t1
	t0=$(now)
	smbc "$@" || return 1
	t1=$(now)
	elapsed "$t0" "$t1"
}

set_prot off
