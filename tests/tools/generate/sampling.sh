# Sampling controls of generate on both families: a stop text ends the output
# before it, a tiny top-p keeps only the most likely token (the greedy text),
# and a repetition penalty changes a greedy continuation.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../train/common.sh"

make_shards "$WORK/shards"
for family in gpt2 llama; do
    config="$TINY_CONFIG"
    [ "$family" = llama ] && config="$LMPIPE_SOURCE/configs/models/llama-tiny.yaml"
    train_tiny "$WORK/shards" "$WORK/$family" --model-config "$config" --set steps=60 \
        2>"$WORK/train.err" \
        || fail "$family: training failed"
    model="$WORK/$family/final"

    expect_exit 0 "$(tool generate)" -m "$model" --prompt "The cat" -n 24 -t 0
    greedy=$(cat "$WORK/out")
    [ ${#greedy} -ge 8 ] || fail "$family: greedy text too short: '$greedy'"

    # A stop text taken from the greedy output (its start is plain text after
    # 60 steps; later bytes may not be UTF-8 yet).
    stop=${greedy:3:2}
    case "$stop" in *[!a-zA-Z\ .,]*) fail "$family: expected plain text at the start of '$greedy'" ;; esac
    expect_exit 0 "$(tool generate)" -m "$model" --prompt "The cat" -n 24 -t 0 --stop "$stop" \
        --stop "never-in-output"
    expected=${greedy%%"$stop"*}
    [ "$(cat "$WORK/out")" = "$expected" ] \
        || fail "$family: with --stop '$stop' expected '$expected', got '$(cat "$WORK/out")'"

    # top-p near 0 keeps only the most likely token, whatever the seed.
    for seed in 1 2 3; do
        expect_exit 0 "$(tool generate)" -m "$model" --prompt "The cat" -n 24 -t 1 --top-p 0.000001 \
            --top-k 0 --seed "$seed"
        [ "$(cat "$WORK/out")" = "$greedy" ] || fail "$family: top-p 1e-6, seed $seed is not greedy"
    done

    expect_exit 0 "$(tool generate)" -m "$model" --prompt "The cat" -n 24 -t 0 \
        --repetition-penalty 50
    [ "$(cat "$WORK/out")" != "$greedy" ] || fail "$family: the repetition penalty changed nothing"
    expect_exit 2 "$(tool generate)" -m "$model" --top-p 2
done
