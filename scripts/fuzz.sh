#!/bin/sh
# Bounded fuzzing tier: builds the libFuzzer targets of fuzz/ with clang
# (ASan + UBSan + libFuzzer) in build-fuzz, replays every saved regression
# input once, then runs each target for SECONDS_PER_TARGET seconds on a copy
# of its seed corpus.  Prints executions, coverage, corpus size and crashes
# per target; exits non-zero if any target crashed, leaked, timed out or
# printed a sanitizer report.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 30)
#   FUZZ_TARGETS="fuzz_server fuzz_spnego" scripts/fuzz.sh 600   (a subset)
#
# Crashing inputs are written to build-fuzz/artifacts/<target>/; to keep one
# fixed, copy it to fuzz/regressions/<target>/ (replayed by every run).
set -u

secs=${1:-30}
case "$secs" in ''|*[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;; esac

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-fuzz"
all_targets="fuzz_smb2_hdr_and_commands fuzz_ntlmssp fuzz_spnego fuzz_dcerpc fuzz_fileinfo fuzz_server fuzz_sd"
targets=${FUZZ_TARGETS:-$all_targets}

# ---- toolchain
if ! command -v clang >/dev/null 2>&1 ||
   ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
	echo "fuzz: installing clang and its libFuzzer runtime"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq clang libclang-rt-dev >/dev/null 2>&1 ||
		apt-get install -y -qq clang libclang-rt-14-dev >/dev/null ||
		{ echo "fuzz: could not install clang" >&2; exit 1; }
fi

# ---- build
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" "$root" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
		>"$build.setup.log" 2>&1 || { cat "$build.setup.log" >&2; exit 1; }
	rm -f "$build.setup.log"
fi
ninja_targets=""
for t in $targets; do ninja_targets="$ninja_targets fuzz/$t"; done
# shellcheck disable=SC2086
ninja -C "$build" $ninja_targets >"$build/fuzz-build.log" 2>&1 || {
	tail -40 "$build/fuzz-build.log" >&2
	echo "fuzz: build failed" >&2
	exit 1
}

# Sanitizers: every report is fatal; leaks are checked (LeakSanitizer).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

sanitizer_report() {
	grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY: (Address|Undefined|Leak)|^fuzz(_server)?: ' "$1"
}

failed=0
summary=""

# ---- regressions: each saved input once
for t in $targets; do
	dir="$root/fuzz/regressions/$t"
	[ -d "$dir" ] || continue
	files=$(find "$dir" -type f ! -name '*.md' ! -name '*.txt' | sort)
	[ -n "$files" ] || continue
	log="$build/regressions-$t.log"
	# shellcheck disable=SC2086
	"$build/fuzz/$t" -timeout=10 -rss_limit_mb=2048 $files >"$log" 2>&1
	rc=$?
	n=$(echo "$files" | wc -l)
	if [ $rc -ne 0 ] || sanitizer_report "$log"; then
		echo "REGRESSION $t: a saved input fails again (rc $rc), see $log"
		grep -E 'ERROR|SUMMARY|runtime error|Running: ' "$log" | head -10
		failed=1
	else
		echo "regressions $t: $n input(s) pass"
	fi
done

# ---- time-bounded fuzzing
printf '\n%-28s %10s %8s %6s %8s %8s %s\n' target execs exec/s cov corpus crashes status
for t in $targets; do
	work="$build/corpus-work/$t"
	art="$build/artifacts/$t"
	rm -rf "$work"
	mkdir -p "$work" "$art"
	[ -d "$root/fuzz/corpus/$t" ] && cp "$root/fuzz/corpus/$t"/* "$work"/ 2>/dev/null
	before=$(find "$art" -type f | wc -l)
	log="$build/fuzz-$t.log"
	extra=""
	[ -f "$root/fuzz/$t.dict" ] && extra="-dict=$root/fuzz/$t.dict"
	# shellcheck disable=SC2086
	"$build/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" $extra "$work" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
	ncorp=$(find "$work" -type f | wc -l)
	after=$(find "$art" -type f | wc -l)
	crashes=$((after - before))
	status=ok
	if [ $rc -ne 0 ] || [ $crashes -gt 0 ] || sanitizer_report "$log"; then
		status="FAILED (rc $rc, see $log)"
		failed=1
	fi
	printf '%-28s %10s %8s %6s %8s %8s %s\n' "$t" "${execs:-?}" "${speed:-?}" "${cov:-?}" "$ncorp" "$crashes" "$status"
	summary="$summary$t $status\n"
	if [ "$status" != ok ]; then
		grep -E 'ERROR:|SUMMARY:|runtime error:|^fuzz(_server)?: |Test unit written' "$log" | head -8 | sed 's/^/    /'
	fi
done

if [ $failed -ne 0 ]; then
	echo "fuzz: FAILED (crashing inputs are in $build/artifacts/<target>/)"
	exit 1
fi
echo "fuzz: all targets ran clean"
