# bpe-train rejects --task, a missing output, a too small vocabulary and
# missing input files with clear messages.
. "$(dirname "$0")/../lib.sh"

echo '{"id":"1","text":"some text","source":"t"}' >"$WORK/docs.jsonl"

expect_exit 2 "$(tool bpe-train)" --task 1/2 "$WORK/docs.jsonl" -o "$WORK/trained"
expect_grep 'task is not supported' "$WORK/err"

expect_exit 2 "$(tool bpe-train)" "$WORK/docs.jsonl"
expect_grep 'missing output' "$WORK/err"

expect_exit 2 "$(tool bpe-train)" --vocab-size 100 "$WORK/docs.jsonl" -o "$WORK/t.json"
expect_grep 'too small' "$WORK/err"

expect_exit 2 "$(tool bpe-train)" --vocab-size abc "$WORK/docs.jsonl" -o "$WORK/t.json"

expect_exit 1 "$(tool bpe-train)" "$WORK/missing.jsonl" -o "$WORK/t.json"
expect_grep 'missing.jsonl' "$WORK/err"
[ ! -e "$WORK/t.json" ] || fail "a failed run left an output file"
