#!/bin/bash
# Persistent handles across a restart of smbkitd: open a file with a
# persistent handle (DH2Q, SMB2_DHANDLE_FLAG_PERSISTENT) on a share with
# "continuously available = yes", write data, kill -9 the server, start it
# again on the same port with the same config, reconnect the handle with DH2C
# on a new connection and session, read the data back through it, close.
#   usage: tests/interop/test_persistent.sh [BUILD_DIR] [PORT]
set -u
BUILD=${1:-build}
PORT=${2:-4481}
HERE=$(cd "$(dirname "$0")" && pwd)
SMBKITD=$(cd "$BUILD" && pwd)/smbkitd
PASSWD=$(cd "$BUILD" && pwd)/smbkit-passwd
T=$(mktemp -d /tmp/smbkit-persistent.XXXXXX)
pass=0; fail=0; SRV=; CLI=
ok()  { echo "ok - $*"; pass=$((pass + 1)); }
nok() { echo "not ok - $*"; fail=$((fail + 1)); }
cleanup() {
	[ -n "$CLI" ] && kill "$CLI" 2>/dev/null
	[ -n "$SRV" ] && kill "$SRV" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
mkdir -p "$T/ca" "$T/state"
cat > "$T/smb.conf" <<CONF
[global]
state directory = $T/state
[ca]
path = $T/ca
read only = no
continuously available = yes
CONF
"$PASSWD" -f "$T/users" add testuser --unix-user "$(id -un)" --password-stdin <<< testpass >/dev/null
start() {
	"$SMBKITD" -c "$T/smb.conf" --listen "127.0.0.1:$PORT" --users "$T/users" --foreground --log-level debug \
		>> "$T/log" 2>&1 &
	SRV=$!
	for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
start || { nok "server starts"; echo "$pass passed, $fail failed"; exit 1; }
/usr/bin/python3 "$HERE/test_persistent.py" open "$PORT" ca data.bin "$T/handle.json" &
CLI=$!
for _ in $(seq 100); do [ -s "$T/handle.json" ] && break; sleep 0.1; done
if [ -s "$T/handle.json" ]; then ok "persistent open and write"; else nok "persistent open and write"; fi
if ls "$T/state/persistent/"*.open >/dev/null 2>&1; then ok "open recorded in the state directory"
else nok "open recorded in the state directory"; fi
kill -9 "$SRV"; wait "$SRV" 2>/dev/null; SRV=
kill "$CLI" 2>/dev/null; wait "$CLI" 2>/dev/null; CLI=
if start; then ok "server restarted"; else nok "server restarted"; fi
# The listening socket accepts (into its backlog) before the store is read,
# so the log line may come a moment after the port answers: wait for it.
restored=0
for _ in $(seq 50); do grep -q "restored persistent open" "$T/log" && { restored=1; break; }; sleep 0.1; done
[ "$restored" = 1 ] && ok "store loaded at start-up" || nok "store loaded at start-up"
if out=$(/usr/bin/python3 "$HERE/test_persistent.py" reclaim "$PORT" ca data.bin "$T/handle.json" 2>&1); then
	ok "DH2C after restart: $out"
else
	nok "DH2C after restart: $out"
fi
if ls "$T/state/persistent/"*.open >/dev/null 2>&1; then nok "record removed after close"
else ok "record removed after close"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
