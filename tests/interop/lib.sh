# Shared helpers for the interop tiers: start smbkitd on a free loopback
# port with a throw-away share and users file, wait until it serves, stop it
# on exit, keep its log, and fail when a sanitizer reported anything.
#
# Source it from bash:
#     . tests/interop/lib.sh
#     smbkit_start || exit 1      # sets SMBKIT_PORT, SMBKIT_SHARE_DIR, ...
#     ... talk to 127.0.0.1:$SMBKIT_PORT ...
#     smbkit_stop                 # non-zero if the server misbehaved
#
# Environment (all optional):
#   BUILD_DIR          build directory holding smbkitd and smbkit-passwd
#                      (default: <repo>/build)
#   SMBKIT_TIER        name used for the kept log file (default: script name)
#   SMBKIT_LOG_DIR     where logs are kept (default: $BUILD_DIR/test-logs)
#   SMBKIT_LOG_LEVEL   server --log-level (default: info)
#   SMBKIT_KEEP_TMP=1  keep the temporary share directory after the run
#   SMBKIT_START_TIMEOUT  seconds to wait for the port (default: 30)
#   SMBKIT_CONFIG_EXTRA   smbkitd config text (e.g. more [share] sections)
#                      passed with --config; "@SMBKIT_TMP@" in it stands for
#                      the run's temporary directory, and every "path ="
#                      under it is created (mode 1777) before the start
#
# Every exported SMBKIT_* variable is visible to commands run in between, so
# python drivers read SMBKIT_PORT, SMBKIT_USER, SMBKIT_PASS, SMBKIT_SHARE_NAME.

SMBKIT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export SMBKIT_ROOT
: "${BUILD_DIR:=$SMBKIT_ROOT/build}"
# Relative BUILD_DIR values are taken from the repository root.
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$SMBKIT_ROOT/$BUILD_DIR" ;; esac
export BUILD_DIR

export SMBKIT_USER="${SMBKIT_USER:-testuser}"
# ASCII without '%' so it survives smbclient/smbtorture "-U user%pass".
export SMBKIT_PASS="${SMBKIT_PASS:-Smbkit-Test.1}"
export SMBKIT_SHARE_NAME="${SMBKIT_SHARE_NAME:-share}"
# The SMB user acts as whoever runs the tests (root in CI): that account
# exists on every machine and owns the scratch share.
export SMBKIT_UNIX_USER="${SMBKIT_UNIX_USER:-$(id -un)}"
export SMBKIT_HOST=127.0.0.1
: "${SMBKIT_TIER:=$(basename "${0%.*}")}"
: "${SMBKIT_LOG_DIR:=$BUILD_DIR/test-logs}"
: "${SMBKIT_LOG_LEVEL:=info}"
: "${SMBKIT_START_TIMEOUT:=30}"

# Sanitizer settings for ASan/UBSan builds; harmless for a normal build.
# Reports go to the server's stderr, i.e. into its log, where
# smbkit_check_log finds them.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=0:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

SMBKIT_PID=
SMBKIT_TMP=
SMBKIT_PORT=
SMBKIT_LOG=
SMBKIT_STOPPED=0

smbkit_log() { echo "# [$SMBKIT_TIER] $*" >&2; }

# Prints a TCP port that nothing listens on right now.  The kernel picks it
# (bind to port 0), so parallel runs do not collide; the small race until
# smbkitd binds it is covered by the retry in smbkit_start.
smbkit_free_port() {
	if [[ -x /usr/bin/python3 ]]; then
		/usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
	else
		local p
		while :; do
			p=$((20000 + RANDOM % 40000))
			if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
				echo "$p"
				return
			fi
		done
	fi
}

# True once 127.0.0.1:$1 accepts a TCP connection.
smbkit_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Fails (and prints the offending lines) when the log holds a sanitizer
# report.  Used after every run, and by test.sh on kept logs.
smbkit_check_log() {
	local log="${1:-$SMBKIT_LOG}"
	[[ -f "$log" ]] || return 0
	if grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer|UndefinedBehaviorSanitizer' "$log"; then
		smbkit_log "SANITIZER REPORT in $log:"
		grep -n -E -A 30 'AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer|UndefinedBehaviorSanitizer' "$log" | head -80 >&2
		return 1
	fi
	return 0
}

smbkit_start() {
	local smbkitd="$BUILD_DIR/smbkitd" passwd="$BUILD_DIR/smbkit-passwd"
	if [[ ! -x "$smbkitd" || ! -x "$passwd" ]]; then
		smbkit_log "FAIL: $smbkitd or $passwd is missing; build first (make, or scripts/test.sh)"
		return 1
	fi

	# A second call (a restart after a crash) keeps the share, the users
	# file and the log of the first.
	if [[ -z "$SMBKIT_TMP" ]]; then
		SMBKIT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/smbkit-$SMBKIT_TIER.XXXXXX")
		chmod 755 "$SMBKIT_TMP"
		export SMBKIT_SHARE_DIR="$SMBKIT_TMP/share"
		export SMBKIT_USERS_FILE="$SMBKIT_TMP/users"
		mkdir -p "$SMBKIT_SHARE_DIR" "$SMBKIT_LOG_DIR"
		# The server may run file operations as the mapped Unix user: let
		# any identity write to this scratch share.
		chmod 1777 "$SMBKIT_SHARE_DIR"
		SMBKIT_LOG="$SMBKIT_LOG_DIR/$SMBKIT_TIER.log"
		export SMBKIT_LOG
		: >"$SMBKIT_LOG"
		trap smbkit_cleanup EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi

	if [[ ! -s "$SMBKIT_USERS_FILE" ]] && ! printf '%s\n' "$SMBKIT_PASS" | "$passwd" -f "$SMBKIT_USERS_FILE" add "$SMBKIT_USER" \
		--unix-user "$SMBKIT_UNIX_USER" --password-stdin \
		>>"$SMBKIT_LOG" 2>&1; then
		smbkit_log "FAIL: smbkit-passwd could not create $SMBKIT_USERS_FILE:"
		sed 's/^/#   /' "$SMBKIT_LOG" >&2
		return 1
	fi

	local extra=() dir
	if [[ -n "${SMBKIT_CONFIG_EXTRA:-}" ]]; then
		printf '%s\n' "${SMBKIT_CONFIG_EXTRA//@SMBKIT_TMP@/$SMBKIT_TMP}" >"$SMBKIT_TMP/extra.conf"
		while IFS= read -r dir; do
			[[ $dir == "$SMBKIT_TMP"/* ]] && mkdir -p "$dir" && chmod 1777 "$dir"
		done < <(sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*//p' "$SMBKIT_TMP/extra.conf")
		extra=(--config "$SMBKIT_TMP/extra.conf")
	fi

	local attempt waited
	for attempt in 1 2 3; do
		SMBKIT_PORT=$(smbkit_free_port)
		export SMBKIT_PORT
		echo "=== smbkitd start (attempt $attempt, port $SMBKIT_PORT) $(date -u +%FT%TZ)" >>"$SMBKIT_LOG"
		"$smbkitd" --foreground \
			--listen "127.0.0.1:$SMBKIT_PORT" \
			--share "$SMBKIT_SHARE_NAME=$SMBKIT_SHARE_DIR" \
			--users "$SMBKIT_USERS_FILE" \
			--log-level "$SMBKIT_LOG_LEVEL" \
			"${extra[@]}" \
			</dev/null >>"$SMBKIT_LOG" 2>&1 &
		SMBKIT_PID=$!
		export SMBKIT_PID
		SMBKIT_STOPPED=0
		# Poll every 0.1 s: the port opening is the readiness signal; the
		# process dying first means a start-up error (or a lost port race).
		for ((waited = 0; waited < SMBKIT_START_TIMEOUT * 10; waited++)); do
			if ! kill -0 "$SMBKIT_PID" 2>/dev/null; then
				break
			fi
			if smbkit_port_open "$SMBKIT_PORT"; then
				smbkit_log "smbkitd pid $SMBKIT_PID serving //127.0.0.1/$SMBKIT_SHARE_NAME on port $SMBKIT_PORT (log: $SMBKIT_LOG)"
				return 0
			fi
			sleep 0.1
		done
		if kill -0 "$SMBKIT_PID" 2>/dev/null; then
			smbkit_log "FAIL: smbkitd did not accept connections within ${SMBKIT_START_TIMEOUT}s"
			kill -KILL "$SMBKIT_PID" 2>/dev/null
			wait "$SMBKIT_PID" 2>/dev/null
			SMBKIT_STOPPED=1
			break
		fi
		wait "$SMBKIT_PID" 2>/dev/null
		smbkit_log "smbkitd exited with status $? before serving (attempt $attempt)"
		SMBKIT_STOPPED=1
	done
	smbkit_log "FAIL: smbkitd did not start; last lines of $SMBKIT_LOG:"
	tail -n 25 "$SMBKIT_LOG" | sed 's/^/#   /' >&2
	return 1
}

# Adds the SMB users ua (password Ua-Pass.1, acting as the Unix user
# nobody) and ub (Ub-Pass.1, acting as daemon) to the running server, for
# the tiers that check one user against another, and makes it read the
# users file again (SIGHUP).  Sets NOGROUP to nobody's group.
smbkit_add_nobody_daemon_users() {
	printf 'Ua-Pass.1\n' | "$BUILD_DIR/smbkit-passwd" -f "$SMBKIT_USERS_FILE" add ua --unix-user nobody --password-stdin >/dev/null &&
		printf 'Ub-Pass.1\n' | "$BUILD_DIR/smbkit-passwd" -f "$SMBKIT_USERS_FILE" add ub --unix-user daemon --password-stdin >/dev/null &&
		kill -HUP "$SMBKIT_PID"
	NOGROUP=$(id -gn nobody)
}

# smbkit_check STATUS NAME: prints "ok - NAME" when STATUS is 0, else "not ok -
# NAME", counting in the caller's pass and fail variables.
smbkit_check() {
	if [[ $1 == 0 ]]; then
		pass=$((pass + 1)); echo "ok - $2"
	else
		fail=$((fail + 1)); echo "not ok - $2"
	fi
}

# Stops the server with SIGTERM (so a sanitizer build runs its leak check
# at exit), then checks its exit status and its log.  Returns non-zero if
# the server crashed, hung on shutdown or reported a sanitizer error.
smbkit_stop() {
	local rc=0 status i
	if [[ -n "$SMBKIT_PID" && "$SMBKIT_STOPPED" == 0 ]]; then
		SMBKIT_STOPPED=1
		if ! kill -0 "$SMBKIT_PID" 2>/dev/null; then
			wait "$SMBKIT_PID" 2>/dev/null
			status=$?
			smbkit_log "FAIL: smbkitd died during the tests (exit status $status)"
			rc=1
		else
			kill -TERM "$SMBKIT_PID" 2>/dev/null
			for ((i = 0; i < 200; i++)); do
				kill -0 "$SMBKIT_PID" 2>/dev/null || break
				sleep 0.1
			done
			if kill -0 "$SMBKIT_PID" 2>/dev/null; then
				smbkit_log "FAIL: smbkitd did not exit within 20s of SIGTERM; killing it"
				kill -KILL "$SMBKIT_PID" 2>/dev/null
				rc=1
			fi
			wait "$SMBKIT_PID" 2>/dev/null
			status=$?
			# 0: clean exit; 143: default SIGTERM action.  Anything else is
			# a crash, an abort or a sanitizer's exit code (LSan: 23).
			if [[ $rc == 0 && $status != 0 && $status != 143 ]]; then
				smbkit_log "FAIL: smbkitd exited with status $status after SIGTERM"
				rc=1
			fi
		fi
		echo "=== smbkitd stopped $(date -u +%FT%TZ)" >>"$SMBKIT_LOG"
	fi
	smbkit_check_log "$SMBKIT_LOG" || rc=1
	return $rc
}

# A man-in-the-middle between a client and the server, for the attack
# tiers: smbkit_proxy_start MODE LOG starts tests/interop/mitm_proxy.py in
# MODE (see its --mode) in front of SMBKIT_PORT, logging to LOG, and sets
# SMBKIT_PROXY_PORT (where clients connect) and SMBKIT_PROXY_PID; fails if
# it does not listen within 10 s.  smbkit_proxy_stop stops it (also done
# by smbkit_cleanup).  One proxy at a time.
SMBKIT_PROXY_PID=
SMBKIT_PROXY_PORT=
smbkit_proxy_start() {
	local mode=$1 log=$2 port_file="$2.port" py=python3 i
	[[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
	smbkit_proxy_stop
	rm -f "$port_file"
	"$py" "$SMBKIT_ROOT/tests/interop/mitm_proxy.py" --target "127.0.0.1:$SMBKIT_PORT" --port-file "$port_file" \
		--log "$log" --mode "$mode" --lifetime 180 </dev/null >"$log.stderr" 2>&1 &
	SMBKIT_PROXY_PID=$!
	for ((i = 0; i < 100; i++)); do
		[[ -s "$port_file" ]] && break
		kill -0 "$SMBKIT_PROXY_PID" 2>/dev/null || break
		sleep 0.1
	done
	SMBKIT_PROXY_PORT=$(cat "$port_file" 2>/dev/null)
	if [[ -z "$SMBKIT_PROXY_PORT" ]]; then
		smbkit_log "proxy did not start:"
		sed 's/^/#   /' "$log.stderr" >&2
		smbkit_proxy_stop
		return 1
	fi
}
smbkit_proxy_stop() {
	if [[ -n "$SMBKIT_PROXY_PID" ]]; then
		kill -TERM "$SMBKIT_PROXY_PID" 2>/dev/null
		wait "$SMBKIT_PROXY_PID" 2>/dev/null
	fi
	SMBKIT_PROXY_PID=
	SMBKIT_PROXY_PORT=
}

smbkit_cleanup() {
	local rc=$?
	smbkit_proxy_stop
	smbkit_stop || rc=1
	if [[ -n "$SMBKIT_TMP" && -d "$SMBKIT_TMP" && "${SMBKIT_KEEP_TMP:-0}" != 1 ]]; then
		rm -rf "$SMBKIT_TMP"
	fi
	SMBKIT_TMP=
	exit $rc
}
