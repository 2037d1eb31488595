# lmpipe PROGRAM ARGS runs the stage program found in the build tree.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$(tool clean)" ] || skip "clean is not built"

expect_exit 0 "$lmpipe" clean --version
expect_grep '^clean \(lmpipe\)' "$WORK/out"

# The program's own exit status comes back unchanged.
expect_exit 2 "$lmpipe" clean --no-such-option
expect_grep 'no-such-option' "$WORK/err"

# A known program that cannot be found anywhere is an error, not a PATH accident.
mkdir -p "$WORK/alone"
cp "$lmpipe" "$WORK/alone/lmpipe"
PATH=/usr/bin:/bin expect_exit 1 "$WORK/alone/lmpipe" clean --version
expect_grep 'program clean not found' "$WORK/err"
