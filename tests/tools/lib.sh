# Shared helpers for program behaviour tests; sourced by each script.
# Exit status 77 tells meson the test was skipped.
set -u

TOOLS="$LMPIPE_BUILD/tools"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lmpipe-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

tool() { echo "$TOOLS/$1/$1"; }

fail() { echo "FAIL: $*" >&2; exit 1; }

skip() { echo "SKIP: $*" >&2; exit 77; }

# expect_exit CODE COMMAND...: runs the command, keeps its stdout and stderr in
# $WORK/out and $WORK/err, and fails unless it exits with CODE.
expect_exit() {
    local expected=$1; shift
    local status=0
    "$@" >"$WORK/out" 2>"$WORK/err" || status=$?
    if [ "$status" -ne "$expected" ]; then
        echo "--- stderr of: $*" >&2; cat "$WORK/err" >&2
        fail "exit status $status, expected $expected: $*"
    fi
}

# expect_grep PATTERN FILE: fails unless FILE contains PATTERN (extended regex).
expect_grep() {
    grep -Eq -- "$1" "$2" || { echo "--- $2:" >&2; head -c 2000 "$2" >&2; fail "no match for /$1/ in $2"; }
}

# require_shared_data FILE: skips the test when the real-data folder is absent.
require_shared_data() {
    [ -e "$LMPIPE_SHARED_DATA/$1" ] || skip "real data $1 not found beside the repository"
}
