#!/usr/bin/env bash
# Containment (issue 5): hostile names, symlinks, hard links, streams and a
# symlink-swapping race against a fresh smbkitd.  Prepares the hostile
# content on disk (inside the share and in a canary directory beside it),
# then runs test_containment.py, which checks that every escape is refused,
# that nothing outside the share changed, and that the server still serves.
# Output: ok/not ok lines and "N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SMBKIT_TIER="${SMBKIT_TIER:-containment}"
. "$HERE/lib.sh"
smbkit_start || exit 1

SHARE="$SMBKIT_SHARE_DIR"
# The canary: a directory beside the share (what "..\" reaches) and a file
# in the share's parent directory.  Its hash is compared before and after.
OUTSIDE="$SMBKIT_TMP/outside"
mkdir -p "$OUTSIDE/sub" "$OUTSIDE/d"
echo "OUTSIDE-SECRET" >"$SMBKIT_TMP/secret.txt"
echo "OUTSIDE-SECRET" >"$OUTSIDE/secret.txt"
echo "OUTSIDE-SECRET" >"$OUTSIDE/sub/secret.txt"
echo "OUTSIDE-SECRET" >"$OUTSIDE/d/victim.txt"
echo "OUTSIDE-SECRET" >"$OUTSIDE/victim.txt"

# Hostile content inside the share, as a local user could create it.
mkdir -p "$SHARE/sub" "$SHARE/race/alt"
echo "inside" >"$SHARE/normal.txt"
echo "inside" >"$SHARE/sub/inner.txt"
ln -s "$OUTSIDE/secret.txt" "$SHARE/link_abs"          # file, absolute target
ln -s "../outside/secret.txt" "$SHARE/link_rel"         # file, relative target
ln -s "$OUTSIDE" "$SHARE/dirlink_abs"                   # directory, absolute
ln -s "../outside" "$SHARE/dirlink_rel"                 # directory, relative
ln -s "../../outside/secret.txt" "$SHARE/sub/link_up2"  # from a subdirectory
ln -s / "$SHARE/rootlink"
ln -s /etc/passwd "$SHARE/passwd_link"
ln -s loop_b "$SHARE/loop_a"
ln -s loop_a "$SHARE/loop_b"
ln -s self "$SHARE/self"
ln -s sub "$SHARE/inside_link"                          # stays inside: allowed
ln -s "$OUTSIDE/nonexistent" "$SHARE/dangling_out"
# The race: race/d is a real directory holding victim.txt; the driver swaps
# it with race/alt, a symlink to the canary's d/ (same file names inside).
mkdir -p "$SHARE/race/d"
echo "inside" >"$SHARE/race/d/victim.txt"
rmdir "$SHARE/race/alt"
ln -s "$OUTSIDE/d" "$SHARE/race/alt"

/usr/bin/python3 "$HERE/test_containment.py" 127.0.0.1 "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" \
	"$SMBKIT_USER" "$SMBKIT_PASS" "$SHARE" "$SMBKIT_TMP"
rc=$?
smbkit_stop || rc=1
exit $rc
