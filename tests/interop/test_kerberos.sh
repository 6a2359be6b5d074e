#!/usr/bin/env bash
# Interop: Kerberos logins against smbkitd through a real MIT KDC.
#
# Builds a throw-away realm SMBKIT.TEST in a temporary directory (its own
# kdc.conf and krb5.conf through KRB5_KDC_PROFILE / KRB5_CONFIG; nothing in
# /etc is read or changed), starts krb5kdc on a free loopback port, exports
# the keys of cifs/$SRV (and host/$SRV, to prove a ticket for
# another service on the same keytab is refused) into a keytab, and starts
# smbkitd with "realm" and "kerberos keytab".  Then:
#   - smbclient --use-kerberos=required: put/get with a valid ticket
#   - impacket kerberosLogin with the service ticket from the cache: login,
#     put/get
#   - a principal that is not in the users database is refused
#   - a ticket for host/$SRV (key in the keytab) is refused
#   - an expired ticket is refused (impacket sends it regardless)
#   - a session mapped to the Unix user nobody re-authenticates (a second
#     SESSION_SETUP on the same session): the acceptor still reads the
#     root-only keytab, and files written afterwards belong to nobody
#   - the NEGOTIATE hints list krb5
# Everything (KDC, server, files) is removed at exit.
#
# Needs: krb5-kdc, krb5-admin-server, krb5-user, smbclient, python3-impacket
# (scripts/deps.sh).  Standalone:  tests/interop/test_kerberos.sh
# Output: "ok - name" / "not ok - name", a summary line, exit status 1 if
# any check failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
: "${BUILD_DIR:=$ROOT/build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
SMBKITD="$BUILD_DIR/smbkitd"
PASSWD_TOOL="$BUILD_DIR/smbkit-passwd"
: "${SMBKIT_LOG_DIR:=$BUILD_DIR/test-logs}"
mkdir -p "$SMBKIT_LOG_DIR"
LOG="$SMBKIT_LOG_DIR/kerberos.log"
: >"$LOG"

REALM=SMBKIT.TEST
# The server name clients use.  Not "localhost": Samba refuses Kerberos for
# it.  smbclient is told the address with -I, so no resolver is involved.
SRV=smbkitsrv.smbkit.test
KDC_PASS='Kdc-Master.1'
USER_PASS='Krb-User.1'

npass=0 nfail=0
ok() { echo "ok - $1"; npass=$((npass + 1)); }
not_ok() {
	echo "not ok - $1"
	nfail=$((nfail + 1))
	[[ -s "$T/out" ]] && tail -n 15 "$T/out" | sed 's/^/#   /'
}
skip_all() { echo "1..0 # SKIP $1"; exit 0; }

for tool in krb5kdc kdb5_util kadmin.local kinit kvno klist smbclient; do
	command -v "$tool" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1 ||
		skip_all "$tool not installed (scripts/deps.sh)"
done
export PATH="$PATH:/usr/sbin:/sbin"
[[ -x "$SMBKITD" && -x "$PASSWD_TOOL" ]] || { echo "not ok - $SMBKITD missing; build first"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/smbkit-krb5.XXXXXX")
chmod 755 "$T"
KDC_PID= SMBKITD_PID=
cleanup() {
	local rc=$?
	if [[ -n "$SMBKITD_PID" ]] && kill -0 "$SMBKITD_PID" 2>/dev/null; then
		kill -TERM "$SMBKITD_PID"
		for _ in $(seq 100); do kill -0 "$SMBKITD_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SMBKITD_PID" 2>/dev/null
	fi
	[[ -n "$SMBKITD_PID" ]] && wait "$SMBKITD_PID" 2>/dev/null
	if [[ -n "$KDC_PID" ]] && kill -0 "$KDC_PID" 2>/dev/null; then
		kill -TERM "$KDC_PID"
		wait "$KDC_PID" 2>/dev/null
	fi
	[[ -f "$T/kdc.log" ]] && { echo "=== kdc.log"; cat "$T/kdc.log"; } >>"$LOG"
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ------------------------------------------------------------ realm and KDC
KDC_PORT=$(free_port)
mkdir -p "$T/kdc" "$T/share"
chmod 1777 "$T/share"
cat >"$T/kdc.conf" <<EOF
[kdcdefaults]
	kdc_ports = $KDC_PORT
	kdc_tcp_ports = $KDC_PORT
[realms]
	$REALM = {
		database_name = $T/kdc/principal
		key_stash_file = $T/kdc/stash
		acl_file = $T/kdc/kadm5.acl
		max_life = 1h
		max_renewable_life = 0
		supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
	}
[logging]
	kdc = FILE:$T/kdc.log
EOF
# clockskew = 1: the acceptor's allowance for an expired ticket (default 5
# minutes) would otherwise keep a just-expired ticket valid for the test.
cat >"$T/krb5.conf" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	clockskew = 1
	default_ccache_name = FILE:$T/ccache
[realms]
	$REALM = {
		kdc = 127.0.0.1:$KDC_PORT
	}
[domain_realm]
	.smbkit.test = $REALM
EOF
export KRB5_CONFIG="$T/krb5.conf" KRB5_KDC_PROFILE="$T/kdc.conf" KRB5CCNAME="$T/ccache"
# The server's replay cache stays in the scratch directory too.
export KRB5RCACHEDIR="$T"

{
	kdb5_util create -s -r "$REALM" -P "$KDC_PASS" &&
	kadmin.local -r "$REALM" -q "addprinc -pw $USER_PASS testuser" &&
	kadmin.local -r "$REALM" -q "addprinc -pw $USER_PASS otheruser" &&
	kadmin.local -r "$REALM" -q "addprinc -pw $USER_PASS shortlived" &&
	kadmin.local -r "$REALM" -q "addprinc -pw $USER_PASS nobodyuser" &&
	kadmin.local -r "$REALM" -q "addprinc -randkey cifs/$SRV" &&
	kadmin.local -r "$REALM" -q "addprinc -randkey host/$SRV" &&
	kadmin.local -r "$REALM" -q "ktadd -k $T/smb.keytab cifs/$SRV host/$SRV"
} >>"$LOG" 2>&1 || { echo "not ok - create realm $REALM (see $LOG)"; exit 1; }

krb5kdc -n -r "$REALM" -P "$T/kdc.pid" >>"$LOG" 2>&1 &
KDC_PID=$!
for _ in $(seq 100); do port_open "$KDC_PORT" && break; sleep 0.1; done
port_open "$KDC_PORT" || { echo "not ok - krb5kdc did not start (see $LOG)"; exit 1; }

# ------------------------------------------------------------ smbkitd
# testuser is an SMB user (its NT hash belongs to a random password nobody
# knows: it logs in with Kerberos only); shortlived too; otheruser is not.
RANDOM_PW=$(head -c 24 /dev/urandom | base64)
for u in testuser shortlived; do
	printf '%s\n' "$RANDOM_PW" | "$PASSWD_TOOL" -f "$T/users" add "$u" --unix-user "$(id -un)" --password-stdin \
		>>"$LOG" 2>&1 || { echo "not ok - smbkit-passwd add $u"; exit 1; }
done
# nobodyuser acts as the Unix user nobody, who cannot read the keytab (0600,
# root's): a re-authentication of its session must still run the Kerberos
# acceptor as root (MS-SMB2 3.3.5.5.3 re-auth; dispatch.c impersonates only
# commands that need a session).
printf '%s\n' "$RANDOM_PW" | "$PASSWD_TOOL" -f "$T/users" add nobodyuser --unix-user nobody --password-stdin \
	>>"$LOG" 2>&1 || { echo "not ok - smbkit-passwd add nobodyuser"; exit 1; }
chmod 600 "$T/smb.keytab"

SMB_PORT=$(free_port)
cat >"$T/smb.conf" <<EOF
[global]
	listen = 127.0.0.1:$SMB_PORT
	users file = $T/users
	realm = $REALM
	kerberos keytab = $T/smb.keytab
[share]
	path = $T/share
	read only = no
EOF
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
if [[ -f "$ROOT/tests/lsan-krb5.supp" ]]; then
	export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$ROOT/tests/lsan-krb5.supp"
fi
"$SMBKITD" --foreground --config "$T/smb.conf" --log-level "${SMBKIT_LOG_LEVEL:-info}" </dev/null >>"$LOG" 2>&1 &
SMBKITD_PID=$!
for _ in $(seq 300); do port_open "$SMB_PORT" && break; kill -0 "$SMBKITD_PID" 2>/dev/null || break; sleep 0.1; done
port_open "$SMB_PORT" || { echo "not ok - smbkitd did not start (see $LOG)"; tail -n 20 "$LOG" | sed 's/^/#   /'; exit 1; }

# ------------------------------------------------------------ checks
# kinit reads the password from stdin when it is not a terminal.
get_ticket() { # get_ticket PRINCIPAL [kinit options...]
	local p=$1
	shift
	kdestroy -q 2>/dev/null
	printf '%s\n' "$USER_PASS" | kinit "$@" "$p@$REALM" >"$T/out" 2>&1
}
smbk() {
	timeout 60 smbclient -s /dev/null "//$SRV/share" -I 127.0.0.1 -p "$SMB_PORT" --use-kerberos=required --use-krb5-ccache="$KRB5CCNAME" "$@" >"$T/out" 2>&1
}
impk() { # impk SPN ok|fail
	timeout 60 /usr/bin/python3 "$HERE/test_kerberos.py" "$SMB_PORT" "$1" "$2" >"$T/out" 2>&1
}

# 1. the server offers Kerberos in its NEGOTIATE hints.
if timeout 30 /usr/bin/python3 "$HERE/test_kerberos.py" "$SMB_PORT" hints >"$T/out" 2>&1; then
	ok "NEGOTIATE hints list krb5"
else
	not_ok "NEGOTIATE hints list krb5"
fi

head -c 300000 /dev/urandom >"$T/data.bin"
if get_ticket testuser && smbk -c "put $T/data.bin krb5.bin; get krb5.bin $T/back.bin" &&
	! grep -q NT_STATUS_ "$T/out" && cmp -s "$T/data.bin" "$T/back.bin" && cmp -s "$T/data.bin" "$T/share/krb5.bin"; then
	ok "smbclient --use-kerberos=required: put/get as testuser@$REALM"
else
	not_ok "smbclient --use-kerberos=required: put/get as testuser@$REALM"
fi
if grep -q "login Kerberos user 'testuser' (testuser@$REALM" "$LOG"; then
	ok "server logged the Kerberos login of testuser@$REALM"
else
	: >"$T/out"
	not_ok "server logged the Kerberos login of testuser@$REALM"
fi

# Signed (SMB 3.1.1, the session key from the GSS context must match the
# client's) and encrypted variants: any key mismatch fails these.
if smbk --client-protection=sign -c "ls" && ! grep -q NT_STATUS_ "$T/out"; then
	ok "smbclient Kerberos with signing (session key agrees)"
else
	not_ok "smbclient Kerberos with signing (session key agrees)"
fi
if smbk --client-protection=encrypt -c "get krb5.bin $T/back2.bin" && ! grep -q NT_STATUS_ "$T/out" &&
	cmp -s "$T/data.bin" "$T/back2.bin"; then
	ok "smbclient Kerberos with encryption"
else
	not_ok "smbclient Kerberos with encryption"
fi

if kvno "cifs/$SRV@$REALM" >"$T/out" 2>&1 && impk "cifs/$SRV@$REALM" ok; then
	ok "impacket kerberosLogin (-k) with the cached cifs/$SRV ticket: put/get"
else
	not_ok "impacket kerberosLogin (-k) with the cached cifs/$SRV ticket: put/get"
fi

# 2. a ticket for another service whose key is in the same keytab
if kvno "host/$SRV@$REALM" >"$T/out" 2>&1 && impk "host/$SRV@$REALM" fail &&
	grep -q "ticket is for host/$SRV@$REALM" "$LOG"; then
	ok "ticket for host/$SRV refused"
else
	not_ok "ticket for host/$SRV refused"
fi

# 3. a valid principal of the realm that is not an SMB user
if get_ticket otheruser && ! smbk -c "ls" && grep -q NT_STATUS_LOGON_FAILURE "$T/out"; then
	ok "otheruser@$REALM (not in the users database) refused with LOGON_FAILURE"
else
	not_ok "otheruser@$REALM (not in the users database) refused with LOGON_FAILURE"
fi

# 4. an expired ticket: 5 s of life, then wait past it and the 1 s skew.
if get_ticket shortlived -l 5s && kvno "cifs/$SRV@$REALM" >"$T/out" 2>&1; then
	sleep 8
	if impk "cifs/$SRV@$REALM" fail && grep -q -i "ticket refused.*expired" "$LOG"; then
		ok "expired ticket refused by the server"
	else
		not_ok "expired ticket refused by the server"
	fi
	if ! smbk -c "ls"; then
		ok "smbclient with an expired ticket fails"
	else
		not_ok "smbclient with an expired ticket fails"
	fi
else
	not_ok "kinit -l 5s for the expiry check"
fi

# 5. re-authentication of a session whose user is not root
if get_ticket nobodyuser && kvno "cifs/$SRV@$REALM" >"$T/out" 2>&1 &&
	timeout 60 /usr/bin/python3 "$HERE/test_kerberos.py" "$SMB_PORT" "cifs/$SRV@$REALM" reauth >"$T/out" 2>&1 &&
	[[ $(stat -c %U "$T/share/reauth_after.txt") == nobody ]]; then
	ok "Kerberos re-authentication of a session mapped to nobody (keytab root-only)"
else
	not_ok "Kerberos re-authentication of a session mapped to nobody (keytab root-only)"
fi

# 6. the server still serves a good client after all of that.
if get_ticket testuser && smbk -c "ls" && ! grep -q NT_STATUS_ "$T/out"; then
	ok "server still serves Kerberos logins"
else
	not_ok "server still serves Kerberos logins"
fi

# Stop the server here so a sanitizer's exit report is in the log.
kill -TERM "$SMBKITD_PID"
wait "$SMBKITD_PID"
status=$?
SMBKITD_PID=
if [[ $status == 0 || $status == 143 ]] &&
	! grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$LOG"; then
	ok "smbkitd exited cleanly (status $status, no sanitizer report)"
else
	: >"$T/out"
	grep -n -E -A 20 'AddressSanitizer|LeakSanitizer|runtime error:' "$LOG" | head -60 >"$T/out"
	not_ok "smbkitd exited cleanly (status $status)"
fi

echo "$npass passed, $nfail failed"
[[ $nfail == 0 ]]
