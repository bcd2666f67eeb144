#!/bin/sh
# Runs every cmocka test binary given on the command line and prints one
# closing line "N passed, N failed" (binaries, not individual cases; cmocka's
# own per-case lines come before it).
passed=0
failed=0
failed_names=""
for t in "$@"; do
    if "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failed_names="$failed_names $t"
    fi
done
[ -n "$failed_names" ] && echo "failed test programs:$failed_names"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
