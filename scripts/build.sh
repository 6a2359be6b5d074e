#!/usr/bin/env bash
# Configures (once) and builds one of the two build trees:
#
#   scripts/build.sh [normal]   build/       debug info + optimisation, asserts on
#   scripts/build.sh asan       build-asan/  -O0, AddressSanitizer + UBSan
#   scripts/build.sh tsan       build-tsan/  ThreadSanitizer (the stress tier)
#
# All use --werror: a warning is a build failure here and in CI.  An
# existing tree is reused (ninja rebuilds only what changed); if it was set
# up without --werror, that is switched on.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

kind=${1:-normal}
case $kind in
normal)
	dir=${BUILD_DIR:-build}
	opts=()
	;;
asan)
	dir=${ASAN_BUILD_DIR:-build-asan}
	# b_lundef=false: sanitizer runtimes resolve some symbols at run time.
	opts=(-Db_sanitize=address,undefined -Db_lundef=false --buildtype=debug)
	;;
tsan)
	dir=${TSAN_BUILD_DIR:-build-tsan}
	opts=(-Db_sanitize=thread -Db_lundef=false --buildtype=debug)
	;;
*)
	echo "usage: $0 [normal|asan|tsan]" >&2
	exit 2
	;;
esac

for tool in meson ninja cc pkg-config; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "build.sh: '$tool' not found; run scripts/deps.sh first (installs the Debian packages)" >&2
		exit 1
	fi
done

if [[ ! -f "$dir/build.ninja" ]]; then
	meson setup "$dir" --werror "${opts[@]}"
elif ! grep -q '"name": "werror", "value": true' "$dir/meson-info/intro-buildoptions.json" 2>/dev/null; then
	meson configure "$dir" -Dwerror=true
fi
ninja -C "$dir"
