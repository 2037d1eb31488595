# --continue-from with the same shards resumes exactly from the latest
# checkpoint. With changed shards it keeps the weights, the AdamW state and
# the step count, starts the new shards at their first window and restarts
# the learning-rate schedule. A different model config is rejected.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"
# Bit-for-bit comparisons below: fp32 products, whatever auto picks here.
TRAIN_SETTINGS+=(--set matmul-precision=fp32)

make_shards "$WORK/shards"
# A second shard set with other text, sharded with the same tokenizer.
for i in $(seq 1 100); do
    printf '{"id":"new-%d","text":"A dog ran in the park, day %d. The park was green and the dog was fast.","source":"t"}\n' "$i" "$i"
    printf '{"id":"new-zh-%d","text":"第 %d 天，狗在公园里跑。公园很绿，狗跑得很快。","source":"t"}\n' "$i" "$i"
done >"$WORK/docs2.jsonl"
"$(tool shard)" -q -t "$TOKENIZER" "$WORK/docs2.jsonl" -o "$WORK/shards2" --set val-fraction=0.1 \
    || fail "shard could not build the second shard set"

# state_field FILE KEY: prints the integer KEY of a trainer_state.json.
state_field() { grep -o "\"$2\": [0-9]*" "$1" | head -1 | grep -o '[0-9]*$'; }

expect_exit 0 train_tiny "$WORK/shards" "$WORK/first"

# Changed shards: steps 21 to 30 follow, the log reports it, the first step of
# the new shards has the warmup rate of step 1 again, and a starting
# checkpoint at step 20 is written.
expect_exit 0 "$(tool train)" "$WORK/shards2" -o "$WORK/next" --continue-from "$WORK/first" \
    "${TRAIN_SETTINGS[@]}" --set steps=10
expect_grep "continuing from $WORK/first/final at step 20 on a changed shard set" "$WORK/err"
expect_grep 'steps 21 to 30 follow' "$WORK/err"
[ "$(state_field "$WORK/next/final/trainer_state.json" step)" -eq 30 ] \
    || fail "the continued run should end at step 30"
[ "$(state_field "$WORK/next/final/trainer_state.json" optimizer_step)" -eq 30 ] \
    || fail "the AdamW step count should continue to 30"
[ "$(state_field "$WORK/next/final/trainer_state.json" segment_start_step)" -eq 20 ] \
    || fail "the new shard set should start at step 20"
head -1 "$WORK/next/train_log.jsonl" | grep -q '"step": 21, .*"lr": 1.500000e-03' \
    || fail "the first logged step should be 21 with the warmup rate: $(head -1 "$WORK/next/train_log.jsonl")"
[ -d "$WORK/next/checkpoints/step-000020" ] || fail "no starting checkpoint at step 20"
expect_grep '"position": 0,' "$WORK/next/checkpoints/step-000020/trainer_state.json"
# The weights carry over: with learning rate 0 they stay exactly those of the checkpoint.
expect_exit 0 "$(tool train)" "$WORK/shards2" -o "$WORK/frozen" --continue-from "$WORK/first" \
    "${TRAIN_SETTINGS[@]}" --set steps=3 --set learning-rate=0
python3 - "$WORK/first/final/model.safetensors" "$WORK/frozen/final/model.safetensors" <<'PY' \
    || fail "continuing with learning rate 0 changed the weights"
import json, struct, sys
def tensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    return {k: data[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in header.items()}
sys.exit(0 if tensors(sys.argv[1]) == tensors(sys.argv[2]) else 1)
PY

# Same shards, latest checkpoint before the end: an exact resume, bit for bit.
cp "$WORK/first/final/model.safetensors" "$WORK/reference.safetensors"
rm -rf "$WORK/first/final" "$WORK/first/manifest.json"
expect_exit 0 "$(tool train)" "$WORK/shards" -o "$WORK/again" --continue-from "$WORK/first" \
    "${TRAIN_SETTINGS[@]}"
expect_grep "resuming from $WORK/first/checkpoints/step-000010 at step 10" "$WORK/err"
cmp -s "$WORK/reference.safetensors" "$WORK/again/final/model.safetensors" \
    || fail "resuming through --continue-from differs from the uninterrupted run"

# Continuing into the run's own folder: the step log keeps the steps 11 to 20
# of the resumed run and adds 21 to 30, and the same command again finds the
# folder up to date.
CONTINUE=("$(tool train)" "$WORK/shards2" -o "$WORK/again" --continue-from "$WORK/again"
    --model-config "$TINY_CONFIG" "${TRAIN_SETTINGS[@]}" --set steps=10)
expect_exit 0 "${CONTINUE[@]}"
[ "$(grep -c '"loss"' "$WORK/again/train_log.jsonl")" -eq 20 ] \
    || fail "the step log of the continued folder should hold steps 11 to 30"
grep '"loss"' "$WORK/again/train_log.jsonl" | tail -1 | grep -q '"step": 30,' \
    || fail "the step log of the continued folder should end at step 30"
[ "$(state_field "$WORK/again/final/trainer_state.json" step)" -eq 30 ] \
    || fail "the continued folder should end at step 30"
expect_exit 0 "${CONTINUE[@]}"
expect_grep 'is up to date' "$WORK/err"

# A model config other than the checkpoint's is rejected.
printf 'n_layer: 3\nn_head: 2\nn_embd: 32\nn_ctx: 32\n' >"$WORK/other.yaml"
expect_exit 1 "$(tool train)" "$WORK/shards2" -o "$WORK/bad" --continue-from "$WORK/next" \
    --model-config "$WORK/other.yaml" "${TRAIN_SETTINGS[@]}"
expect_grep 'differs from the model config' "$WORK/err"

# The first run of a pipeline: --continue-from names the output folder, which
# contains no checkpoint yet, so train starts from scratch, logs that, and ends
# exactly where a run without --continue-from ends. The rerun is up to date.
FIRST=("$(tool train)" "$WORK/shards" -o "$WORK/fresh" --continue-from "$WORK/fresh"
    --model-config "$TINY_CONFIG" "${TRAIN_SETTINGS[@]}")
expect_exit 0 "${FIRST[@]}"
expect_grep "continue-from $WORK/fresh: no checkpoint there yet, so this first run starts from scratch" "$WORK/err"
expect_exit 0 train_tiny "$WORK/shards" "$WORK/plain"
cmp -s "$WORK/fresh/final/model.safetensors" "$WORK/plain/final/model.safetensors" \
    || fail "a first run with --continue-from differs from a run without it"
[ "$(grep -o '"settings_hash": "[0-9a-f]*"' "$WORK/fresh/manifest.json")" = \
    "$(grep -o '"settings_hash": "[0-9a-f]*"' "$WORK/plain/manifest.json")" ] \
    || fail "--continue-from changed the settings hash of a first run"
expect_exit 0 "${FIRST[@]}"
expect_grep 'is up to date' "$WORK/err"

# Usage errors: no checkpoint and no model config to start from, and
# --continue-from with --resume.
expect_exit 1 "$(tool train)" "$WORK/shards2" -o "$WORK/bad" --continue-from "$WORK/shards2" \
    "${TRAIN_SETTINGS[@]}"
expect_grep 'no checkpoint there yet .* and no --model-config to start from scratch' "$WORK/err"
[ ! -e "$WORK/bad/manifest.json" ] || fail "a failed first run wrote a manifest"
expect_exit 2 "$(tool train)" "$WORK/shards2" -o "$WORK/bad" --continue-from "$WORK/next" --resume
expect_grep 'drop --init-from and --resume' "$WORK/err"
