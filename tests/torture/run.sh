#!/usr/bin/env bash
# Interop tier 3: Samba's smbtorture smb2 suites against smbkitd, judged by a
# checked-in list of expected passes (tests/torture/expected-pass.txt).
#
#   tests/torture/run.sh [SUITE...]             run suites, compare with the list
#   tests/torture/run.sh --discover [SUITE...]  run suites, print the names of
#                                               the tests that pass (to add them)
#
# SUITE is any smbtorture name: a suite (smb2.read) or one test
# (smb2.session.reauth1).  Without SUITEs the default set below runs.
#
# The run fails when a test listed in expected-pass.txt (within the suites
# that ran) did not succeed; tests that succeed but are not listed are
# printed as "newly passing" so they get added.  A missing result (smbtorture
# crashed, or hit the time limit) counts as a failure.
#
# Starts its own smbkitd (tests/interop/lib.sh) unless SMBKIT_PORT is set.
# Environment: TORTURE_SUITE_TIMEOUT (seconds per smbtorture run, default
# 300), TORTURE_EXPECTED (list file), TORTURE_OUT (directory for raw output),
# TORTURE_MAXOPENFILES (smb2.maxfid's limit, default 20000).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
EXPECTED="${TORTURE_EXPECTED:-$HERE/expected-pass.txt}"
SUITE_TIMEOUT="${TORTURE_SUITE_TIMEOUT:-300}"
# smb2.maxfid opens files until the server refuses or this many are open
# (smbtorture's default, 0x11000, takes minutes); above the server's default
# per-connection limit of 16384 so the limit itself is exercised.
MAXOPENFILES="${TORTURE_MAXOPENFILES:-20000}"

DEFAULT_SUITES=(
	# issue 2: the server core
	smb2.connect smb2.read smb2.rw smb2.dir smb2.create smb2.getinfo
	smb2.setinfo smb2.rename smb2.compound smb2.compound_find smb2.credits
	smb2.maxfid smb2.tcon smb2.scan
	smb2.session.reauth1 smb2.session.reauth2 smb2.session.reauth3
	smb2.session.reauth4 smb2.session.reauth5 smb2.session.reauth6
	smb2.ioctl smb2.streams smb2.session-id smb2.compound_async
	# issue 4: share modes, locks, oplocks, leases, durable handles, notify
	smb2.sharemode smb2.deny smb2.delete-on-close-perms smb2.lock
	smb2.oplock smb2.lease
	smb2.durable-open smb2.durable-open-disconnect smb2.durable-v2-open
	smb2.session.reconnect1 smb2.session.reconnect2
	smb2.session.two_logoff smb2.session.ntlmssp_bug14932
	smb2.durable-v2-delay smb2.kernel-oplocks smb2.check-sharemode smb2.fileid
	smb2.mkdir smb2.async_dosmode smb2.ioctl-on-stream smb2.sdread smb2.acls
	# found passing in the whole-suite run of session 5
	smb2.timestamps smb2.winattr smb2.secleak
	# names with spaces, counted since session 13
	smb2.charset
	# replay one by one: most of the suite needs multichannel (not built)
	# and waits out smbtorture's timeouts
	smb2.replay.replay-commands smb2.replay.replay-regular smb2.replay.replay7
	smb2.replay.dhv2-pending1n-vs-violation-lease-ack-windows
	smb2.replay.dhv2-pending1n-vs-violation-lease-close-windows
	smb2.replay.dhv2-pending1n-vs-oplock-windows smb2.replay.dhv2-pending1n-vs-lease-windows
	smb2.replay.dhv2-pending1l-vs-oplock-windows smb2.replay.dhv2-pending1l-vs-lease-windows
	smb2.replay.dhv2-pending1o-vs-oplock-windows smb2.replay.dhv2-pending1o-vs-lease-windows
	smb2.replay.replay-dhv2-oplock1 smb2.replay.replay-dhv2-oplock2 smb2.replay.replay-dhv2-oplock3
	smb2.replay.replay-dhv2-oplock-lease smb2.replay.replay-dhv2-lease1 smb2.replay.replay-dhv2-lease2
	smb2.replay.replay-dhv2-lease3 smb2.replay.replay-dhv2-lease-oplock
	# notify one by one: the whole suite takes longer than the per-run
	# limit (mask alone ~80 s)
	smb2.notify.mask-change smb2.notify.valid-req smb2.notify.tcon smb2.notify.dir smb2.notify.double smb2.notify.rec
	smb2.notify.overflow smb2.notify.basedir smb2.notify.rmdir1 smb2.notify.rmdir2
	smb2.notify.rmdir3 smb2.notify.rmdir4 smb2.notify.tdis smb2.notify.tdis1
	smb2.notify.close smb2.notify.logoff smb2.notify.invalid-reauth smb2.notify.file
	smb2.notify.tcp smb2.notify.handle-permissions smb2.notify.session-reconnect
	smb2.notify.mask smb2.notify.tree
	# issue 5: signing and encryption algorithms
	smb2.session.signing-hmac-sha-256 smb2.session.signing-aes-128-cmac
	smb2.session.signing-aes-128-gmac
	smb2.session.encryption-aes-128-ccm smb2.session.encryption-aes-128-gcm
	smb2.session.encryption-aes-256-ccm smb2.session.encryption-aes-256-gcm
)

DISCOVER=0
if [[ "${1:-}" == --discover ]]; then
	DISCOVER=1
	shift
fi
if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then
	sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
fi
if [[ $# -gt 0 ]]; then SUITES=("$@"); else SUITES=("${DEFAULT_SUITES[@]}"); fi

if ! command -v smbtorture >/dev/null; then
	echo "not ok - smbtorture is not installed (package samba-testsuite; run scripts/deps.sh)"
	exit 1
fi

OWN_SERVER=0
if [[ -z "${SMBKIT_PORT:-}" ]]; then
	export SMBKIT_TIER="${SMBKIT_TIER:-torture}"
	# The shares and settings some tests need (server.conf; the torture
	# tier of scripts/test.sh passes the same file).
	SMBKIT_CONFIG_EXTRA=$(cat "$HERE/server.conf")
	export SMBKIT_CONFIG_EXTRA
	. "$HERE/../interop/lib.sh"
	smbkit_start || exit 1
	OWN_SERVER=1
fi
HOST="${SMBKIT_HOST:-127.0.0.1}"
SHARE="${SMBKIT_SHARE_NAME:-share}"
SMBKIT_USER="${SMBKIT_USER:-testuser}"

OUTDIR="${TORTURE_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/smbkit-torture.XXXXXX")}"
mkdir -p "$OUTDIR"
declare -A RESULT    # test name -> success|failure|error|skip|xfail|uxsuccess|noresult
server_failed=0

# run_torture NAME OUT: one bounded smbtorture run; records every reported
# outcome in RESULT and returns smbtorture's (or timeout's) exit status.
run_torture() {
	local what=$1 out=$2 rc current="" line status name
	# -s /dev/null: the machine's smb.conf must not change the client.
	# --fullname: results are named smb2.read.eof, not eof.
	# timeout -k: a hung server or client cannot eat the CI budget.
	# The subshell keeps bash's "Aborted" job notice in the output file.
	(timeout -k 10 "$SUITE_TIMEOUT" smbtorture -s /dev/null "//$HOST/$SHARE" \
		-p "$SMBKIT_PORT" -U "$SMBKIT_USER%$SMBKIT_PASS" \
		--option=torture:maxopenfiles="$MAXOPENFILES" \
		--format=subunit --fullname "$what"; exit $?) >"$out" 2>&1 </dev/null
	rc=$?
	# Subunit v1 lines: "test: NAME", then one of "success: NAME",
	# "failure: NAME [", "error: NAME [", "skip: NAME [", "xfail: ...".
	# NAME runs to the end of the line or the " [" of the details: some
	# names have spaces ("smb2.delete-on-close-perms.OVERWRITE_IF Existing"
	# is another test than "...OVERWRITE_IF").
	while IFS= read -r line; do
		if [[ "$line" =~ ^(test|success|successful|failure|fail|error|skip|xfail|uxsuccess):\ (.*[^ ])\ *$ ]]; then
			status=${BASH_REMATCH[1]}
			name=${BASH_REMATCH[2]}
			[[ "$name" =~ ^(.*[^ ])\ +\[(\ *multipart)?$ ]] && name=${BASH_REMATCH[1]}
			case $status in
			test) current=$name; continue ;;
			successful) status=success ;;
			fail) status=failure ;;
			esac
			RESULT[$name]=$status
			[[ "$name" == "$current" ]] && current=""
		fi
	done <"$out"
	# A test that started but never reported was cut short.
	if [[ -n "$current" ]]; then
		RESULT[$current]=noresult
	fi
	return $rc
}

# The names of the tests in a suite: "--list" prints "smb2.read.eof.eof"
# (suite, test case, test) where results say "smb2.read.eof".
list_tests() {
	smbtorture -s /dev/null //127.0.0.1/x --list "$1" 2>/dev/null | while IFS= read -r t; do
		[[ "$t" == smb2.* ]] || continue
		local last=${t##*.} rest=${t%.*}
		[[ "${rest##*.}" == "$last" ]] && t=$rest
		# --list matches prefixes: smb2.compound also lists smb2.compound_find.
		[[ "$t" == "$1" || "$t" == "$1".* ]] && echo "$t"
	done
}

# A crashed server would fail every later suite for the same reason:
# record it, then restart so the rest of the run still says something.
check_server() {
	if [[ $OWN_SERVER == 1 ]] && ! kill -0 "$SMBKIT_PID" 2>/dev/null; then
		echo "not ok - smbkitd died during $1"
		server_failed=1
		smbkit_stop
		smbkit_start || exit 1
	fi
}

# Runs one suite and records every test's outcome in RESULT.  When the run
# ends abnormally (smbtorture crashed or timed out), the tests it never got
# to are run one by one, so one bad test does not hide the rest.
run_suite() {
	local suite=$1 rc start end note="" t
	start=$(date +%s)
	run_torture "$suite" "$OUTDIR/$suite.subunit"
	rc=$?
	if [[ $rc -eq 124 || $rc -eq 137 ]]; then
		note=" (TIMED OUT after ${SUITE_TIMEOUT}s)"
	elif [[ $rc -ge 128 ]]; then
		note=" (smbtorture killed by signal $((rc - 128)))"
	fi
	check_server "$suite"
	if [[ -n "$note" ]]; then
		while IFS= read -r t; do
			[[ -n "${RESULT[$t]:-}" ]] && continue
			run_torture "$t" "$OUTDIR/$t.subunit"
			check_server "$t"
		done < <(list_tests "$suite")
		note+=", then the rest one by one"
	fi
	end=$(date +%s)
	local ns=0 nf=0 n
	for n in "${!RESULT[@]}"; do
		[[ "$n" == "$suite" || "$n" == "$suite".* ]] || continue
		if [[ ${RESULT[$n]} == success ]]; then ns=$((ns + 1)); else nf=$((nf + 1)); fi
	done
	printf '# %-28s %3ds  %3d succeeded, %3d did not%s\n' "$suite" $((end - start)) "$ns" "$nf" "$note" >&2
	if [[ $ns -eq 0 && $nf -eq 0 ]]; then
		# Nothing parsed: connection refused, bad name... show why.
		RESULT[$suite]=noresult
		tail -n 8 "$OUTDIR/$suite.subunit" | sed 's/^/#     /' >&2
	fi
}

for suite in "${SUITES[@]}"; do
	run_suite "$suite"
done

in_suites() { # is test $1 covered by the suites that ran?
	local s
	for s in "${SUITES[@]}"; do
		[[ "$1" == "$s" || "$1" == "$s".* ]] && return 0
	done
	return 1
}

if [[ $DISCOVER == 1 ]]; then
	echo "# tests that passed in: ${SUITES[*]}" >&2
	for n in "${!RESULT[@]}"; do
		[[ ${RESULT[$n]} == success ]] && in_suites "$n" && echo "$n"
	done | sort
	exit 0
fi

declare -A LISTED FLAKY
if [[ -f "$EXPECTED" ]]; then
	while IFS= read -r line; do
		line=${line%%#*}
		# Leading and trailing blanks go; a name may have spaces inside.
		line=${line#"${line%%[![:space:]]*}"}
		line=${line%"${line##*[![:space:]]}"}
		# "?name": known to pass only sometimes; neither required nor
		# reported as newly passing.
		if [[ "$line" == \?* ]]; then
			FLAKY[${line#\?}]=1
		elif [[ -n "$line" ]]; then
			LISTED[$line]=1
		fi
	done <"$EXPECTED"
else
	echo "# warning: $EXPECTED does not exist; every test counts as newly passing" >&2
fi

npass=0 nfail=0 nnew=0 nknown=0 nretried=0
while IFS= read -r n; do
	[[ -n "$n" ]] || continue
	in_suites "$n" || continue
	status=${RESULT[$n]:-noresult}
	if [[ $status != success ]]; then
		# Many smb2 tests race the server's break and teardown timing on a
		# busy 2-core machine.  A listed test that failed inside its suite
		# gets one more run on its own: passing then is reported as flaky
		# (worth a look), failing twice is a regression.
		first=$status
		run_torture "$n" "$OUTDIR/$n.retry.subunit"
		check_server "$n"
		status=${RESULT[$n]:-noresult}
		if [[ $status == success ]]; then
			echo "# flaky: $n did not pass in its suite ($first) but passed on its own"
			nretried=$((nretried + 1))
		fi
	fi
	if [[ $status == success ]]; then
		echo "ok - $n"
		npass=$((npass + 1))
	else
		echo "not ok - $n ($status; expected to pass)"
		nfail=$((nfail + 1))
	fi
done < <(printf '%s\n' "${!LISTED[@]}" | sort)
while IFS= read -r n; do
	[[ -n "$n" ]] || continue
	[[ -n "${LISTED[$n]:-}" || -n "${FLAKY[$n]:-}" ]] && continue
	if [[ ${RESULT[$n]} == success ]]; then
		echo "# newly passing: add them to tests/torture/expected-pass.txt: $n"
		nnew=$((nnew + 1))
	else
		nknown=$((nknown + 1))
	fi
done < <(printf '%s\n' "${!RESULT[@]}" | sort)
echo "# $nknown tests not in the expected list did not pass (known gaps); raw output in $OUTDIR" >&2
[[ $server_failed == 1 ]] && nfail=$((nfail + 1))
if [[ $nfail -gt 0 ]]; then
	# Show where each regression's output starts, to save a trip to the files.
	while IFS= read -r n; do
		[[ -n "$n" ]] || continue
		in_suites "$n" || continue
		[[ ${RESULT[$n]:-noresult} == success ]] && continue
		grep -h -A 6 -F -e "failure: $n" -e "error: $n" "$OUTDIR"/*.subunit 2>/dev/null | head -8 | sed 's/^/#   /'
	done < <(printf '%s\n' "${!LISTED[@]}" | sort)
fi
[[ $nretried -gt 0 ]] && echo "# $nretried listed tests passed only when run again on their own (see 'flaky:' above)" >&2
echo "torture: $npass passed, $nfail failed"
[[ $nfail -eq 0 ]]
