#!/usr/bin/env bash
# Runs one command against a freshly started smbkitd and fails if either the
# command fails or the server misbehaved (crash, hang on shutdown, sanitizer
# report in its log).  The command sees SMBKIT_HOST, SMBKIT_PORT, SMBKIT_USER,
# SMBKIT_PASS, SMBKIT_SHARE_NAME and SMBKIT_SHARE_DIR in its environment.
#
#   tests/interop/with_server.sh [--tier NAME] COMMAND [ARGS...]
set -uo pipefail
if [[ "${1:-}" == --tier ]]; then
	export SMBKIT_TIER="$2"
	shift 2
fi
if [[ $# -eq 0 ]]; then
	echo "usage: $0 [--tier NAME] COMMAND [ARGS...]" >&2
	exit 2
fi
: "${SMBKIT_TIER:=$(basename "${1%.*}")}"
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

smbkit_start || exit 1
"$@"
cmd_rc=$?
stop_rc=0
smbkit_stop || stop_rc=1
if [[ $cmd_rc -ne 0 ]]; then
	smbkit_log "FAIL: '$*' exited with status $cmd_rc"
	exit $cmd_rc
fi
exit $stop_rc
