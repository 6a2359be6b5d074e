#!/usr/bin/env bash
# Interop: SMB3 encryption (issue 5) with Samba's smbclient and impacket.
#
# Covers: put/get (checksummed, 3 MB) over an encrypted session for each
# dialect 3.0, 3.0.2, 3.1.1 and for each 3.1.1 cipher (AES-128-CCM,
# AES-128-GCM, AES-256-CCM, AES-256-GCM); the cipher the server picked, as
# its log reports it; a 3 MB encrypted WRITE with one byte flipped on the
# way (mitm_proxy.py) dropping the connection without writing anything;
# signed 3 MB put/get with AES-128-GMAC, AES-128-CMAC and HMAC-SHA256, and
# a signed WRITE with one byte flipped refused with ACCESS_DENIED without
# writing anything; a signed WRITE whose connection dies mid-body writing
# nothing (impacket, signed_abort.py); a share with "smb encrypt = required" serving an
# encrypting client and refusing one that cannot encrypt (SMB 2.1) with
# NT_STATUS_ACCESS_DENIED; "server smb encrypt = required" refusing the
# login of a client that cannot encrypt; impacket (AES-128-CCM) on the
# required share and an unencrypted request on it refused.
#
# Standalone only: it starts its own servers (lib.sh for the first, a
# config-file server for the policy checks).  Output: "ok - name" /
# "not ok - name" per check, a summary line, exit status 1 if any failed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SMBKIT_TIER="${SMBKIT_TIER:-encryption}"
export SMBKIT_LOG_LEVEL="${SMBKIT_LOG_LEVEL:-debug}"
. "$HERE/lib.sh"
smbkit_start || exit 1
HOST=127.0.0.1
USER_NAME="$SMBKIT_USER"
PASS="$SMBKIT_PASS"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/smbkit-encryption.XXXXXX")
chmod 755 "$WORK"
OUT="$WORK/out"
POLICY_PID=
npass=0 nfail=0
cleanup_work() {
	smbkit_proxy_stop
	if [[ -n "$POLICY_PID" ]]; then
		kill "$POLICY_PID" 2>/dev/null
		wait "$POLICY_PID" 2>/dev/null
	fi
	rm -rf "$WORK"
}
trap 'rc=$?; cleanup_work; (exit $rc); smbkit_cleanup' EXIT

ok() { echo "ok - $1"; npass=$((npass + 1)); }
not_ok() {
	echo "not ok - $1"
	nfail=$((nfail + 1))
	[[ -s "$OUT" ]] && tail -n 15 "$OUT" | sed 's/^/#   /'
}
check() { # check NAME COMMAND...
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}

head -c 3000000 /dev/urandom >"$WORK/big.bin"

# smbc PORT SHARE [options...] -c 'commands'
smbc() {
	local port=$1 share=$2
	shift 2
	timeout 60 smbclient -s /dev/null "//$HOST/$share" -p "$port" -U "$USER_NAME%$PASS" "$@" >"$OUT" 2>&1
}

# put + get of a 3 MB file over a session that must be encrypted.
roundtrip() { # PORT SHARE NAME [options...]
	local port=$1 share=$2 name=$3
	shift 3
	rm -f "$WORK/back.bin"
	smbc "$port" "$share" --client-protection=encrypt "$@" \
		-c "put $WORK/big.bin $name; get $name $WORK/back.bin; del $name" &&
		! grep -q NT_STATUS_ "$OUT" && cmp -s "$WORK/big.bin" "$WORK/back.bin"
}

# The last "negotiated dialect" line of a log names the cipher chosen.
last_cipher_is() { # LOG CIPHER
	grep 'negotiated dialect' "$1" | tail -n 1 | grep -q "cipher $2\$"
}

for d in SMB3_00 SMB3_02 SMB3_11; do
	check "encrypted put/get, dialect $d" roundtrip "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" "enc-$d.bin" -m "$d"
done
t_ccm30() {
	roundtrip "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" c30.bin -m SMB3_00 && last_cipher_is "$SMBKIT_LOG" AES-128-CCM
}
check "dialect 3.0 uses AES-128-CCM" t_ccm30
for c in AES-128-CCM AES-128-GCM AES-256-CCM AES-256-GCM; do
	t_cipher() {
		roundtrip "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" "c-$1.bin" -m SMB3_11 \
			--option="client smb3 encryption algorithms=$1" && last_cipher_is "$SMBKIT_LOG" "$1"
	}
	check "3.1.1 encrypted put/get with $c" t_cipher "$c"
done
# A large encrypted WRITE altered on the way (mitm_proxy.py flips one byte
# in its middle; such a message is received into a buffer of its own and
# decrypted in place, conn.c).  With either cipher mode the tag must fail,
# the connection drop, and none of the data reach the file: no plaintext is
# acted on before the whole message is authenticated (MS-SMB2 3.3.5.2.1.1).
t_tampered() { # CIPHER NAME
	local cipher=$1 name=$2 plog="$WORK/proxy-$2.log" before
	before=$(grep -c 'failed decryption' "$SMBKIT_LOG")
	smbkit_proxy_start req-flip-encrypted=1000000 "$plog" || return 1
	smbc "$SMBKIT_PROXY_PORT" "$SMBKIT_SHARE_NAME" --client-protection=encrypt -m SMB3_11 \
		--option="client smb3 encryption algorithms=$cipher" -c "put $WORK/big.bin $name"
	smbkit_proxy_stop
	cat "$plog" >>"$OUT"
	grep -q 'flipped byte' "$plog" || return 1
	[[ $(grep -c 'failed decryption' "$SMBKIT_LOG") -gt $before ]] || return 1
	# The CREATE before it went through: the file exists, empty.
	[[ -e "$SMBKIT_SHARE_DIR/$name" && ! -s "$SMBKIT_SHARE_DIR/$name" ]]
}
for c in AES-128-GCM AES-256-GCM AES-128-CCM; do
	check "a tampered 3 MB encrypted WRITE ($c) drops the connection and writes nothing" t_tampered "$c" "tamper-$c.bin"
done
# The same for signing: a large signed WRITE is verified while its body
# arrives (io_pool.h) and written only once the whole signature matches.
# With one byte flipped in its middle the WRITE must be refused with
# ACCESS_DENIED and nothing of it reach the file, for each signing
# algorithm (AES-128-GMAC and AES-128-CMAC on 3.1.1, HMAC-SHA256 on 2.1).
# The untampered put/get with each algorithm comes first.
signed_args() { # ALGORITHM: SIGNED_ARGS, smbclient options that make it sign with it
	case $1 in
	HMAC-SHA256) SIGNED_ARGS=(-m SMB2_10) ;;
	*) SIGNED_ARGS=(-m SMB3_11 "--option=client smb3 signing algorithms=$1") ;;
	esac
}
last_signing_is() { # LOG ALGORITHM
	grep 'negotiated dialect' "$1" | tail -n 1 | grep -q "signing $2,"
}
t_signed_roundtrip() { # ALGORITHM NAME
	rm -f "$WORK/back.bin"
	signed_args "$1"
	smbc "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" --client-protection=sign "${SIGNED_ARGS[@]}" \
		-c "put $WORK/big.bin $2; get $2 $WORK/back.bin; del $2" &&
		! grep -q NT_STATUS_ "$OUT" && cmp -s "$WORK/big.bin" "$WORK/back.bin" && last_signing_is "$SMBKIT_LOG" "$1"
}
t_signed_tampered() { # ALGORITHM NAME
	local plog="$WORK/proxy-$2.log" before
	before=$(grep -c 'bad signature on WRITE' "$SMBKIT_LOG")
	smbkit_proxy_start req-flip-signed=1000000 "$plog" || return 1
	signed_args "$1"
	smbc "$SMBKIT_PROXY_PORT" "$SMBKIT_SHARE_NAME" --client-protection=sign "${SIGNED_ARGS[@]}" \
		-c "put $WORK/big.bin $2"
	smbkit_proxy_stop
	cat "$plog" >>"$OUT"
	grep -q 'flipped byte' "$plog" || return 1
	grep -q NT_STATUS_ACCESS_DENIED "$OUT" || return 1
	[[ $(grep -c 'bad signature on WRITE' "$SMBKIT_LOG") -gt $before ]] || return 1
	# The CREATE before it went through: the file exists, empty.
	[[ -e "$SMBKIT_SHARE_DIR/$2" && ! -s "$SMBKIT_SHARE_DIR/$2" ]]
}
for a in AES-128-GMAC AES-128-CMAC HMAC-SHA256; do
	check "signed put/get of 3 MB with $a" t_signed_roundtrip "$a" "signed-$a.bin"
	check "a tampered 3 MB signed WRITE ($a) is refused and writes nothing" t_signed_tampered "$a" "stamper-$a.bin"
done
t_signed_abort() { # impacket, SMB 3.0 / AES-128-CMAC: see signed_abort.py
	SMBKIT_SHARE="$SMBKIT_SHARE_NAME" timeout 120 /usr/bin/python3 "$HERE/signed_abort.py" >"$OUT" 2>&1
}
check "a signed WRITE cut off mid-body writes nothing; a whole one is written (impacket, 3.0)" t_signed_abort
t_pref() { # the server's preference wins over the client's order
	roundtrip "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" pref.bin -m SMB3_11 \
		--option='client smb3 encryption algorithms=AES-256-CCM AES-128-GCM' && last_cipher_is "$SMBKIT_LOG" AES-128-GCM
}
check "server cipher preference (AES-128-GCM first)" t_pref
t_plain() { # encryption is optional by default
	smbc "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" --client-protection=sign -c ls && ! grep -q NT_STATUS_ "$OUT"
}
check "unencrypted access allowed by default" t_plain

# ---- policy server: a required share, then global required ----
POLICY_LOG="$SMBKIT_LOG_DIR/$SMBKIT_TIER-policy.log"
: >"$POLICY_LOG"
mkdir -p "$WORK/open" "$WORK/secure"
chmod 1777 "$WORK/open" "$WORK/secure"
start_policy() { # GLOBAL_ENCRYPT
	if [[ -n "$POLICY_PID" ]]; then
		kill "$POLICY_PID" 2>/dev/null
		wait "$POLICY_PID" 2>/dev/null
		POLICY_PID=
	fi
	cat >"$WORK/smb.conf" <<CONF
[global]
users file = $SMBKIT_USERS_FILE
server smb encrypt = $1
server smb3 encryption algorithms = AES-128-GCM AES-128-CCM AES-256-GCM AES-256-CCM
[open]
path = $WORK/open
read only = no
[secure]
path = $WORK/secure
read only = no
smb encrypt = required
CONF
	POLICY_PORT=$(smbkit_free_port)
	echo "=== policy server (server smb encrypt = $1, port $POLICY_PORT)" >>"$POLICY_LOG"
	"$BUILD_DIR/smbkitd" --foreground -c "$WORK/smb.conf" --listen "127.0.0.1:$POLICY_PORT" --log-level debug \
		</dev/null >>"$POLICY_LOG" 2>&1 &
	POLICY_PID=$!
	for _ in $(seq 100); do
		smbkit_port_open "$POLICY_PORT" && return 0
		sleep 0.1
	done
	return 1
}

if start_policy if_required; then
	check "required share: encrypted put/get" roundtrip "$POLICY_PORT" secure req.bin -m SMB3_11
	check "required share: encrypted put/get (3.0)" roundtrip "$POLICY_PORT" secure req30.bin -m SMB3_00
	t_refuse_21() {
		smbc "$POLICY_PORT" secure -m SMB2_10 -c ls
		grep -q NT_STATUS_ACCESS_DENIED "$OUT"
	}
	check "required share refuses a client that cannot encrypt (SMB 2.1)" t_refuse_21
	t_open_21() { smbc "$POLICY_PORT" open -m SMB2_10 -c ls && ! grep -q NT_STATUS_ "$OUT"; }
	check "other shares still serve that client" t_open_21
	t_impacket() {
		SMBKIT_PORT=$POLICY_PORT /usr/bin/python3 - >"$OUT" 2>&1 <<'PY'
import os, sys
from impacket.smbconnection import SMBConnection
from impacket.smb3structs import SMB2_DIALECT_30, SMB2_SESSION_FLAG_ENCRYPT_DATA
from impacket.smbconnection import SessionError
port = int(os.environ["SMBKIT_PORT"])
c = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port, preferredDialect=SMB2_DIALECT_30)
c.login(os.environ["SMBKIT_USER"], os.environ["SMBKIT_PASS"])
s = c._SMBConnection
assert s._Connection["SupportsEncryption"], "server did not offer encryption"
names = [f.get_longname() for f in c.listPath("secure", "*")]
print("encrypted listing ok", names)
# Now a request on that tree sent unencrypted (listPath would connect the
# tree again, so CREATE goes straight to the tree id).
tid = c.connectTree("secure")
s._Session["SessionFlags"] &= ~SMB2_SESSION_FLAG_ENCRYPT_DATA
for t in s._Session["TreeConnectTable"].values():
    t["EncryptData"] = False
try:
    c.createFile(tid, "probe.txt")
except SessionError as e:
    print("unencrypted refused:", e.getErrorString()[0])
    sys.exit(0 if e.getErrorCode() == 0xC0000022 else 1)
print("unencrypted request was served")
sys.exit(1)
PY
	}
	check "impacket: encrypted access to the required share, unencrypted request refused" t_impacket
	# Large and small encrypted requests sent in one burst: all answered, in
	# place, while large ones are decrypted off the event loop.
	t_pipeline() {
		SMBKIT_PORT=$POLICY_PORT SMBKIT_SHARE=secure timeout 120 /usr/bin/python3 "$HERE/enc_pipeline.py" >"$OUT" 2>&1
	}
	check "impacket: a burst of pipelined large and small encrypted requests is answered in full" t_pipeline
else
	not_ok "policy server did not start"
fi

if start_policy required; then
	check "global required: encrypted put/get" roundtrip "$POLICY_PORT" open g.bin -m SMB3_11
	t_refuse_login() {
		smbc "$POLICY_PORT" open -m SMB2_10 -c ls
		grep -q NT_STATUS_ACCESS_DENIED "$OUT"
	}
	check "global required refuses the login of a client that cannot encrypt" t_refuse_login
fi
if [[ -n "$POLICY_PID" ]]; then
	kill "$POLICY_PID" 2>/dev/null
	wait "$POLICY_PID"
	st=$?
	POLICY_PID=
	# 143 = SIGTERM's status if the server does not catch it; 0 = clean exit.
	if [[ $st -ne 0 && $st -ne 143 ]] || grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$POLICY_LOG"; then
		OUT=$POLICY_LOG not_ok "policy server exited cleanly (status $st)"
	else
		ok "policy server exited cleanly"
	fi
fi

echo "encryption: $npass passed, $nfail failed"
[[ $nfail -eq 0 ]]
