# train writes checkpoints, the final model, the step log and metrics. An
# unchanged rerun is skipped, and a resumed run ends with bit-identical
# weights and optimizer state.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"

make_shards "$WORK/shards"
expect_exit 0 train_tiny "$WORK/shards" "$WORK/run"
expect_grep 'step 20/20 \| loss [0-9.]+ \| lr ' "$WORK/err"
expect_grep 'final val loss [0-9.]+ nats/token; unigram entropy' "$WORK/err"

for name in manifest.json metrics.json train_log.jsonl checkpoints/step-000010/config.json \
    final/config.json final/model.safetensors final/optimizer.safetensors \
    final/tokenizer.json final/trainer_state.json; do
    [ -f "$WORK/run/$name" ] || fail "missing $name in the output folder"
done
[ ! -e "$WORK/run/checkpoints/step-000020" ] || fail "the last step belongs in final/, not checkpoints/"
[ "$(grep -c '"loss"' "$WORK/run/train_log.jsonl")" -eq 20 ] || fail "expected 20 step lines"
expect_grep '"val_loss"' "$WORK/run/train_log.jsonl"
expect_grep '"final_val_loss": [0-9.]+' "$WORK/run/metrics.json"
expect_grep '"unigram_entropy": [0-9.]+' "$WORK/run/metrics.json"
expect_grep '"model_type": "gpt2"' "$WORK/run/final/config.json"
expect_grep '"step": 20' "$WORK/run/final/trainer_state.json"
cmp -s "$TOKENIZER" "$WORK/run/final/tokenizer.json" || fail "tokenizer.json was not copied"

# The loss went down from its start near ln(vocabulary).
first=$(head -1 "$WORK/run/train_log.jsonl" | grep -o '"loss": [0-9.]*' | grep -o '[0-9.]*$')
last=$(grep '"loss"' "$WORK/run/train_log.jsonl" | tail -1 | grep -o '"loss": [0-9.]*' | grep -o '[0-9.]*$')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a - 0.5) }' || fail "loss $first -> $last did not fall"

# Same settings and inputs: skipped.
expect_exit 0 train_tiny "$WORK/shards" "$WORK/run"
expect_grep 'up to date' "$WORK/err"

# Interrupted after step 10: resume from the checkpoint and end identical.
cp -r "$WORK/run" "$WORK/resumed"
rm -rf "$WORK/resumed/final" "$WORK/resumed/manifest.json" "$WORK/resumed/metrics.json" \
    "$WORK/resumed/.tasks"
expect_exit 0 train_tiny "$WORK/shards" "$WORK/resumed" --resume
expect_grep 'resuming from .*step-000010 at step 10' "$WORK/err"
cmp -s "$WORK/run/final/model.safetensors" "$WORK/resumed/final/model.safetensors" \
    || fail "resumed weights differ from the uninterrupted run"
cmp -s "$WORK/run/final/optimizer.safetensors" "$WORK/resumed/final/optimizer.safetensors" \
    || fail "resumed optimizer state differs from the uninterrupted run"
[ "$(grep -c '"loss"' "$WORK/resumed/train_log.jsonl")" -eq 20 ] \
    || fail "the resumed step log should hold each of the 20 steps once"

# Resuming a finished run without more steps is an error.
expect_exit 1 train_tiny "$WORK/shards" "$WORK/resumed" --resume --set steps=10
