# The checkpoint reads as a Hugging Face GPT-2. Greedy decoding by an
# independent NumPy implementation over config.json, model.safetensors and
# tokenizer.json gives the same bytes as generate --temperature 0. This checks
# the tensor names, the Conv1D transposition, the tied head and the KV cache.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../train/common.sh"
# The models compared are trained with fp32 products, whatever auto picks here.
TRAIN_SETTINGS+=(--set matmul-precision=fp32)

python3 -c 'import numpy, safetensors, tokenizers' 2>/dev/null \
    || skip "python3 with numpy, safetensors and tokenizers is not installed"

make_shards "$WORK/shards"
train_tiny "$WORK/shards" "$WORK/run" --set steps=40 2>"$WORK/train.err" || fail "training failed"

# The NumPy reference takes the argmax over every token and decodes broken
# bytes to U+FFFD, so valid-utf8 is off here: the Chinese prompt's greedy
# continuation may contain such bytes after 40 steps.
for prompt in "The cat sat" "这是第"; do
    expect_exit 0 "$(tool generate)" -m "$WORK/run/final" --prompt "$prompt" -n 12 -t 0 \
        --valid-utf8=false
    python3 "$LMPIPE_SOURCE/tests/tools/train/gpt2_reference.py" "$WORK/run/final" "$prompt" 12 \
        >"$WORK/reference" || fail "the NumPy reference failed"
    cmp "$WORK/out" "$WORK/reference" || {
        od -c "$WORK/out" | head -5 >&2
        od -c "$WORK/reference" | head -5 >&2
        fail "generate and the NumPy GPT-2 disagree on prompt '$prompt'"
    }
done
