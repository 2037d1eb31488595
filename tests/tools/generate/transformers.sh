# Checkpoints of both families load in Hugging Face transformers
# (GPT2LMHeadModel and LlamaForCausalLM from config.json and
# model.safetensors). Its greedy decoding without a KV cache gives the same
# text as generate --temperature 0 with its KV cache, for English and Chinese
# prompts. This checks the tensor names, the GPT-2 Conv1D
# transposition, the Llama q/k row order for rotary embeddings, the tied head
# and the cache. Top-k 1 is greedy at any temperature and seed.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../train/common.sh"
# The models compared are trained with fp32 products, whatever auto picks here.
TRAIN_SETTINGS+=(--set matmul-precision=fp32)

python3 -c 'import torch, transformers, tokenizers' 2>/dev/null \
    || skip "python3 with torch, transformers and tokenizers is not installed"

make_shards "$WORK/shards"
prompts=("The cat" "这是第")
for family in gpt2 llama; do
    config="$TINY_CONFIG"
    [ "$family" = llama ] && config="$LMPIPE_SOURCE/configs/models/llama-tiny.yaml"
    train_tiny "$WORK/shards" "$WORK/$family" --model-config "$config" --set steps=200 \
        --set eval-every=0 --set checkpoint-every=0 2>"$WORK/train.err" \
        || fail "$family: training failed: $(tail -3 "$WORK/train.err")"
    model="$WORK/$family/final"
    python3 "$LMPIPE_SOURCE/tests/tools/generate/hf_greedy.py" "$model" 16 "$WORK/$family-hf" \
        "${prompts[@]}" 2>"$WORK/hf.err" || fail "$family: transformers failed: $(tail -5 "$WORK/hf.err")"
    # transformers' greedy search may pick a token that breaks UTF-8 and then
    # decodes it to U+FFFD, so valid-utf8 is off on this side to compare like
    # with like.
    for index in "${!prompts[@]}"; do
        prompt=${prompts[$index]}
        expect_exit 0 "$(tool generate)" -m "$model" --prompt "$prompt" -n 16 -t 0 \
            --valid-utf8=false
        cmp -s "$WORK/out" "$WORK/$family-hf.$index" \
            || fail "$family: generate gave '$(cat "$WORK/out")' for '$prompt', transformers '$(cat "$WORK/$family-hf.$index")'"
        for seed in 1 2; do
            expect_exit 0 "$(tool generate)" -m "$model" --prompt "$prompt" -n 16 -t 1.5 -k 1 \
                --seed "$seed" --valid-utf8=false
            cmp -s "$WORK/out" "$WORK/$family-hf.$index" \
                || fail "$family: top-k 1 at temperature 1.5, seed $seed is not greedy"
        done
    done
    echo "$family: generate matches transformers on ${#prompts[@]} prompts"
done
