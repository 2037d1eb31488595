# Helpers for the train and generate tests: a small English and Chinese corpus
# sharded with the test tokenizer, and a tiny model trained on it.
TOKENIZER="$LMPIPE_SOURCE/tests/fixtures/tokenizer/tokenizer.json"
TINY_CONFIG="$LMPIPE_SOURCE/configs/models/tiny.yaml"

# make_shards FOLDER: writes 240 documents and shards them into FOLDER.
make_shards() {
    local i
    for i in $(seq 1 120); do
        printf '{"id":"en-%d","text":"The cat sat on the mat, story %d. The mat was warm and the cat was happy.","source":"t"}\n' "$i" "$i"
        printf '{"id":"zh-%d","text":"这是第 %d 个故事。猫坐在垫子上，垫子很暖和，猫很开心。","source":"t"}\n' "$i" "$i"
    done >"$WORK/docs.jsonl"
    "$(tool shard)" -q -t "$TOKENIZER" "$WORK/docs.jsonl" -o "$1" --set val-fraction=0.1 \
        || fail "shard could not build the test shards"
}

# train_tiny SHARDS OUTPUT [ARGS...]: trains the tiny model for 20 steps.
TRAIN_SETTINGS=(--set steps=20 --set batch-size=4 --set seq-len=32 --set warmup-steps=2
    --set learning-rate=0.003 --set eval-every=10 --set eval-batches=2
    --set checkpoint-every=10 --threads 1)
train_tiny() {
    local shards=$1 output=$2
    shift 2
    "$(tool train)" "$shards" --model-config "$TINY_CONFIG" -o "$output" \
        "${TRAIN_SETTINGS[@]}" "$@"
}

# bf16_built: succeeds when this build has the oneDNN bf16 matrix products.
bf16_built() {
    "$(tool train)" --set matmul-precision=bf16 >/dev/null 2>"$WORK/bf16-probe.err"
    ! grep -q 'this build has no bf16 matrix products' "$WORK/bf16-probe.err"
}
