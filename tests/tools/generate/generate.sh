# generate continues English and Chinese prompts (from --prompt or standard
# input), is deterministic for a seed, and rejects a missing checkpoint.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../train/common.sh"

expect_exit 0 "$(tool generate)" --help
expect_grep 'max-tokens N' "$WORK/out"
expect_exit 2 "$(tool generate)" --prompt hi
expect_exit 1 "$(tool generate)" -m "$WORK/none" --prompt hi

make_shards "$WORK/shards"
train_tiny "$WORK/shards" "$WORK/run" 2>"$WORK/train.err" || fail "training failed"

expect_exit 0 "$(tool generate)" -m "$WORK/run/final" --prompt "The cat" -n 20 --seed 5
cp "$WORK/out" "$WORK/first"
[ -s "$WORK/first" ] || fail "no text generated"
expect_exit 0 "$(tool generate)" -m "$WORK/run/final" --prompt "The cat" -n 20 --seed 5
cmp -s "$WORK/first" "$WORK/out" || fail "the same seed gave different text"

printf '猫坐在' >"$WORK/prompt.txt"
expect_exit 0 "$(tool generate)" -m "$WORK/run/final" -n 20 --echo -t 0 <"$WORK/prompt.txt"
expect_grep '^猫坐在' "$WORK/out"
# Streaming never splits a character: the output is valid UTF-8 when every
# token sequence of the model is (the tiny model may still emit odd bytes, so
# only the echoed prompt is checked strictly).
iconv -f UTF-8 -t UTF-8 <(head -c 9 "$WORK/out") >/dev/null || fail "the prompt echo is not UTF-8"

# Generation stops at the context length (32 tokens for the tiny model).
expect_exit 0 "$(tool generate)" -m "$WORK/run/final" --prompt "The" -n 500 -t 0
expect_grep 'context length of 32 tokens' "$WORK/err"
