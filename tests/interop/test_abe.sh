#!/usr/bin/env bash
# Access-based enumeration: on a share with "access based enumeration = yes"
# a directory listing shows each user only what that user could open for
# reading; the same directory shared without the option shows everything.
# Two SMB users mapped to nobody and daemon (as in test_identity.sh) list
# one directory holding a file and a directory only nobody may read, a file
# only daemon may read, and a file both may read.
# Needs root.  Runs in the identity tier (scripts/test.sh).
# Output: ok/not ok lines and "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SMBKIT_TIER="${SMBKIT_TIER:-abe}"

if [[ $(id -u) != 0 ]]; then
	echo "not ok - the abe tier needs root (smbkitd switches to other users)"
	exit 1
fi

# Both extra shares export one directory inside the run's scratch directory
# (lib.sh creates it from the config before the server starts).
export SMBKIT_CONFIG_EXTRA='[abe]
path = @SMBKIT_TMP@/abe-data
read only = no
access based enumeration = yes

[noabe]
path = @SMBKIT_TMP@/abe-data
read only = no'
. "$HERE/lib.sh"
smbkit_start || exit 1
D=$SMBKIT_TMP/abe-data
chmod 755 "$D"

smbkit_add_nobody_daemon_users || { echo "not ok - adding users ua and ub"; exit 1; }

echo both >"$D/both.txt"; chmod 644 "$D/both.txt"
echo a >"$D/onlyA.txt"; chown "nobody:$NOGROUP" "$D/onlyA.txt"; chmod 600 "$D/onlyA.txt"
echo b >"$D/onlyB.txt"; chown daemon:daemon "$D/onlyB.txt"; chmod 600 "$D/onlyB.txt"
mkdir "$D/dirA"; chown "nobody:$NOGROUP" "$D/dirA"; chmod 700 "$D/dirA"
ln -s onlyA.txt "$D/linkA"

pass=0 fail=0
sc() { smbclient -s /dev/null "//127.0.0.1/$1" -p "$SMBKIT_PORT" -U "$2" -m SMB3_11 -c "$3" 2>&1; }
# The names an "ls" printed, one a line, sorted.
names() { awk '/^  [^ ]/ { print $1 }' | grep -v '^\.\.\?$' | sort | tr '\n' ' '; }

# Wait until the reload is in effect (ub can log on).
for _ in $(seq 50); do sc abe ub%Ub-Pass.1 "ls" >/dev/null && break; sleep 0.1; done

got=$(sc abe ua%Ua-Pass.1 "ls" | names)
[[ "$got" == "both.txt dirA linkA onlyA.txt " ]]; smbkit_check $? "abe: ua sees only what it may read (got: $got)"
got=$(sc abe ub%Ub-Pass.1 "ls" | names)
[[ "$got" == "both.txt onlyB.txt " ]]; smbkit_check $? "abe: ub sees only what it may read (got: $got)"
got=$(sc noabe ub%Ub-Pass.1 "ls" | names)
[[ "$got" == "both.txt dirA linkA onlyA.txt onlyB.txt " ]]; smbkit_check $? "noabe: ub sees every entry (got: $got)"
got=$(sc abe "$SMBKIT_USER%$SMBKIT_PASS" "ls" | names)
[[ "$got" == "both.txt dirA linkA onlyA.txt onlyB.txt " ]]; smbkit_check $? "abe: the root-mapped user sees every entry (got: $got)"
# A name given in full is hidden the same way.
# (smbclient's exit status is not looked at: it fails when a listing is empty.)
out=$(sc abe ub%Ub-Pass.1 "ls onlyA.txt")
[[ "$out" == *NT_STATUS_NO_SUCH_FILE* ]]; smbkit_check $? "abe: ub listing onlyA.txt by name gets NO_SUCH_FILE"
out=$(sc abe ua%Ua-Pass.1 "ls onlyA.txt")
[[ "$out" == *"  onlyA.txt "* ]]; smbkit_check $? "abe: ua listing onlyA.txt by name finds it"

smbkit_stop || { fail=$((fail + 1)); echo "not ok - server stopped cleanly with a clean log"; }
echo "$pass passed, $fail failed"
[[ $fail == 0 ]]
