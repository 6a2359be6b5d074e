#!/usr/bin/env bash
# Attack tests with a man-in-the-middle: Samba's smbclient talks to smbkitd
# through tests/interop/mitm_proxy.py, which rewrites the first SMB2
# NEGOTIATE request or response of each connection.
#
#  1. pass-through: 3.1.1, 3.0 and 3.0.2 (signing required) log in and list
#     the share through the proxy, so the proxy itself is transparent.
#  2. 3.1.1 preauth integrity (MS-SMB2 3.2.5.3.1, 3.3.5.4): altering the
#     preauth salt, removing the SIGNING or ENCRYPTION capabilities context,
#     or shortening the cipher list makes the two preauth hashes differ, so
#     the keys differ and the client rejects the signed final SESSION_SETUP
#     response.  The server must not get as far as a tree connect.
#  3. 2.x/3.0/3.0.2 downgrade (3.3.5.15.12): the proxy strips the highest
#     dialects from the client's list (or rewrites the server's chosen
#     dialect); FSCTL_VALIDATE_NEGOTIATE_INFO, sent signed after the tree
#     connect, exposes the mismatch and the connection is dropped.  When
#     smbclient sends no VALIDATE_NEGOTIATE_INFO the case is reported as
#     SKIP, never as a pass.
#  4. after every attack the server still serves a direct login.
#
# Usage: tests/interop/test_downgrade.sh   (BUILD_DIR=build-asan for ASan)
# Output: "ok - name" / "not ok - name" / "skip - name # reason" lines and
# "N passed, N failed, N skipped"; exit status 1 if any check failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SMBKIT_TIER="${SMBKIT_TIER:-downgrade}"
. "$HERE/lib.sh"
smbkit_start || exit 1

WORK=$(mktemp -d "${TMPDIR:-/tmp}/smbkit-downgrade.XXXXXX")
OUT="$WORK/out"
npass=0 nfail=0 nskip=0

# lib.sh's EXIT trap stops the server; stop the proxy and remove the
# scratch directory first, handing the script's status on.
trap 'rc=$?; smbkit_proxy_stop; rm -rf "$WORK"; (exit $rc); smbkit_cleanup' EXIT

ok() { echo "ok - $1"; npass=$((npass + 1)); }
not_ok() {
	echo "not ok - $1"
	nfail=$((nfail + 1))
	[[ -s "$OUT" ]] && tail -n 8 "$OUT" | sed 's/^/#   smbclient: /'
	[[ -n "${PROXY_LOG:-}" && -s "$PROXY_LOG" ]] && tail -n 12 "$PROXY_LOG" | sed 's/^/#   proxy: /'
	return 0
}
skip() { echo "skip - $1 # SKIP $2"; nskip=$((nskip + 1)); }

# start_proxy MODE: a fresh proxy (and log) per case, so every check reads
# only its own connection.  Sets PROXY_PORT and PROXY_LOG.
ncase=0
start_proxy() {
	ncase=$((ncase + 1))
	PROXY_LOG="$WORK/proxy-$ncase.log"
	smbkit_proxy_start "$1" "$PROXY_LOG" || { PROXY_PORT=; return 1; }
	PROXY_PORT=$SMBKIT_PROXY_PORT
}

# smbc PORT [smbclient options...]: "ls" on the share; output in $OUT.
# Bounded: a peer that stops answering fails one check, not the tier.
smbc() {
	local port=$1
	shift
	timeout 30 smbclient -s /dev/null "//127.0.0.1/$SMBKIT_SHARE_NAME" -p "$port" \
		-U "$SMBKIT_USER%$SMBKIT_PASS" "$@" -c ls >"$OUT" 2>&1
}
# smbclient exits 0 even when a -c command fails: also look for NT_STATUS_.
listing_ok() { [[ $1 == 0 ]] && ! grep -q 'NT_STATUS_' "$OUT" && grep -q ' D ' "$OUT"; }

# The proxy logs its upstream port; the server logs connections by peer
# address, so this selects the server's lines for the proxied connection.
server_lines() {
	local up
	up=$(sed -n 's/.*conn 1: upstream from \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$PROXY_LOG" | head -n 1)
	[[ -n "$up" ]] && grep -F "$up" "$SMBKIT_LOG"
}
proxy_saw() { grep -q -E "$1" "$PROXY_LOG"; }

# Part 4: the attack left the server able to serve an honest client.
direct_login_after() {
	if smbc "$SMBKIT_PORT" && listing_ok 0; then
		ok "server still serves a direct login after $1"
	else
		not_ok "server still serves a direct login after $1"
	fi
}

# proto MIN MAX: sets PROTO to the smbclient options pinning the dialects.
proto() { PROTO=(--option="client min protocol=$1" --option="client max protocol=$2"); }

# --------------------------------------------------- 1. pass-through proxy
passthrough() { # NAME DIALECT_HEX smbclient-options...
	local name=$1 dialect=$2 rc
	shift 2
	if ! start_proxy pass; then not_ok "$name: proxy started"; return; fi
	smbc "$PROXY_PORT" "$@"
	rc=$?
	sleep 0.2 # let the proxy log the close
	smbkit_proxy_stop
	if listing_ok $rc && proxy_saw "server NEGOTIATE response dialect=$dialect" && ! proxy_saw REWROTE; then
		ok "$name"
	else
		not_ok "$name"
	fi
}
proto SMB3_11 SMB3_11
passthrough "pass-through proxy: SMB3_11 login and ls" 0x0311 "${PROTO[@]}"
proto SMB3_00 SMB3_00
passthrough "pass-through proxy: SMB3_00 login and ls" 0x0300 "${PROTO[@]}"
# The control for part 3: the same client settings, nothing rewritten,
# VALIDATE_NEGOTIATE_INFO succeeds.
proto SMB3_00 SMB3_02
passthrough "pass-through proxy: SMB3_00..SMB3_02 signing required login and ls" 0x0302 \
	"${PROTO[@]}" --option='client signing=required'
if proxy_saw 'VALIDATE_NEGOTIATE_INFO request' && proxy_saw 'IOCTL response status=0x00000000'; then
	ok "pass-through proxy: untampered VALIDATE_NEGOTIATE_INFO succeeds on 3.0.2"
elif ! proxy_saw 'VALIDATE_NEGOTIATE_INFO request'; then
	skip "pass-through proxy: untampered VALIDATE_NEGOTIATE_INFO succeeds on 3.0.2" \
		"smbclient sent no VALIDATE_NEGOTIATE_INFO"
else
	not_ok "pass-through proxy: untampered VALIDATE_NEGOTIATE_INFO succeeds on 3.0.2"
fi

# ------------------------------------------ 2. 3.1.1 preauth integrity
preauth_attack() { # NAME MODE
	local name="3.1.1 preauth integrity: $1" mode=$2 rc lines
	if ! start_proxy "$mode"; then not_ok "$name: proxy started"; return; fi
	proto SMB3_11 SMB3_11
	smbc "$PROXY_PORT" "${PROTO[@]}"
	rc=$?
	sleep 0.2
	smbkit_proxy_stop
	if ! proxy_saw REWROTE; then
		not_ok "$name: the proxy rewrote the NEGOTIATE request"
	elif listing_ok $rc; then
		not_ok "$name: login and ls must fail"
	elif ! grep -q -E 'Bad SMB2 .*signature|NT_STATUS_ACCESS_DENIED|NT_STATUS_INVALID_SIGNATURE' "$OUT"; then
		not_ok "$name: the client reports a signature / ACCESS_DENIED failure"
	else
		ok "$name: login fails with a signature error"
	fi
	# The server's side: either it refused a request's signature, or the
	# client hung up before any tree connect.  A tree connect that
	# succeeded would mean the tampered session was usable.
	lines=$(server_lines)
	if grep -q 'tree connect' <<<"$lines"; then
		not_ok "$name: server log shows no tree connect on the tampered connection"
	elif grep -q -E 'bad signature|client closed the connection' <<<"$lines"; then
		ok "$name: server log shows a refused signature or the client aborting"
	else
		not_ok "$name: server log shows a refused signature or the client aborting"
		sed 's/^/#   server: /' <<<"$lines"
	fi
	direct_login_after "$1"
}
preauth_attack "altered preauth salt" req-salt
preauth_attack "SIGNING_CAPABILITIES context removed" req-drop-ctx=8
preauth_attack "ENCRYPTION_CAPABILITIES context removed" req-drop-ctx=2
preauth_attack "cipher list cut to one cipher" req-ciphers

# ---------------------------------------------- 3. dialect downgrade
# downgrade_attack NAME MODE SERVER_DIALECT WHO smbclient-options...
# WHO: "server" when smbkitd must catch the mismatch (the dialect list it
# saw differs from the one the client validates), "client" when only the
# client can (the server's answer was rewritten).
downgrade_attack() {
	local title=$1 name="downgrade: $1" mode=$2 dialect=$3 who=$4 rc lines
	shift 4
	if ! start_proxy "$mode"; then not_ok "$name: proxy started"; return; fi
	smbc "$PROXY_PORT" "$@"
	rc=$?
	sleep 0.2
	smbkit_proxy_stop
	lines=$(server_lines)
	if ! proxy_saw REWROTE; then
		not_ok "$name: the proxy rewrote the NEGOTIATE"
	elif ! proxy_saw "server NEGOTIATE response dialect=$dialect"; then
		not_ok "$name: the server picked dialect $dialect"
	elif ! proxy_saw 'VALIDATE_NEGOTIATE_INFO request'; then
		# Nothing protects such a connection: not a pass, not a failure
		# of the server.
		if listing_ok $rc; then
			skip "$name" "smbclient sent no VALIDATE_NEGOTIATE_INFO, the downgrade went unnoticed"
		else
			skip "$name" "smbclient sent no VALIDATE_NEGOTIATE_INFO (and failed for another reason)"
		fi
	elif listing_ok $rc; then
		not_ok "$name: the connection must fail after VALIDATE_NEGOTIATE_INFO"
	elif [[ $who == server ]] && ! grep -q 'VALIDATE_NEGOTIATE_INFO failed' <<<"$lines"; then
		not_ok "$name: server log shows VALIDATE_NEGOTIATE_INFO failed"
		sed 's/^/#   server: /' <<<"$lines"
	elif [[ $who == server ]] && ! proxy_saw 'closed by server'; then
		not_ok "$name: the server dropped the connection"
	elif [[ $who == client ]] && ! proxy_saw 'closed by client'; then
		not_ok "$name: the client dropped the connection"
	else
		ok "$name: detected by VALIDATE_NEGOTIATE_INFO, connection dropped by the $who"
	fi
	direct_login_after "$title"
}
proto SMB3_00 SMB3_02
downgrade_attack "3.0.2 stripped from [3.0, 3.0.2], signing required" req-strip-dialect=0x0302 0x0300 server \
	"${PROTO[@]}" --option='client signing=required'
# smbclient's default signing setting: it still signs VALIDATE_NEGOTIATE_INFO
# (SMB 3.x sessions are signed) -- or the SKIP says otherwise.
proto SMB3_00 SMB3_02
downgrade_attack "3.0.2 stripped from [3.0, 3.0.2], default signing" req-strip-dialect=0x0302 0x0300 server \
	"${PROTO[@]}"
# Even with signing switched off smbclient 4.17 signs VALIDATE_NEGOTIATE_INFO
# on 3.x; a client that did not would show up as a SKIP here.
proto SMB3_00 SMB3_02
downgrade_attack "3.0.2 stripped from [3.0, 3.0.2], client signing disabled" req-strip-dialect=0x0302 0x0300 server \
	"${PROTO[@]}" --option='client signing=disabled'
# Removing 3.1.1 removes preauth integrity altogether; VALIDATE_NEGOTIATE_INFO
# on the resulting 3.0.2 connection is what catches it.
proto SMB3_00 SMB3_11
downgrade_attack "3.1.1 stripped from [3.0, 3.0.2, 3.1.1], signing required" req-strip-dialect=0x0311 0x0302 server \
	"${PROTO[@]}" --option='client signing=required'
proto SMB2_10 SMB3_02
downgrade_attack "3.0 and 3.0.2 stripped from [2.1, 3.0, 3.0.2], signing required" \
	req-strip-dialect=0x0302,0x0300 0x0210 server "${PROTO[@]}" --option='client signing=required'
# The server's answer rewritten (3.0.2 -> 3.0): the server's own view is
# consistent, so its VALIDATE_NEGOTIATE_INFO response (dialect 3.0.2) is
# what lets the client notice.
proto SMB3_00 SMB3_02
downgrade_attack "server's dialect 3.0.2 rewritten to 3.0 in the response" rsp-dialect=0x0300 0x0302 client \
	"${PROTO[@]}" --option='client signing=required'

# ------------------------------------------------------------ summary
PROXY_LOG=
OUT="$WORK/none"
if smbkit_stop; then
	ok "server exited cleanly, no sanitizer report"
else
	not_ok "server exited cleanly, no sanitizer report"
fi
echo "$npass passed, $nfail failed, $nskip skipped"
[[ $nfail == 0 ]]
