# tokenize reports a missing tokenizer, invalid ids and bad option use.
. "$(dirname "$0")/../lib.sh"

TOKENIZER="$LMPIPE_SOURCE/tests/fixtures/tokenizer/tokenizer.json"

expect_exit 2 "$(tool tokenize)" --text /dev/null
expect_grep 'missing tokenizer' "$WORK/err"

expect_exit 1 "$(tool tokenize)" -t "$WORK/none.json" --text /dev/null
expect_grep 'none.json' "$WORK/err"

echo '{"model": {}}' >"$WORK/bad.json"
expect_exit 1 "$(tool tokenize)" -t "$WORK/bad.json" --text /dev/null
expect_grep 'bad.json' "$WORK/err"

printf '1 2 3\n5 99999 6\n' >"$WORK/ids.txt"
expect_exit 1 "$(tool tokenize)" -t "$TOKENIZER" --decode "$WORK/ids.txt"
expect_grep 'ids.txt:2: invalid token id "99999"' "$WORK/err"

printf '1 x2\n' >"$WORK/ids.txt"
expect_exit 1 "$(tool tokenize)" -t "$TOKENIZER" --decode "$WORK/ids.txt"
expect_grep 'invalid token id "x2"' "$WORK/err"

expect_exit 2 "$(tool tokenize)" -t "$TOKENIZER" --decode --text "$WORK/ids.txt"
