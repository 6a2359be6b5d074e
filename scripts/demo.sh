#!/usr/bin/env bash
# Quick start: install what is missing, build, and run a demo server.
#
#   scripts/demo.sh        (or: make demo)
#
# smbkitd --demo creates a demo share and a demo user and prints the exact
# smbclient command line to connect with.  Extra arguments are passed on to
# smbkitd (e.g. --listen 0.0.0.0:4450).  Stop it with Ctrl-C.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
bash scripts/deps.sh
bash scripts/build.sh normal
echo
exec build/smbkitd --demo "$@"
