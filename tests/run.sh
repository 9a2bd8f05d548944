#!/usr/bin/env bash
# tests/run.sh: run the unit tests (cmocka) and the integration and browser
# tests (node --test), then print one line "N passed, N failed".
# Expects `make all unit` to have built build/ferryd and build/tests/*.
set -u
cd "$(dirname "$0")/.."
mkdir -p tests/artifacts
passed=0
failed=0

echo "== unit tests"
for t in build/tests/test_*; do
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

echo "== integration and browser tests"
files=(tests/lib/selftest.test.js tests/e2e/*.test.js)
node --test --test-reporter=spec --test-reporter-destination=stdout \
	--test-reporter=tap --test-reporter-destination=tests/artifacts/node.tap "${files[@]}"
rc=$?
p=$(grep -E '^# pass ' tests/artifacts/node.tap | tail -1 | awk '{print $3}')
f=$(grep -E '^# fail ' tests/artifacts/node.tap | tail -1 | awk '{print $3}')
p=${p:-0}
f=${f:-0}
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
	f=1 # the runner itself failed
fi
passed=$((passed + p))
failed=$((failed + f))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
