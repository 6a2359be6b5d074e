#!/usr/bin/env bash
# Identity: two SMB users mapped to different Unix users (nobody and daemon)
# work on one smbkitd at the same time and one after the other.  smbkitd
# keeps a user's file-system identity in effect between requests on a thread
# (session.c, "identity"); this checks that a request never runs as the
# previous request's user: each user reads only its own 0600 file, files are
# created owned by their own user, and a directory only one user may enter
# stays closed to the other.  One event loop (SMBKITD_LOOPS=1), so the two
# clients' requests interleave on the same thread and the same I/O workers.
# Output: ok/not ok lines and "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SMBKIT_TIER="${SMBKIT_TIER:-identity}"
export SMBKITD_LOOPS=1
. "$HERE/lib.sh"

if [[ $(id -u) != 0 ]]; then
	echo "not ok - the identity tier needs root (smbkitd switches to other users)"
	exit 1
fi
smbkit_start || exit 1
SHARE=$SMBKIT_SHARE_DIR
W=$SMBKIT_TMP/work
mkdir -p "$W"

# Two more users, each mapped to a Unix account of its own; SIGHUP makes
# smbkitd read the users file again.
smbkit_add_nobody_daemon_users || { echo "not ok - adding users ua and ub"; exit 1; }

echo secretA >"$SHARE/a.txt"; chown "nobody:$NOGROUP" "$SHARE/a.txt"; chmod 600 "$SHARE/a.txt"
echo secretB >"$SHARE/b.txt"; chown daemon:daemon "$SHARE/b.txt"; chmod 600 "$SHARE/b.txt"
mkdir "$SHARE/onlyA"; chown "nobody:$NOGROUP" "$SHARE/onlyA"; chmod 700 "$SHARE/onlyA"

pass=0 fail=0
SC_PROTECTION=
sc() { smbclient -s /dev/null "//127.0.0.1/$SMBKIT_SHARE_NAME" -p "$SMBKIT_PORT" -U "$1" -m SMB3_11 $SC_PROTECTION -c "$2" 2>&1; }

# Wait until the reload is in effect (ub can log on).
for _ in $(seq 50); do sc ub%Ub-Pass.1 "ls" >/dev/null && break; sleep 0.1; done

for r in 1 2 3 4 5 6 7 8; do
	# Rounds 5-8 encrypted: those messages choose their identity scope only
	# after decryption (dispatch.c).
	if ((r > 4)); then SC_PROTECTION=--client-protection=encrypt; fi
	rm -f "$W"/A1 "$W"/A2 "$W"/B1 "$W"/B2 "$W"/B3
	# At the same time: A reads its file, lists and writes its directory,
	# tries B's file; B reads its file, tries A's file and directory.
	(sc ua%Ua-Pass.1 "get a.txt $W/A1; get a.txt $W/A2; ls onlyA/*; put /etc/hostname onlyA/fromA$r; get b.txt $W/A3" >"$W/outA") &
	pa=$!
	(sc ub%Ub-Pass.1 "get b.txt $W/B1; get a.txt $W/B3; ls onlyA/*; put /etc/hostname onlyA/fromB$r; get b.txt $W/B2" >"$W/outB") &
	pb=$!
	wait $pa $pb
	[[ $(cat "$W"/A1 "$W"/A2 2>/dev/null | grep -c secretA) == 2 ]]; smbkit_check $? "round $r: ua reads its own a.txt"
	grep -q 'NT_STATUS_ACCESS_DENIED opening remote file \\b.txt' "$W/outA"; smbkit_check $? "round $r: ua is denied b.txt"
	[[ $(cat "$W"/B1 "$W"/B2 2>/dev/null | grep -c secretB) == 2 ]]; smbkit_check $? "round $r: ub reads its own b.txt"
	grep -q 'NT_STATUS_ACCESS_DENIED opening remote file \\a.txt' "$W/outB"; smbkit_check $? "round $r: ub is denied a.txt"
	! grep -qs secretA "$W/outB" "$W/B3"; smbkit_check $? "round $r: ub never sees a.txt's data"
	! grep -qs secretB "$W/outA" "$W/A3"; smbkit_check $? "round $r: ua never sees b.txt's data"
	[[ -f "$SHARE/onlyA/fromA$r" && $(stat -c %U "$SHARE/onlyA/fromA$r") == nobody ]]; smbkit_check $? "round $r: ua's new file is owned by nobody"
	[[ ! -e "$SHARE/onlyA/fromB$r" ]]; smbkit_check $? "round $r: ub cannot write into onlyA"
done
SC_PROTECTION=

# A LOGOFF ends the logged-off user's identity on the thread: ub, on
# another connection served by the same thread, reads its own file right
# after ua logs off, and still cannot read ua's (dispatch.c pairs every
# impersonation with its end even when the handler ends the session).
/usr/bin/python3 - "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" >"$W/logoff.out" 2>&1 <<'PY'
import io, sys
from impacket.smbconnection import SMBConnection, SessionError
port, share = int(sys.argv[1]), sys.argv[2]
def login(user, pw):
    c = SMBConnection("127.0.0.1", "127.0.0.1", sess_port=port)
    c.login(user, pw)
    return c
def read(c, name):
    buf = io.BytesIO()
    try:
        c.getFile(share, name, buf.write)
    except SessionError as e:
        return "error %#x" % e.getErrorCode()
    return buf.getvalue().decode().strip()
for r in range(3):
    a, b = login("ua", "Ua-Pass.1"), login("ub", "Ub-Pass.1")
    print("round", r, "ua reads a.txt:", read(a, "a.txt"))
    a.logoff()
    print("round", r, "after ua's logoff, ub reads b.txt:", read(b, "b.txt"))
    print("round", r, "after ua's logoff, ub reads a.txt:", read(b, "a.txt"))
    b.logoff()
    a.close(); b.close()
PY
[[ $(grep -c 'ub reads b.txt: secretB$' "$W/logoff.out") == 3 ]]; smbkit_check $? "after ua's LOGOFF, ub's requests on the same thread run as ub (reads b.txt)"
[[ $(grep -c 'ub reads a.txt: error 0xc0000022$' "$W/logoff.out") == 3 ]]; smbkit_check $? "after ua's LOGOFF, ub is still denied a.txt"
grep -v ': secret\|: error 0xc0000022$' "$W/logoff.out" | sed 's/^/#   /'

# One after the other on fresh connections: ownership of new files.
sc ub%Ub-Pass.1 "put /etc/hostname byB" >/dev/null
[[ $(stat -c %U:%G "$SHARE/byB" 2>/dev/null) == daemon:daemon ]]; smbkit_check $? "ub's new file is owned by daemon:daemon"
sc ua%Ua-Pass.1 "put /etc/hostname byA" >/dev/null
[[ $(stat -c %U "$SHARE/byA" 2>/dev/null) == nobody ]]; smbkit_check $? "ua's new file is owned by nobody"
# The test user (mapped to root) still acts as root after both.
sc "$SMBKIT_USER%$SMBKIT_PASS" "get b.txt $W/R1" >/dev/null
grep -q secretB "$W/R1" 2>/dev/null; smbkit_check $? "the root-mapped user reads b.txt after the others"

smbkit_stop || { fail=$((fail + 1)); echo "not ok - server stopped cleanly with a clean log"; }
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
