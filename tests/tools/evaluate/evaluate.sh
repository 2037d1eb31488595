# evaluate scores the validation split of English and Chinese test shards:
# perplexity is exp(loss), bits per byte follow from the UTF-8 bytes, a longer
# trained model scores better, and a wrong folder or usage fails.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../train/common.sh"

expect_exit 0 "$(tool evaluate)" --help
expect_exit 2 "$(tool evaluate)" "$WORK"
make_shards "$WORK/shards"
train_tiny "$WORK/shards" "$WORK/run" --model-config "$LMPIPE_SOURCE/configs/models/llama-tiny.yaml" \
    2>"$WORK/train.err" || fail "training failed"

expect_exit 0 "$(tool evaluate)" "$WORK/shards" -m "$WORK/run/final" --seq-len 16
cp "$WORK/out" "$WORK/final.json"
field() { grep -o "\"$1\": [0-9.e+-]*" "$2" | grep -o '[0-9.e+-]*$'; }
loss=$(field loss "$WORK/final.json")
ppl=$(field perplexity "$WORK/final.json")
bpb=$(field bits_per_byte "$WORK/final.json")
tokens=$(field tokens "$WORK/final.json")
bytes=$(field bytes "$WORK/final.json")
awk -v l="$loss" -v p="$ppl" 'BEGIN { exit !(p > 0 && (exp(l) - p) ^ 2 < 1e-4 * p * p) }' \
    || fail "perplexity $ppl is not exp(loss $loss)"
awk -v l="$loss" -v b="$bpb" -v t="$tokens" -v y="$bytes" \
    'BEGIN { e = l * t / log(2) / y; exit !(y > t && (e - b) ^ 2 < 1e-6 * b * b) }' \
    || fail "bits per byte $bpb does not follow from loss $loss, $tokens tokens, $bytes bytes"

# The checkpoint of step 10 scores worse than the final one.
expect_exit 0 "$(tool evaluate)" "$WORK/shards" -m "$WORK/run/checkpoints/step-000010" \
    --seq-len 16 -o "$WORK/early.json"
awk -v a="$(field loss "$WORK/early.json")" -v b="$loss" 'BEGIN { exit !(a > b) }' \
    || fail "step 10 should have a higher loss than the final model"
# --max-tokens scores a prefix only.
expect_exit 0 "$(tool evaluate)" "$WORK/shards" -m "$WORK/run/final" --seq-len 16 -n 64
[ "$(field tokens "$WORK/out")" -eq 64 ] || fail "expected 64 scored tokens with -n 64"

expect_exit 1 "$(tool evaluate)" "$WORK/shards" -m "$WORK/none"
expect_exit 1 "$(tool evaluate)" "$WORK/shards" -m "$WORK/run/final" --seq-len 999

# The GPT-2 family: the same relations hold, and a trained model scores
# below the uniform loss ln(vocabulary).
train_tiny "$WORK/shards" "$WORK/gpt2" 2>"$WORK/train.err" || fail "GPT-2 training failed"
expect_exit 0 "$(tool evaluate)" "$WORK/shards" -m "$WORK/gpt2/final" --seq-len 16 -o "$WORK/gpt2.json"
loss=$(field loss "$WORK/gpt2.json")
ppl=$(field perplexity "$WORK/gpt2.json")
bpb=$(field bits_per_byte "$WORK/gpt2.json")
tokens=$(field tokens "$WORK/gpt2.json")
bytes=$(field bytes "$WORK/gpt2.json")
awk -v l="$loss" -v p="$ppl" 'BEGIN { exit !(p > 0 && (exp(l) - p) ^ 2 < 1e-4 * p * p) }' \
    || fail "GPT-2: perplexity $ppl is not exp(loss $loss)"
awk -v l="$loss" -v b="$bpb" -v t="$tokens" -v y="$bytes" \
    'BEGIN { e = l * t / log(2) / y; exit !(y > t && (e - b) ^ 2 < 1e-6 * b * b) }' \
    || fail "GPT-2: bits per byte $bpb does not follow from loss $loss"
vocab=$(grep -o '"vocab_size": [0-9]*' "$WORK/gpt2/final/config.json" | grep -o '[0-9]*$')
awk -v l="$loss" -v v="$vocab" 'BEGIN { exit !(l < log(v) - 1.0) }' \
    || fail "GPT-2: loss $loss is not below the uniform ln($vocab)"
