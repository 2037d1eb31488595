# train prints its help, and rejects a missing model config, a missing shard
# folder and an invalid model config with the right exit status.
source "$(dirname "$0")/../lib.sh"

expect_exit 0 "$(tool train)" --help
expect_grep 'model-config FILE' "$WORK/out"
expect_grep 'checkpoint-every N' "$WORK/out"

expect_exit 2 "$(tool train)" "$WORK/none" -o "$WORK/run"
expect_grep 'missing --model-config' "$WORK/err"

expect_exit 2 "$(tool train)" --model-config "$LMPIPE_SOURCE/configs/models/tiny.yaml" "$WORK/none"
expect_grep 'missing -o' "$WORK/err"

expect_exit 1 "$(tool train)" --model-config "$LMPIPE_SOURCE/configs/models/tiny.yaml" \
    "$WORK/none" -o "$WORK/run"

printf 'n_layer: 2\nn_heads: 2\n' >"$WORK/bad.yaml"
mkdir -p "$WORK/shards"
source "$(dirname "$0")/common.sh"
make_shards "$WORK/shards"
expect_exit 1 "$(tool train)" --model-config "$WORK/bad.yaml" "$WORK/shards" -o "$WORK/run"
expect_grep "bad.yaml:2: unknown model config key 'n_heads'" "$WORK/err"
[ ! -e "$WORK/run/manifest.json" ] || fail "a failed run wrote a manifest"

# The help names both model families.
expect_exit 0 "$(tool train)" --help
expect_grep 'train a GPT-2 or Llama family model' "$WORK/out"

# A run that fails before its first checkpoint offers no --resume: there is
# nothing to resume from.
expect_exit 1 "$(tool train)" "$WORK/shards" -o "$WORK/huge" \
    --model-config "$LMPIPE_SOURCE/pipelines/models/demo-small.yaml" \
    --set steps=2 --set batch-size=100000 --set checkpoint-every=1 --threads 1
expect_grep 'training stopped before its first checkpoint, so nothing in .*/huge resumes' \
    "$WORK/err"
! grep -q -- '--resume' "$WORK/err" || fail "a run without a checkpoint suggested --resume"
[ ! -e "$WORK/huge/checkpoints" ] || fail "a run that stopped at step 1 wrote checkpoints"
