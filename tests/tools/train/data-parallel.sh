# Data-parallel training: two ranks with batch B follow the losses of one
# process with batch 2B, and ranks started by hand match --nproc bit for bit.
# A killed rank stops the run within seconds with an error naming the rank,
# and the last checkpoint still resumes.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"

# Largest absolute difference of the step losses of two step logs.
max_loss_difference() {
    paste <(grep -o '"loss": [0-9.]*' "$1" | grep -o '[0-9.]*$') \
        <(grep -o '"loss": [0-9.]*' "$2" | grep -o '[0-9.]*$') |
        awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.7f\n", m }'
}

make_shards "$WORK/shards"
# fp32 products: bf16 rounds the inputs of a product differently when its rows
# split over ranks, which would exceed the 1e-4 bound below.
SETTINGS=(--set steps=20 --set seq-len=32 --set warmup-steps=2 --set learning-rate=0.003
    --set eval-every=10 --set eval-batches=2 --set checkpoint-every=10
    --set matmul-precision=fp32)
run() { "$(tool train)" "$WORK/shards" --model-config "$TINY_CONFIG" "${SETTINGS[@]}" "$@"; }
# In the background the rank replaces its subshell, so $! is the rank itself.
run_exec() { exec "$(tool train)" "$WORK/shards" --model-config "$TINY_CONFIG" "${SETTINGS[@]}" "$@"; }
ranks=()
trap 'kill -9 "${ranks[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT

# One process, batch 8; two ranks, batch 4 each. The ranks read disjoint
# windows whose union is the single process's batch, so only the order of
# float additions differs: the losses must agree within 1e-4 nats.
expect_exit 0 run -o "$WORK/one" --set batch-size=8 --threads 2
expect_exit 0 run -o "$WORK/two" --set batch-size=4 --nproc 2 --threads 2
expect_grep '2 data-parallel ranks joined at ipc://@lmpipe-train-' "$WORK/err"
[ "$(grep -c '"loss"' "$WORK/two/train_log.jsonl")" -eq 20 ] \
    || fail "rank 0 alone should write the 20 step lines"
[ "$(grep -c 'step 20/20' "$WORK/err")" -eq 1 ] || fail "only rank 0 should log the steps"
difference=$(max_loss_difference "$WORK/one/train_log.jsonl" "$WORK/two/train_log.jsonl")
echo "largest step-loss difference, 1 x batch 8 against 2 x batch 4: $difference nats"
awk -v d="$difference" 'BEGIN { exit !(d <= 1e-4) }' \
    || fail "2 ranks x batch 4 differ from 1 x batch 8 by $difference nats in a step loss"
[ -f "$WORK/two/manifest.json" ] && [ -f "$WORK/two/final/model.safetensors" ] \
    || fail "rank 0 did not write the outputs"

# The same two ranks started by hand over ipc:// end with the same weights.
address="ipc://$WORK/rendezvous"
run_exec -o "$WORK/hand" --set batch-size=4 --threads 1 --rank 1 --world-size 2 \
    --rendezvous "$address" 2>"$WORK/rank1.err" &
rank1=$!
ranks+=("$rank1")
expect_exit 0 run -o "$WORK/hand" --set batch-size=4 --threads 1 --rank 0 --world-size 2 \
    --rendezvous "$address"
wait "$rank1" || fail "rank 1 started by hand failed: $(cat "$WORK/rank1.err")"
cmp -s "$WORK/two/final/model.safetensors" "$WORK/hand/final/model.safetensors" \
    || fail "ranks started by hand ended with other weights than --nproc 2"

# A killed rank: rank 0 stops within 15 s and names it.
SETTINGS=(--set steps=1000000 --set seq-len=32 --set batch-size=4 --set warmup-steps=2
    --set eval-every=0 --set checkpoint-every=20 --set matmul-precision=fp32
    --heartbeat-timeout 5 --threads 1)
address="ipc://$WORK/rendezvous-killed"
run_exec -o "$WORK/killed" --rank 1 --world-size 2 --rendezvous "$address" 2>"$WORK/rank1.err" &
rank1=$!
run_exec -o "$WORK/killed" --rank 0 --world-size 2 --rendezvous "$address" 2>"$WORK/rank0.err" &
rank0=$!
ranks+=("$rank1" "$rank0")
for _ in $(seq 1 600); do
    [ -d "$WORK/killed/checkpoints/step-000040" ] && break
    sleep 0.1
done
[ -d "$WORK/killed/checkpoints/step-000040" ] || fail "no checkpoint within 60 s: $(cat "$WORK/rank0.err")"
kill -9 "$rank1"
killed_at=$(date +%s)
status=0
wait "$rank0" || status=$?
seconds=$(($(date +%s) - killed_at))
echo "rank 0 stopped $seconds s after rank 1 was killed"
[ "$status" -eq 1 ] || fail "rank 0 exited with $status after rank 1 was killed"
[ "$seconds" -le 15 ] || fail "rank 0 took $seconds s to notice the lost rank"
expect_grep 'rank 1 of 2 \(pid [0-9]+ on .*, last completed step [0-9]+\) was lost: its connection closed' "$WORK/rank0.err"
[ ! -e "$WORK/killed/manifest.json" ] || fail "a failed run wrote a manifest"

# The last checkpoint resumes with two ranks.
last=$(ls "$WORK/killed/checkpoints" | tail -1)
resume_steps=$((10#${last#step-} + 5))
SETTINGS=(--set steps=$resume_steps --set seq-len=32 --set batch-size=4 --set warmup-steps=2
    --set eval-every=0 --set checkpoint-every=20 --set matmul-precision=fp32 --threads 2)
expect_exit 0 run -o "$WORK/killed" --nproc 2 --resume
expect_grep "resuming from .*$last" "$WORK/err"
expect_grep "\"step\": $resume_steps" "$WORK/killed/final/trainer_state.json"

# The world size enters the settings hash and trainer_state.json.
expect_grep '"world_size": 2' "$WORK/killed/final/trainer_state.json"
expect_grep '"batch_per_rank": 4' "$WORK/killed/final/trainer_state.json"
expect_grep '"global_batch_sequences": 8' "$WORK/killed/final/trainer_state.json"
expect_grep '"world-size": 2' "$WORK/two/manifest.json"
[ "$(grep -o '"settings_hash": "[0-9a-f]*"' "$WORK/one/manifest.json")" != \
    "$(grep -o '"settings_hash": "[0-9a-f]*"' "$WORK/two/manifest.json")" ] \
    || fail "1 and 2 ranks share a settings hash"

# A resume with another world size cannot restore each rank's data position,
# so it is rejected with the settings that would resume.
SETTINGS=(--set steps=$((resume_steps + 10)) --set seq-len=32 --set batch-size=4
    --set warmup-steps=2 --set eval-every=0 --set checkpoint-every=20
    --set matmul-precision=fp32 --threads 1)
expect_exit 1 run -o "$WORK/killed" --resume
expect_grep 'written by 2 rank\(s\) x batch-size 4 .* but this run has 1 rank\(s\) x batch-size 4' "$WORK/err"
expect_grep 'resume with --nproc 2' "$WORK/err"

# Usage errors.
expect_exit 2 run -o "$WORK/bad" --nproc 2 --rank 0 --world-size 2 --rendezvous "$address"
expect_grep 'drop --rank' "$WORK/err"
expect_exit 2 run -o "$WORK/bad" --rank 0
expect_grep 'needs --rank R, --world-size N and --rendezvous' "$WORK/err"
expect_exit 2 run -o "$WORK/bad" --world-size 2
expect_grep 'needs --rank R and --rendezvous ADDRESS' "$WORK/err"
expect_exit 2 run -o "$WORK/bad" --nproc 2 --world-size 3
expect_grep 'drop --rank, --world-size' "$WORK/err"
expect_exit 1 run -o "$WORK/bad" --rank 0 --world-size 2 --rendezvous tcp://0.0.0.0:5555
expect_grep 'rendezvous address tcp://0.0.0.0:5555: expected tcp://HOST:PORT .* or ipc://PATH' "$WORK/err"
