#!/usr/bin/env bash
# Directory leases against a fresh smbkitd: runs test_dirlease.py with the
# server lib.sh starts (it needs the share's path on disk for the local-change
# check).  Output: the python driver's ok/not ok lines and summary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export SMBKIT_TIER="${SMBKIT_TIER:-dirlease}"
. "$HERE/lib.sh"
smbkit_start || exit 1
/usr/bin/python3 "$HERE/test_dirlease.py" 127.0.0.1 "$SMBKIT_PORT" "$SMBKIT_SHARE_NAME" \
	"$SMBKIT_USER" "$SMBKIT_PASS" "$SMBKIT_SHARE_DIR"
rc=$?
smbkit_stop || rc=1
exit $rc
