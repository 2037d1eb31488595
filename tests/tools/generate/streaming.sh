# generate streams: through a pipe, the first tokens' text arrives while the
# process still runs, long before it exits, for GPT-2 and Llama models. The
# models have a context of 1024 tokens and are not trained (one step at
# learning rate 0), and greedy decoding of 1000 tokens keeps them busy.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../train/common.sh"

command -v python3 >/dev/null || skip "python3 is not installed; it reads the pipe"
make_shards "$WORK/shards"
cat >"$WORK/gpt2.yaml" <<'YAML'
family: gpt2
n_layer: 4
n_head: 4
n_embd: 128
n_ctx: 1024
YAML
cat >"$WORK/llama.yaml" <<'YAML'
family: llama
n_layer: 4
n_head: 4
n_kv_head: 2
n_embd: 128
n_ctx: 1024
intermediate_size: 384
rope_theta: 10000
rms_norm_eps: 1e-5
tie_word_embeddings: true
YAML
for family in gpt2 llama; do
    train_tiny "$WORK/shards" "$WORK/$family" --model-config "$WORK/$family.yaml" \
        --set steps=1 --set learning-rate=0 --set eval-every=0 --set checkpoint-every=0 \
        2>"$WORK/train.err" || fail "$family: training failed: $(tail -3 "$WORK/train.err")"
    python3 "$LMPIPE_SOURCE/tests/tools/generate/stream_reader.py" "$(tool generate)" \
        -m "$WORK/$family/final" --prompt "The cat 这是" -n 1000 -t 0 --threads 1 \
        >"$WORK/$family.timing" || fail "$family: generate failed: $(cat "$WORK/$family.timing")"
    read -r first end chunks bytes state <"$WORK/$family.timing"
    echo "$family: first text after $first s, output ended after $end s, $chunks chunks, $bytes bytes"
    [ "$state" = running ] || fail "$family: the first text came only after generate exited"
    [ "$chunks" -ge 2 ] || fail "$family: the output came in one piece ($bytes bytes)"
    awk -v f="$first" -v e="$end" 'BEGIN { exit !(f < e / 2) }' \
        || fail "$family: the first text came after $first s of $end s; it should come in the first half"
done
