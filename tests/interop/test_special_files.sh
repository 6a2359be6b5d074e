#!/usr/bin/env bash
# Special files in a share: a FIFO and a character device node are refused
# (STATUS_ACCESS_DENIED), the FIFO's open does not block the server (it
# answers the next request at once), and the device's driver is never
# opened: an inotify watch on the device node sees no IN_OPEN (an O_PATH
# open, which runs no driver, reports none).  Regular files next to them are
# served as usual.
# Needs root (mknod).  Runs in the containment tier (scripts/test.sh).
# Output: ok/not ok lines and "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SMBKIT_TIER="${SMBKIT_TIER:-special}"

if [[ $(id -u) != 0 ]]; then
	echo "not ok - the special-files test needs root (mknod)"
	exit 1
fi
. "$HERE/lib.sh"
smbkit_start || exit 1
D=$SMBKIT_SHARE_DIR
pass=0 fail=0

mkfifo "$D/fifo"
# /dev/null's numbers: harmless if opened, yet its open would show.
mknod "$D/nulldev" c 1 3
echo data >"$D/plain.txt"

sc() { timeout 20 smbclient -s /dev/null "//127.0.0.1/$SMBKIT_SHARE_NAME" -p "$SMBKIT_PORT" -U "$SMBKIT_USER%$SMBKIT_PASS" -m SMB3_11 -c "$1" 2>&1; }

# Watch the device node for opens while the client asks for it.
/usr/bin/python3 - "$D/nulldev" >"$SMBKIT_TMP/opens" 2>&1 <<'EOF' &
import ctypes, os, select, sys
libc = ctypes.CDLL(None, use_errno=True)
IN_OPEN = 0x20
fd = libc.inotify_init1(os.O_NONBLOCK)
libc.inotify_add_watch(fd, sys.argv[1].encode(), IN_OPEN)
print("watching", flush=True)
opens = 0
end = 15.0
while end > 0:
    r, _, _ = select.select([fd], [], [], 0.5)
    end -= 0.5
    if r:
        buf = os.read(fd, 4096)
        opens += len(buf) // 16   # no names: each event is 16 bytes
    if os.path.exists(sys.argv[1] + ".done"):
        break
print("opens", opens, flush=True)
EOF
watcher=$!
for _ in $(seq 50); do grep -q watching "$SMBKIT_TMP/opens" 2>/dev/null && break; sleep 0.1; done

start=$(date +%s)
out=$(sc "get fifo $SMBKIT_TMP/fifo.out; get plain.txt $SMBKIT_TMP/plain.out")
took=$(($(date +%s) - start))
[[ "$out" == *NT_STATUS_ACCESS_DENIED* ]]; smbkit_check $? "a FIFO is refused with ACCESS_DENIED"
[[ $took -lt 10 && "$(cat "$SMBKIT_TMP/plain.out" 2>/dev/null)" == data ]]
smbkit_check $? "the FIFO's open did not block: the next file came at once (${took}s)"

for what in "get nulldev $SMBKIT_TMP/dev.out" "allinfo nulldev" "rm nulldev"; do
	out=$(sc "$what")
	[[ "$out" == *NT_STATUS_ACCESS_DENIED* ]]; smbkit_check $? "device node: '${what%% /*}' is refused with ACCESS_DENIED"
done
[[ -c "$D/nulldev" ]]; smbkit_check $? "the device node is still there"
touch "$D/nulldev.done"
wait "$watcher"
grep -q "^opens 0$" "$SMBKIT_TMP/opens"; smbkit_check $? "the device's driver was never opened ($(tail -n 1 "$SMBKIT_TMP/opens"))"

rm -f "$D/fifo" "$D/nulldev" "$D/nulldev.done"
smbkit_stop || { fail=$((fail + 1)); echo "not ok - server stopped cleanly with a clean log"; }
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
