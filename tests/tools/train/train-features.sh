# Schedules, checkpoint retention, the MFU field of the step log, continuing
# from a Hugging Face checkpoint, gradient accumulation and outlier skipping.
# (Sharded checkpoints are read in tests/unit/test_model_llama.c.)
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"
# Bit-for-bit comparisons below: fp32 products, whatever auto picks here.
TRAIN_SETTINGS+=(--set matmul-precision=fp32)

make_shards "$WORK/shards"

# Warmup-stable-decay over 20 steps with 25% decay: the rate stays at the
# peak from the end of the warmup to step 15, then falls to the floor.
expect_exit 0 train_tiny "$WORK/shards" "$WORK/wsd" --set schedule=wsd --set decay-fraction=0.25 \
    --set min-lr-ratio=0 --set checkpoint-every=2 --set keep-checkpoints=2 --set keep-every=6 \
    --peak-gflops 100
lr_at() { grep "\"step\": $1, \"loss\"" "$WORK/wsd/train_log.jsonl" | grep -o '"lr": [0-9.e+-]*' | grep -o '[0-9.e+-]*$'; }
awk -v a="$(lr_at 5)" -v b="$(lr_at 15)" 'BEGIN { exit !(a == b && a > 0.0029) }' \
    || fail "wsd: the stable phase should hold the peak (steps 5 and 15: $(lr_at 5), $(lr_at 15))"
awk -v a="$(lr_at 20)" 'BEGIN { exit !(a < 1e-9) }' || fail "wsd: the last step should reach 0"
expect_grep '"mfu": 0\.[0-9]+' "$WORK/wsd/train_log.jsonl"
expect_grep 'MFU against 100.0 GFLOP/s' "$WORK/err"
# Kept: the last two (16, 18) and the marked multiples of 6 (6, 12).
kept=$(ls "$WORK/wsd/checkpoints" | tr '\n' ' ')
[ "$kept" = "step-000006 step-000012 step-000016 step-000018 " ] \
    || fail "expected step 6, 12, 16 and 18 to be kept, found: $kept"

# Linear decay reaches the floor at the last step; an unknown schedule is a usage error.
expect_exit 0 train_tiny "$WORK/shards" "$WORK/linear" --set schedule=linear --set min-lr-ratio=0.5
last_lr=$(grep '"step": 20, "loss"' "$WORK/linear/train_log.jsonl" | grep -o '"lr": [0-9.e+-]*' | grep -o '[0-9.e+-]*$')
awk -v a="$last_lr" 'BEGIN { exit !(a > 0.00149 && a < 0.00151) }' || fail "linear: last lr $last_lr"
expect_exit 2 train_tiny "$WORK/shards" "$WORK/bad" --set schedule=step

# Continue from the Llama checkpoint of a first run: the first loss of the
# second run is the final loss level of the first, far below a fresh start.
LLAMA_CONFIG="$LMPIPE_SOURCE/configs/models/llama-tiny.yaml"
expect_exit 0 train_tiny "$WORK/shards" "$WORK/base" --model-config "$LLAMA_CONFIG"
"$(tool train)" "$WORK/shards" --init-from "$WORK/base/final" -o "$WORK/tuned" \
    "${TRAIN_SETTINGS[@]}" --set steps=5 2>"$WORK/err" || fail "train --init-from failed: $(cat "$WORK/err")"
expect_grep 'starting from the weights of' "$WORK/err"
fresh=$(head -1 "$WORK/base/train_log.jsonl" | grep -o '"loss": [0-9.]*' | grep -o '[0-9.]*$')
tuned=$(head -1 "$WORK/tuned/train_log.jsonl" | grep -o '"loss": [0-9.]*' | grep -o '[0-9.]*$')
awk -v a="$fresh" -v b="$tuned" 'BEGIN { exit !(b < a - 1.0) }' \
    || fail "init-from: first loss $tuned is not below the fresh start $fresh"
expect_grep '"model_type": "llama"' "$WORK/tuned/final/config.json"
# --init-from and --model-config together are a usage error.
"$(tool train)" "$WORK/shards" --init-from "$WORK/base/final" --model-config "$LLAMA_CONFIG" \
    -o "$WORK/both" 2>"$WORK/err"
[ $? -eq 2 ] || fail "--init-from with --model-config should be a usage error"

# Gradient accumulation averages over tokens: 2 micro-batches of 2 sequences
# give the losses of one batch of 4, within float rounding.
expect_exit 0 train_tiny "$WORK/shards" "$WORK/b4" --set batch-size=4 --set steps=6
expect_exit 0 train_tiny "$WORK/shards" "$WORK/b2x2" --set batch-size=2 --set grad-accum=2 --set steps=6
losses() { grep '"loss"' "$1/train_log.jsonl" | grep -o '"loss": [0-9.]*' | grep -o '[0-9.]*$'; }
paste <(losses "$WORK/b4") <(losses "$WORK/b2x2") | awk '
    { n++; d = $1 - $2; if (d < 0) d = -d; if (d > 1e-4 * $1) bad = 1 }
    END { exit !(n == 6 && !bad) }' \
    || fail "grad-accum 2 x batch 2 differs from batch 4: $(paste <(losses "$WORK/b4") <(losses "$WORK/b2x2") | tr '\n' ' ')"

# Outlier skipping: with a threshold of 0.001 standard deviations some steps
# after the first 16 are skipped and logged, and a run resumed from step 20
# still ends with the same weights (the history is in trainer_state.json).
expect_exit 0 train_tiny "$WORK/shards" "$WORK/outliers" --set steps=40 --set checkpoint-every=20 \
    --set skip-outliers=0.001
skipped=$(grep -c '"skipped": true' "$WORK/outliers/train_log.jsonl")
[ "$skipped" -ge 1 ] || fail "expected skipped outlier steps in the step log"
expect_grep 'is an outlier' "$WORK/err"
expect_grep '"outlier_history"' "$WORK/outliers/final/trainer_state.json"
cp -r "$WORK/outliers" "$WORK/outliers-resumed"
rm -rf "$WORK/outliers-resumed/final" "$WORK/outliers-resumed/manifest.json" \
    "$WORK/outliers-resumed/metrics.json" "$WORK/outliers-resumed/.tasks"
expect_exit 0 train_tiny "$WORK/shards" "$WORK/outliers-resumed" --set steps=40 \
    --set checkpoint-every=20 --set skip-outliers=0.001 --resume
cmp -s "$WORK/outliers/final/model.safetensors" "$WORK/outliers-resumed/final/model.safetensors" \
    || fail "a resumed run with outlier skipping ended with different weights"
[ "$(grep -c '"skipped": true' "$WORK/outliers-resumed/train_log.jsonl")" -eq "$skipped" ] \
    || fail "the resumed run skipped other steps"
grep -q '"skipped"' "$WORK/wsd/train_log.jsonl" && fail "steps were skipped without skip-outliers"
true
