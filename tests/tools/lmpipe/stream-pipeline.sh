# "stream: true" in a pipeline file. A producer, three workers and a sink
# joined by ipc:// sockets in the run folder give the same output as the same
# pipeline over folders, also when a worker is killed. A stream whose only
# worker dies fails the run at once. Stages that cannot stream are rejected
# with the file and line.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$(tool clean)" ] && [ -x "$(tool dedup)" ] || skip "clean or dedup is not built"
command -v python3 >/dev/null || skip "python3 is not installed; it reads the stats"
cd "$WORK"

# 20000 short documents, English and Chinese, with repeats for dedup, so the
# producer sends 20 batches.
awk 'BEGIN { srand(5)
    for (i = 1; i <= 20000; i++) {
        text = ""
        n = 3 + int(rand() * 30)
        for (j = 0; j < n; j++)
            text = text (j % 4 == 0 ? "数据" : "w") int(rand() * 50) " "
        if (i % 97 == 0) text = "a repeated document that dedup drops 重复"
        printf "{\"id\":\"%d\",\"text\":\"%s\",\"source\":\"s\"}\n", i, text
    }
}' >docs.jsonl

# write_pipeline FILE STREAM WORKERS: the three stages, joined by streams when
# STREAM is true. The run folder is absolute, so pgrep finds only this run.
write_pipeline() {
    cat >"$1" <<YAML
run-dir: $WORK/run-${1%.yaml}
stages:
  - name: produce
    program: clean
    inputs: [docs.jsonl]
    settings: {min-chars: 1, min-words: 1}
  - name: filter
    program: clean
    inputs: [produce]
    stream: $2
    tasks: $3
    settings: {min-chars: 60, min-words: 5}
  - name: dedup
    program: dedup
    inputs: [filter]
    stream: $2
YAML
}
write_pipeline files.yaml false 1
write_pipeline streamed.yaml true 3

"$lmpipe" run files.yaml 2>files.log || { cat files.log >&2; fail "the pipeline over folders failed"; }
expected=$(zstdcat run-files/dedup/*.zst | sha256sum)
kept=$(zstdcat run-files/dedup/*.zst | wc -l)
[ "$kept" -gt 1000 ] && [ "$kept" -lt 20000 ] || fail "the pipeline kept $kept of 20000 documents"

# The plan shows the sockets: the producer binds, workers connect to it and
# to the sink, and the sink binds.
expect_exit 0 "$lmpipe" run streamed.yaml --dry-run
socket="ipc://$WORK/run-streamed/.lmpipe"
expect_grep "^lmpipe clean docs.jsonl -o $socket/produce.sock " "$WORK/out"
[ "$(grep -c "^lmpipe clean $socket/produce.sock -o '>$socket/filter.sock' .*--task [0-2]/3" "$WORK/out")" -eq 3 ] ||
    { cat "$WORK/out" >&2; fail "the dry run does not show three workers on the sockets"; }
expect_grep "^lmpipe dedup @$socket/filter.sock -o $WORK/run-streamed/dedup " "$WORK/out"
expect_grep '^# stage filter: run: it reads stage produce over the socket' "$WORK/out"

export LMPIPE_STREAM_LEASE_SECONDS=5 LMPIPE_STREAM_TIMEOUT_SECONDS=30
"$lmpipe" run streamed.yaml 2>streamed.log || { tail -n 30 streamed.log >&2; fail "the streamed run failed"; }
[ "$(zstdcat run-streamed/dedup/*.zst | sha256sum)" = "$expected" ] ||
    fail "the streamed output differs from the output over folders"
expect_grep 'stream complete: 20 batches, 20000 records in' streamed.log
[ ! -e run-streamed/produce ] && [ ! -e run-streamed/filter ] ||
    fail "a streamed stage wrote an intermediate folder"
# End-of-stream counts: every record the sink read is kept or dropped.
python3 - run-streamed/dedup.stats.json run-files/dedup.stats.json <<'PY' ||
import json, sys
streamed, files = (json.load(open(path)) for path in sys.argv[1:])
assert streamed["records_in"] == streamed["records_kept"] + streamed["records_dropped"], streamed
assert streamed["records_in"] == files["records_in"], (streamed["records_in"], files["records_in"])
assert streamed["records_kept"] == files["records_kept"]
PY
    fail "the sink's counts do not add up or differ from the run over folders"

# A worker killed with SIGKILL: its batches go to the other workers and the
# output stays the same.
"$lmpipe" run streamed.yaml 2>killed.log &
runner=$!
for _ in $(seq 1 100); do
    pgrep -f "clean $socket/produce.sock" >/dev/null && break
    sleep 0.05
done
sleep 0.$((RANDOM % 5))
victim=$(pgrep -f "clean $socket/produce.sock" | head -n 1)
[ -n "$victim" ] && kill -KILL "$victim"
status=0
wait "$runner" || status=$?
if [ -n "$victim" ] && grep -q "worker task .*(pid $victim) ended with status 137" killed.log; then
    [ "$status" -eq 0 ] || { tail -n 30 killed.log >&2; fail "the run failed after one worker was killed"; }
    [ "$(zstdcat run-streamed/dedup/*.zst | sha256sum)" = "$expected" ] ||
        fail "the output differs after a worker was killed"
else
    # The workers had finished before the kill; the run must still be complete.
    [ "$status" -eq 0 ] || { tail -n 30 killed.log >&2; fail "the run failed without a kill"; }
fi

# The only worker killed: the run fails at once with the stage named, and the
# sink's folder has no manifest.
write_pipeline single.yaml true 1
"$lmpipe" run single.yaml 2>single.log &
runner=$!
for _ in $(seq 1 100); do
    pgrep -f "clean ipc://$WORK/run-single/.lmpipe/produce.sock" >/dev/null && break
    sleep 0.05
done
pkill -KILL -f "clean ipc://$WORK/run-single/.lmpipe/produce.sock" ||
    fail "the worker of the single-worker stream did not start"
start=$(date +%s)
status=0
wait "$runner" || status=$?
[ "$status" -eq 1 ] || { cat single.log >&2; fail "lmpipe exited with $status after the worker died"; }
[ $(( $(date +%s) - start )) -lt 20 ] || fail "lmpipe waited for the stream timeout"
expect_grep 'stage filter failed: clean was killed by signal 9' single.log
[ ! -e run-single/dedup/manifest.json ] || fail "the sink wrote a manifest for an incomplete stream"

# Stages that cannot stream are rejected before anything runs.
cat >bad.yaml <<'YAML'
stages:
  - {name: produce, program: clean, inputs: [docs.jsonl], tasks: 2}
  - {name: filter, program: clean, inputs: [produce], stream: true, tasks: 2}
  - {name: dedup, program: dedup, inputs: [filter], stream: true, tasks: 2}
  - {name: near, program: dedup, inputs: [docs.jsonl]}
  - {name: tokens, program: bpe-train, inputs: [near], stream: true}
  - {name: minhash, program: dedup, inputs: [near], stream: true, settings: {method: minhash}}
  - {name: two, program: clean, inputs: [docs.jsonl, near], stream: true}
YAML
expect_exit 2 "$lmpipe" run bad.yaml
expect_grep 'bad.yaml:3: stage produce sends the stream and runs as one process; remove "tasks: 2"' "$WORK/err"
expect_grep 'bad.yaml:4: stage dedup ends the stream and writes the folder, so it runs as one process' "$WORK/err"
expect_grep 'bad.yaml:6: program bpe-train cannot read a stream from a producer: it needs the whole corpus' "$WORK/err"
expect_grep 'bad.yaml:7: dedup with method "minhash" reads its input twice and cannot read a stream' "$WORK/err"
expect_grep 'bad.yaml:8: stage two cannot stream: a streamed stage reads exactly one input' "$WORK/err"
expect_grep 'bad.yaml:7: stage near streams its output to minhash, so stage tokens' "$WORK/err"

# --only on one stage of a stream runs the whole stream.
expect_exit 0 "$lmpipe" run streamed.yaml --only filter --dry-run
expect_grep '^lmpipe clean docs.jsonl -o ipc://' "$WORK/out"
expect_grep '^lmpipe dedup @ipc://' "$WORK/out"
