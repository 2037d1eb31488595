# shard --mode sft and --mode preference on the real Anthropic HH test file and
# the self-instruct seed tasks: every HH record renders, about two thirds of
# the tokens are assistant tokens, and pairs come out for nearly every record.
source "$(dirname "$0")/../lib.sh"
require_shared_data post-training/hh-rlhf-harmless-base-test.jsonl.gz
require_shared_data post-training/self-instruct-seed-tasks.jsonl

TOKENIZER="$LMPIPE_SOURCE/tests/fixtures/tokenizer/qwen2-style.json"
HH="$LMPIPE_SHARED_DATA/post-training/hh-rlhf-harmless-base-test.jsonl.gz"
SEED="$LMPIPE_SHARED_DATA/post-training/self-instruct-seed-tasks.jsonl"
records=$(zcat "$HH" | wc -l)
seeds=$(wc -l <"$SEED")

expect_exit 0 "$(tool shard)" -t "$TOKENIZER" --mode sft "$HH" "$SEED" -o "$WORK/sft" \
    --threads 2
expect_grep "\"records_kept\": $((records + seeds))" "$WORK/sft/stats.json"
expect_exit 0 "$(tool shard)" --inspect "$WORK/sft/train-00000.lshard"
expect_grep '^checksums: ok' "$WORK/out"
share=$(sed -n 's/^trained tokens: .*(\([0-9]*\)\..*/\1/p' "$WORK/out")
[ "$share" -ge 30 ] && [ "$share" -le 90 ] || fail "trained share $share% is implausible"
expect_grep '^sample text: <\|im_start\|>user$' "$WORK/out"

expect_exit 0 "$(tool shard)" -t "$TOKENIZER" --mode preference "$HH" -o "$WORK/pref"
kept=$(grep -o '"records_kept": [0-9]*' "$WORK/pref/stats.json" | grep -o '[0-9]*$')
[ "$kept" -ge $((records * 99 / 100)) ] || fail "only $kept of $records HH records made pairs"
expect_exit 0 "$(tool shard)" --inspect "$WORK/pref/train-00000.lshard"
expect_grep '^preference pairs: [1-9]' "$WORK/out"
