# Lost ranks: a rank frozen with SIGSTOP or killed with SIGKILL (rank 1 or
# rank 0) stops the whole run within the heartbeat timeout plus a margin. The
# error names the rank, its pid and the last completed step, and the last
# checkpoint of the stopped run resumes.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"

make_shards "$WORK/shards"
SETTINGS=(--set steps=1000000 --set seq-len=32 --set batch-size=4 --set warmup-steps=2
    --set eval-every=0 --set checkpoint-every=20 --heartbeat-timeout 3 --threads 1)
run() { "$(tool train)" "$WORK/shards" --model-config "$TINY_CONFIG" "${SETTINGS[@]}" "$@"; }
# In the background the rank replaces its subshell, so $! is the rank itself.
run_exec() { exec "$(tool train)" "$WORK/shards" --model-config "$TINY_CONFIG" "${SETTINGS[@]}" "$@"; }
ranks=()
trap 'kill -9 "${ranks[@]}" 2>/dev/null; rm -rf "$WORK"' EXIT

# wait_for_checkpoint FOLDER: waits up to 60 s for FOLDER/checkpoints/step-000040.
wait_for_checkpoint() {
    for _ in $(seq 1 600); do
        [ -d "$1/checkpoints/step-000040" ] && return 0
        sleep 0.1
    done
    fail "no checkpoint within 60 s in $1: $(tail -5 "$WORK/rank0.err")"
}

# start_pair NAME: starts ranks 1 and 0 by hand over ipc:// into $WORK/NAME
# and sets $rank0 and $rank1 to their pids.
start_pair() {
    local address="ipc://$WORK/rendezvous-$1"
    run_exec -o "$WORK/$1" --rank 1 --world-size 2 --rendezvous "$address" \
        2>"$WORK/rank1.err" &
    rank1=$!
    run_exec -o "$WORK/$1" --rank 0 --world-size 2 --rendezvous "$address" \
        2>"$WORK/rank0.err" &
    rank0=$!
    ranks+=("$rank1" "$rank0")
    wait_for_checkpoint "$WORK/$1"
}

# expect_stop PID LIMIT: waits for PID and fails unless it exits with status 1
# within LIMIT seconds.
expect_stop() {
    local pid=$1 limit=$2 start status=0
    start=$(date +%s)
    wait "$pid" || status=$?
    local seconds=$(($(date +%s) - start))
    echo "pid $pid stopped with status $status after $seconds s"
    [ "$status" -eq 1 ] || fail "pid $pid exited with $status, expected 1"
    [ "$seconds" -le "$limit" ] || fail "pid $pid took $seconds s to stop, limit $limit s"
}

# Rank 1 frozen mid-run: rank 0 stops within the 3 s timeout plus a margin
# and names rank 1 with its pid and the last step.
start_pair frozen
kill -STOP "$rank1"
expect_stop "$rank0" 15
expect_grep "rank 1 of 2 \(pid $rank1 on [^,]+, last completed step [0-9]+\) was lost: it sent no heartbeat for 3 s" "$WORK/rank0.err"
expect_grep "its last checkpoint $WORK/frozen/checkpoints/step-[0-9]{6} resumes with --resume" \
    "$WORK/rank0.err"
kill -9 "$rank1"
[ ! -e "$WORK/frozen/manifest.json" ] || fail "a stopped run wrote a manifest"

# The last checkpoint of the stopped run resumes with two ranks and finishes.
last=$(ls "$WORK/frozen/checkpoints" | tail -1)
resume_steps=$((10#${last#step-} + 5))
SETTINGS=(--set steps=$resume_steps --set seq-len=32 --set batch-size=4 --set warmup-steps=2
    --set eval-every=0 --set checkpoint-every=20 --threads 2)
expect_exit 0 run -o "$WORK/frozen" --nproc 2 --resume
expect_grep "resuming from .*$last" "$WORK/err"
expect_grep "\"step\": $resume_steps" "$WORK/frozen/final/trainer_state.json"
[ -f "$WORK/frozen/manifest.json" ] || fail "the resumed run wrote no manifest"

SETTINGS=(--set steps=1000000 --set seq-len=32 --set batch-size=4 --set warmup-steps=2
    --set eval-every=0 --set checkpoint-every=20 --heartbeat-timeout 3 --threads 1)

# Rank 0 killed: rank 1 detects the closed connection and stops at once.
start_pair root-killed
kill -9 "$rank0"
expect_stop "$rank1" 10
expect_grep "rank 1 of 2: lost rank 0 of 2 \(pid $rank0 on [^,]+, last completed step [0-9]+\): its connection closed" "$WORK/rank1.err"

# Rank 0 frozen: rank 1 stops within the timeout plus a margin.
start_pair root-frozen
kill -STOP "$rank0"
expect_stop "$rank1" 15
expect_grep "rank 1 of 2: lost rank 0 of 2 \(pid $rank0 on [^,]+, last completed step [0-9]+\): it sent no heartbeat for 3 s" "$WORK/rank1.err"
kill -9 "$rank0"

# --nproc 2 with its rank 1 frozen: rank 0 stops, ends the frozen rank it
# started, and exits instead of waiting for it.
"$(tool train)" "$WORK/shards" --model-config "$TINY_CONFIG" "${SETTINGS[@]}" -o "$WORK/nproc" \
    --nproc 2 2>"$WORK/rank0.err" &
parent=$!
ranks+=("$parent")
wait_for_checkpoint "$WORK/nproc"
child=$(ps -o pid= --ppid "$parent" | head -1 | tr -d ' ')
[ -n "$child" ] || fail "found no rank 1 under the --nproc process $parent"
ranks+=("$child")
kill -STOP "$child"
expect_stop "$parent" 20
expect_grep "rank 1 of 2 \(pid $child on [^,]+, last completed step [0-9]+\) was lost: it sent no heartbeat" "$WORK/rank0.err"
kill -0 "$child" 2>/dev/null && fail "the frozen rank $child still runs after rank 0 ended"
true
