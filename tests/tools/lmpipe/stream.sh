# Documents streamed over ZeroMQ: a producer, three workers and a sink give
# the same output as the same stages over files, also when a worker is killed
# with SIGKILL at a random point; when every worker dies, the producer and the
# sink fail with a message instead of losing batches.
. "$(dirname "$0")/../lib.sh"
clean=$(tool clean)
[ -x "$clean" ] || skip "clean is not built"
command -v python3 >/dev/null || skip "python3 is not installed; it picks free ports"
cd "$WORK"

# 20000 short documents, English and Chinese, so the producer sends 20 batches.
awk 'BEGIN { srand(3)
    for (i = 1; i <= 20000; i++) {
        text = ""
        n = 3 + int(rand() * 30)
        for (j = 0; j < n; j++)
            text = text (j % 4 == 0 ? "数据" : "w") int(rand() * 50) " "
        printf "{\"id\":\"%d\",\"text\":\"%s\",\"source\":\"s\"}\n", i, text
    }
}' >docs.jsonl
pass=(--set min-chars=1 --set min-words=1)
filter=(--set min-chars=60 --set min-words=5)

# The same stages over files.
"$clean" docs.jsonl -o a.jsonl "${pass[@]}" 2>/dev/null || fail "clean over files failed"
"$clean" a.jsonl -o b.jsonl "${filter[@]}" 2>/dev/null || fail "clean over files failed"
"$clean" b.jsonl -o reference "${pass[@]}" 2>/dev/null || fail "clean over files failed"
expected=$(zstdcat reference/*.zst | sha256sum)
kept=$(zstdcat reference/*.zst | wc -l)
[ "$kept" -gt 1000 ] && [ "$kept" -lt 20000 ] || fail "the filter kept $kept of 20000 documents"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run_stream KILL_AFTER_MS: producer, three workers, sink into out/; kills
# worker 1 after KILL_AFTER_MS (none when empty). Leaves the sink's status in $sink_status.
run_stream() {
    local input="tcp://127.0.0.1:$(free_port)" output="tcp://127.0.0.1:$(free_port)"
    rm -rf out
    "$clean" docs.jsonl -o "$input" "${pass[@]}" 2>producer.log &
    local producer=$!
    local workers=()
    for w in 1 2 3; do
        "$clean" "$input" -o ">$output" "${filter[@]}" 2>"worker-$w.log" &
        workers+=($!)
    done
    if [ -n "$1" ]; then
        (sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; kill -KILL "${workers[0]}") &
    fi
    sink_status=0
    "$clean" "@$output" -o out "${pass[@]}" 2>sink.log || sink_status=$?
    producer_status=0
    wait "$producer" || producer_status=$?
    for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
    wait
}

export LMPIPE_STREAM_LEASE_SECONDS=5 LMPIPE_STREAM_TIMEOUT_SECONDS=20
run_stream ""
[ "$sink_status" -eq 0 ] || { cat sink.log >&2; fail "the sink failed"; }
[ "$producer_status" -eq 0 ] || { cat producer.log >&2; fail "the producer failed"; }
[ "$(zstdcat out/*.zst | sha256sum)" = "$expected" ] || fail "streamed output differs from files"
expect_grep 'stream complete: 20 batches, 20000 records in' sink.log
expect_grep 'stream complete: 20 batches, 20000 records, 3 workers' producer.log

# Kill rounds at random points until one of them killed a worker that held a
# batch (at least 3 rounds, at most 10).
seed=${LMPIPE_STREAM_SEED:-$(date +%s)}
RANDOM=$seed
resent_total=0
for round in $(seq 1 10); do
    [ "$round" -gt 3 ] && [ "$resent_total" -gt 0 ] && break
    delay=$((100 + RANDOM % 500))
    run_stream "$delay"
    [ "$sink_status" -eq 0 ] || { cat sink.log producer.log >&2; fail "round $round (kill at $delay ms, seed $seed): the sink failed"; }
    [ "$(zstdcat out/*.zst | sha256sum)" = "$expected" ] ||
        fail "round $round (kill at $delay ms, seed $seed): output differs after a worker was killed"
    resent=$(grep -c 'goes to another worker' producer.log || true)
    resent_total=$((resent_total + resent))
    echo "round $round: worker killed at $delay ms, $resent batches sent again" >&2
done
[ "$resent_total" -gt 0 ] || fail "no round killed a worker that held a batch (seed $seed)"

# Every worker killed: the producer and the sink fail and say why.
export LMPIPE_STREAM_TIMEOUT_SECONDS=3
input="tcp://127.0.0.1:$(free_port)"
output="tcp://127.0.0.1:$(free_port)"
"$clean" docs.jsonl -o "$input" "${pass[@]}" 2>producer.log &
producer=$!
"$clean" "$input" -o ">$output" "${filter[@]}" 2>worker.log &
worker=$!
sleep 0.3
kill -KILL "$worker"
status=0
"$clean" "@$output" -o out "${pass[@]}" 2>sink.log || status=$?
[ "$status" -eq 1 ] || fail "the sink exited with $status after every worker died"
expect_grep 'no message for 3 s; the workers did not finish' sink.log
[ ! -e out/manifest.json ] || fail "the sink wrote a manifest for an incomplete stream"
status=0
wait "$producer" || status=$?
[ "$status" -eq 1 ] || fail "the producer exited with $status after every worker died"
expect_grep 'no worker took or acknowledged a batch for 3 s' producer.log
