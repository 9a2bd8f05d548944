#!/usr/bin/env bash
# tests/fuzz/run-short.sh: build the fuzz target and fuzz it briefly from the committed corpus.
#   tests/fuzz/run-short.sh [BUILD [SECONDS]]       defaults: build 60
# Prints one line, "fuzz_api: ok, N runs in S s (...)" or "fuzz_api: FAILED ..." (the
# sanitizer report then follows on stderr). The whole log is in BUILD/fuzz/fuzz-short.log.
# Exit status: 0 passed; 1 a crash, leak, timeout or broken invariant; 2 could not run.
set -u
cd "$(dirname "$0")/../.."
build=${1:-build}
seconds=${2:-60}
cc=${FUZZ_CC:-clang}
dir=$build/fuzz
work=$dir/short-corpus
artifacts=$dir/short-artifacts
log=$dir/fuzz-short.log

runtime=$(command -v "$cc" >/dev/null 2>&1 && "$cc" -print-file-name="libclang_rt.fuzzer-$(uname -m).a")
if [ -z "$runtime" ] || [ ! -f "$runtime" ]; then
	echo "fuzz_api: not run: $cc with the libFuzzer runtime is missing;" \
		"install the Debian packages clang libclang-rt-14-dev"
	exit 2
fi

mkdir -p "$dir"
if ! ${MAKE:-make} --no-print-directory BUILD="$build" FUZZ_CC="$cc" fuzz-build \
	>"$dir/build.log" 2>&1; then
	echo "fuzz_api: not run: the build failed (see $dir/build.log)"
	tail -20 "$dir/build.log" >&2
	exit 2
fi

# a fresh working corpus each time, so that the committed one never grows
rm -rf "$work" "$artifacts"
mkdir -p "$work" "$artifacts"
cp tests/fuzz/corpus/* "$work"/

# the same options as FUZZ_OPTS in fuzz.mk, and a fixed seed (FUZZ_SEED) so that the
# short run explores the same inputs on every machine; make fuzz explores at random
"$dir/fuzz_api" -max_len=4096 -timeout=10 -dict=tests/fuzz/fuzz_api.dict -print_final_stats=1 \
	-seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -artifact_prefix="$artifacts/" "$work" \
	>"$log" 2>&1
rc=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
cov=$(grep -aEo 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -1 |
	awk '{print "cov " $2 ", features " $4 ", corpus " $6}')
if [ "$rc" -eq 0 ]; then
	took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log")
	echo "fuzz_api: ok, ${runs:-0} runs in ${took:-$seconds} s${cov:+ ($cov)}"
	exit 0
fi

# what went wrong: our own check, a sanitizer report, a timeout or libFuzzer's own error
marks='invariant failed at|runtime error:|==[0-9]+==ERROR:|ALARM: working on the last Unit'
first=$(grep -a -m1 -E "$marks" "$log")
case $first in
*"invariant failed at"*) what=${first#fuzz_api: } ;;
*"runtime error:"*) what="undefined behaviour at ${first%%: runtime error:*}:${first#*runtime error:}" ;;
*ERROR:*) what=$(sed -E 's/^==[0-9]+== ?ERROR: //; s/ on (address|unknown address).*//' <<<"$first") ;;
*ALARM:*) what="timeout: one input ran longer than 10 s" ;;
*) what="the fuzzer exited with status $rc" ;;
esac
unit=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
echo "fuzz_api: FAILED after ${runs:-?} runs: ${what}${unit:+; reproducer $unit}"
# the report itself, from its first line on
start=$(grep -a -n -m1 -E "$marks" "$log" | cut -d: -f1)
tail -n +"${start:-1}" "$log" | grep -av '^stat::' | head -80 >&2
exit 1
