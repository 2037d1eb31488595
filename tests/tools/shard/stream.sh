# shard reads documents from a ZeroMQ stream: clean, as a producer, streams
# English and Chinese documents over tcp:// and ipc:// into shard, and the
# shards are byte for byte those built from the same documents in a file.
. "$(dirname "$0")/../lib.sh"
clean=$(tool clean)
[ -x "$clean" ] || skip "clean is not built"
command -v python3 >/dev/null || skip "python3 is not installed; it picks free ports"
TOKENIZER="$LMPIPE_SOURCE/tests/tools/shard/tokenizer.json"
cd "$WORK"

# 3000 documents, so the producer sends 3 batches.
awk 'BEGIN { srand(5)
    for (i = 1; i <= 3000; i++) {
        text = ""
        n = 3 + int(rand() * 40)
        for (j = 0; j < n; j++)
            text = text (j % 3 == 0 ? "自由软件" : "word") int(rand() * 90) " "
        printf "{\"id\":\"d%d\",\"text\":\"%s\",\"source\":\"s\"}\n", i, text
    }
}' >docs.jsonl
pass=(--set min-chars=1 --set min-words=1)

# The reference: clean writes a file, shard reads it.
"$clean" docs.jsonl -o cleaned.jsonl "${pass[@]}" 2>/dev/null || fail "clean over files failed"
expect_exit 0 "$(tool shard)" -t "$TOKENIZER" cleaned.jsonl -o from-file --frame-tokens 4096
ls from-file/train-*.lshard from-file/val-*.lshard >/dev/null || fail "no shards built from the file"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# stream_into_shard ADDRESS FOLDER: clean streams docs.jsonl to ADDRESS, and
# shard reads ADDRESS into FOLDER; both must succeed.
stream_into_shard() {
    "$clean" docs.jsonl -o "$1" "${pass[@]}" 2>producer.log &
    local producer=$!
    local status=0
    "$(tool shard)" -t "$TOKENIZER" -i "$1" -o "$2" --frame-tokens 4096 2>shard.log || status=$?
    local producer_status=0
    wait "$producer" || producer_status=$?
    [ "$status" -eq 0 ] || { cat shard.log >&2; fail "shard reading $1 exited with $status"; }
    [ "$producer_status" -eq 0 ] || { cat producer.log >&2; fail "the producer of $1 failed"; }
    expect_grep 'stream complete: 3 batches, 3000 records, 1 workers' producer.log
}

# same_shards FOLDER: every shard file of FOLDER equals the one built from the file.
same_shards() {
    local count=0
    for file in from-file/*.lshard; do
        cmp -s "$file" "$1/$(basename "$file")" ||
            fail "$1/$(basename "$file") differs from the shard built from the file"
        count=$((count + 1))
    done
    [ "$(ls "$1"/*.lshard | wc -l)" -eq "$count" ] || fail "$1 has a different number of shards"
    expect_grep '"records_in": 3000,' "$1/stats.json"
    expect_grep '"records_kept": 3000,' "$1/stats.json"
}

export LMPIPE_STREAM_TIMEOUT_SECONDS=60
stream_into_shard "tcp://127.0.0.1:$(free_port)" over-tcp
same_shards over-tcp
stream_into_shard "ipc://$WORK/docs.ipc" over-ipc
same_shards over-ipc

# A stream can be read only once, so it cannot be one of several inputs.
expect_exit 1 "$(tool shard)" -t "$TOKENIZER" cleaned.jsonl "tcp://127.0.0.1:$(free_port)" \
    -o mixed
expect_grep 'a ZeroMQ input must be the only input' err
