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
# The output is always valid UTF-8: streaming never splits a character, and
# byte sequences the model samples that are not UTF-8 become U+FFFD.
for seed in 1 2 3 4 5 6; do
    expect_exit 0 "$(tool generate)" -m "$WORK/run/final" --prompt "猫" -n 60 --seed "$seed"
    iconv -f UTF-8 -t UTF-8 "$WORK/out" >/dev/null || fail "seed $seed: output is not UTF-8"
done

# Generation stops at the context length (32 tokens for the tiny model).
expect_exit 0 "$(tool generate)" -m "$WORK/run/final" --prompt "The" -n 500 -t 0
expect_grep 'context length of 32 tokens' "$WORK/err"
