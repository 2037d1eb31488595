# --set matmul-precision: unknown values are usage errors, auto logs what it
# chose and why, the settings hash and trainer_state.json record the choice,
# and bf16 products (when built) train to losses within 0.01 nats of fp32.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"

# Absolute value of the difference of two numbers, with 6 decimals.
difference() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.6f\n", d }'; }
final_val_loss() { grep -o '"final_val_loss": [0-9.]*' "$1/metrics.json" | grep -o '[0-9.]*$'; }

make_shards "$WORK/shards"
expect_exit 2 train_tiny "$WORK/shards" "$WORK/bad" --set matmul-precision=fp16
expect_grep 'matmul-precision=fp16: expected fp32, bf16 or auto' "$WORK/err"
expect_exit 2 "$(tool evaluate)" "$WORK/shards" -m "$WORK/none" --set matmul-precision=tf32
expect_grep 'matmul-precision=tf32: expected fp32, bf16 or auto' "$WORK/err"

# auto (the default) names its choice and the reason. The settings record the
# choice, not "auto", so an explicit run of the same precision is the same run.
expect_exit 0 train_tiny "$WORK/shards" "$WORK/auto"
expect_grep 'matrix products in (fp32|bf16) \(auto: ' "$WORK/err"
chosen=$(grep -o 'matrix products in [a-z0-9]*' "$WORK/err" | head -1 | grep -o '[a-z0-9]*$')
expect_grep "\"matmul-precision\": \"$chosen\"" "$WORK/auto/final/trainer_state.json"
expect_grep "\"matmul-precision\": \"$chosen\"" "$WORK/auto/manifest.json"
expect_exit 0 train_tiny "$WORK/shards" "$WORK/auto" --set matmul-precision="$chosen"
expect_grep 'is up to date' "$WORK/err"

if ! bf16_built; then
    expect_exit 2 train_tiny "$WORK/shards" "$WORK/bf16" --set matmul-precision=bf16
    expect_grep 'this build has no bf16 matrix products; install libdnnl-dev' "$WORK/err"
    [ "$chosen" = fp32 ] || fail "auto chose $chosen in a build without bf16 products"
    skip "this build has no bf16 products (meson option bf16, libdnnl-dev); fp32 against bf16 not compared"
fi

# fp32 and bf16 from the same seed: the losses stay close, but the weights
# differ, which shows that the bf16 products ran.
expect_exit 0 train_tiny "$WORK/shards" "$WORK/fp32" --set matmul-precision=fp32
expect_grep 'matrix products in fp32 \(requested' "$WORK/err"
expect_exit 0 train_tiny "$WORK/shards" "$WORK/bf16" --set matmul-precision=bf16
expect_grep 'matrix products in bf16 \(requested' "$WORK/err"
! cmp -s "$WORK/fp32/final/model.safetensors" "$WORK/bf16/final/model.safetensors" \
    || fail "bf16 and fp32 training ended with the same weights; bf16 products did not run"
[ "$(grep -o '"settings_hash": "[0-9a-f]*"' "$WORK/fp32/manifest.json")" != \
    "$(grep -o '"settings_hash": "[0-9a-f]*"' "$WORK/bf16/manifest.json")" ] \
    || fail "fp32 and bf16 runs share a settings hash"
largest=$(paste <(grep -o '"loss": [0-9.]*' "$WORK/fp32/train_log.jsonl" | grep -o '[0-9.]*$') \
    <(grep -o '"loss": [0-9.]*' "$WORK/bf16/train_log.jsonl" | grep -o '[0-9.]*$') |
    awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.6f\n", m }')
val=$(difference "$(final_val_loss "$WORK/fp32")" "$(final_val_loss "$WORK/bf16")")
echo "bf16 against fp32 over 20 steps: largest step-loss difference $largest, final val loss difference $val nats"
awk -v a="$largest" -v b="$val" 'BEGIN { exit !(a <= 0.01 && b <= 0.01) }' \
    || fail "bf16 losses differ from fp32 by $largest (steps) and $val (final val) nats"

# evaluate: the same checkpoint scored with either precision gives nearly the same loss.
for precision in fp32 bf16; do
    expect_exit 0 "$(tool evaluate)" "$WORK/shards" -m "$WORK/fp32/final" \
        --set matmul-precision=$precision -o "$WORK/eval-$precision.json"
    expect_grep "matrix products in $precision" "$WORK/err"
done
loss() { grep -o '"loss": [0-9.]*' "$1" | grep -o '[0-9.]*$'; }
eval_difference=$(difference "$(loss "$WORK/eval-fp32.json")" "$(loss "$WORK/eval-bf16.json")")
echo "evaluate, bf16 against fp32: loss difference $eval_difference nats"
awk -v d="$eval_difference" 'BEGIN { exit !(d <= 0.01) }' \
    || fail "evaluate's bf16 loss differs from fp32 by $eval_difference nats (more than 0.01)"
