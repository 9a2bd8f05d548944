#!/usr/bin/env bash
# tests/run.sh: run the unit tests (cmocka) and the integration and browser
# tests (node --test) against each build directory given (default: build),
# then print one line "N passed, N failed" for all of them together.
# `make test` builds build/ (plain) and build/asan/ (SANITIZE=address,undefined)
# and runs both.
set -u
cd "$(dirname "$0")/.."
mkdir -p tests/artifacts
passed=0
failed=0
builds=("$@")
[ ${#builds[@]} -gt 0 ] || builds=(build)

run_unit() {
	local dir=$1 t name out rc p f
	for t in "$dir"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1)
		rc=$?
		p=$(grep -c '^ok ' <<<"$out")
		f=$(grep -c '^not ok ' <<<"$out")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1 # the binary crashed or failed outside a test
			echo "$name: exited with status $rc"
			echo "$out" | tail -20
		fi
		grep -E '^(not ok|ok) ' <<<"$out" | sed "s|^|$name: |"
		grep -A8 '^not ok ' <<<"$out" | grep -v '^ok ' || true
		passed=$((passed + p))
		failed=$((failed + f))
	done
}

run_node() {
	local dir=$1 tap rc p f
	tap=tests/artifacts/node-$(basename "$dir").tap
	FERRYD=$dir/ferryd node --test --test-reporter=spec --test-reporter-destination=stdout \
		--test-reporter=tap --test-reporter-destination="$tap" \
		tests/lib/selftest.test.js tests/e2e/*.test.js
	rc=$?
	p=$(grep -E '^# pass ' "$tap" | tail -1 | awk '{print $3}')
	f=$(grep -E '^# fail ' "$tap" | tail -1 | awk '{print $3}')
	p=${p:-0}
	f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # the runner itself failed
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

for dir in "${builds[@]}"; do
	echo "== unit tests ($dir)"
	run_unit "$dir"
	echo "== integration and browser tests ($dir)"
	run_node "$dir"
done

# the short fuzz run of the request parsing (tests/fuzz), once
echo "== fuzzing"
tests/fuzz/run-short.sh "${builds[0]}"
case $? in
0) passed=$((passed + 1)) ;;
*) failed=$((failed + 1)) ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
