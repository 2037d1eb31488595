# Seeds: the same --seed trains bit-identical weights, and another seed
# starts from other weights (a different first loss) and ends elsewhere.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"

make_shards "$WORK/shards"
first_loss() { head -1 "$1/train_log.jsonl" | grep -o '"loss": [0-9.]*' | grep -o '[0-9.]*$'; }

expect_exit 0 train_tiny "$WORK/shards" "$WORK/a" --set seed=7 --set steps=6
expect_exit 0 train_tiny "$WORK/shards" "$WORK/b" --set seed=7 --set steps=6
cmp -s "$WORK/a/final/model.safetensors" "$WORK/b/final/model.safetensors" \
    || fail "two runs with seed 7 ended with different weights"
paste <(grep -o '"loss": [0-9.]*' "$WORK/a/train_log.jsonl") \
    <(grep -o '"loss": [0-9.]*' "$WORK/b/train_log.jsonl") | awk '$2 != $4 { exit 1 }' \
    || fail "two runs with seed 7 logged different losses"

expect_exit 0 train_tiny "$WORK/shards" "$WORK/c" --set seed=8 --set steps=6
cmp -s "$WORK/a/final/model.safetensors" "$WORK/c/final/model.safetensors" \
    && fail "seeds 7 and 8 ended with the same weights"
[ "$(first_loss "$WORK/a")" != "$(first_loss "$WORK/c")" ] \
    || fail "seeds 7 and 8 gave the same first loss $(first_loss "$WORK/a")"
expect_grep '"init_seed": 8' "$WORK/c/final/trainer_state.json"
true
