# evaluate's loss on a small validation split equals the loss that Hugging
# Face transformers computes for the same exported checkpoint and the same
# windows of tokens, for GPT-2 and Llama checkpoints (English and Chinese
# text). Both sides use fp32 products.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../train/common.sh"

python3 -c 'import torch, transformers' 2>/dev/null \
    || skip "python3 with torch and transformers is not installed"
command -v zstd >/dev/null || skip "the zstd program is not installed; the reference reads shards with it"

make_shards "$WORK/shards"
field() { grep -o "\"$1\": [0-9.e+-]*" "$2" | grep -o '[0-9.e+-]*$'; }
for family in gpt2 llama; do
    config="$TINY_CONFIG"
    [ "$family" = llama ] && config="$LMPIPE_SOURCE/configs/models/llama-tiny.yaml"
    train_tiny "$WORK/shards" "$WORK/$family" --model-config "$config" 2>"$WORK/train.err" \
        || fail "$family: training failed: $(tail -3 "$WORK/train.err")"
    expect_exit 0 "$(tool evaluate)" "$WORK/shards" -m "$WORK/$family/final" --seq-len 16 \
        --set matmul-precision=fp32 -o "$WORK/$family.json"
    python3 "$LMPIPE_SOURCE/tests/tools/evaluate/hf_loss.py" "$WORK/$family/final" \
        "$WORK/shards" val 16 >"$WORK/$family-hf.txt" 2>"$WORK/hf.err" \
        || fail "$family: transformers failed: $(tail -5 "$WORK/hf.err")"
    read -r hf_loss hf_tokens <"$WORK/$family-hf.txt"
    loss=$(field loss "$WORK/$family.json")
    tokens=$(field tokens "$WORK/$family.json")
    echo "$family: evaluate loss $loss over $tokens tokens, transformers $hf_loss over $hf_tokens"
    [ "$tokens" = "$hf_tokens" ] || fail "$family: evaluate scored $tokens tokens, transformers $hf_tokens"
    awk -v a="$loss" -v b="$hf_loss" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 2e-5) }' \
        || fail "$family: evaluate loss $loss differs from transformers' $hf_loss by more than 2e-5"
done
