# train writes checkpoints, the final model, the step log and metrics. An
# unchanged rerun is skipped, a resumed run ends with bit-identical weights
# and optimizer state under fp32 and (when built) bf16 products, and --resume
# after a finished run starts from final/.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"

make_shards "$WORK/shards"
TRAIN_SETTINGS+=(--set matmul-precision=fp32)
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
# exact_resume RUN [ARGS...]: RUN is a finished run of train_tiny with ARGS;
# a copy cut back to its step-10 checkpoint resumes with ARGS to the same bytes.
exact_resume() {
    local run=$1 resumed=$1-resumed
    shift
    cp -r "$run" "$resumed"
    rm -rf "$resumed/final" "$resumed/manifest.json" "$resumed/metrics.json" "$resumed/.tasks"
    expect_exit 0 train_tiny "$WORK/shards" "$resumed" --resume "$@"
    expect_grep 'resuming from .*step-000010 at step 10' "$WORK/err"
    cmp -s "$run/final/model.safetensors" "$resumed/final/model.safetensors" \
        || fail "resumed weights differ from the uninterrupted run ($run)"
    cmp -s "$run/final/optimizer.safetensors" "$resumed/final/optimizer.safetensors" \
        || fail "resumed optimizer state differs from the uninterrupted run ($run)"
    [ "$(grep -c '"loss"' "$resumed/train_log.jsonl")" -eq 20 ] \
        || fail "the resumed step log should hold each of the 20 steps once ($run)"
}
exact_resume "$WORK/run"
cp -r "$WORK/run-resumed" "$WORK/resumed"

# The same under bf16 products: the rounding is deterministic, so a resume
# is still exact.
if bf16_built; then
    expect_exit 0 train_tiny "$WORK/shards" "$WORK/bf16" --set matmul-precision=bf16
    expect_grep 'matrix products in bf16' "$WORK/err"
    expect_grep '"matmul-precision": "bf16"' "$WORK/bf16/final/trainer_state.json"
    exact_resume "$WORK/bf16" --set matmul-precision=bf16
    # Resuming a bf16 checkpoint with fp32 products runs, with a warning.
    rm -rf "$WORK/bf16-resumed/final" "$WORK/bf16-resumed/manifest.json"
    expect_exit 0 train_tiny "$WORK/shards" "$WORK/bf16-resumed" --resume
    expect_grep 'trained with bf16 matrix products but this run uses fp32' "$WORK/err"
else
    echo "this build has no bf16 products (meson option bf16, libdnnl-dev): exact resume checked in fp32 only"
fi

# Resuming a finished run without more steps is an error that leaves final/ in place.
expect_exit 1 train_tiny "$WORK/shards" "$WORK/resumed" --resume --set steps=10
expect_grep 'the checkpoint is at step 20, which is not before the end' "$WORK/err"
[ -f "$WORK/resumed/final/model.safetensors" ] || fail "a refused resume removed final/"

# --resume after a finished run starts from final/ (step 20), not from the
# older step-10 checkpoint, and trains only the steps still missing.
expect_exit 0 train_tiny "$WORK/shards" "$WORK/resumed" --resume --set steps=25
expect_grep "resuming from $WORK/resumed/final at step 20" "$WORK/err"
[ "$(grep -c '"loss"' "$WORK/resumed/train_log.jsonl")" -eq 25 ] \
    || fail "after resuming from final/ the step log should hold steps 1 to 25 once"
grep '"loss"' "$WORK/resumed/train_log.jsonl" | sed -n 21p | grep -q '"step": 21,' \
    || fail "the run resumed from final/ should continue at step 21"
expect_grep '"step": 25' "$WORK/resumed/final/trainer_state.json"
