# The cluster phases (signatures, buckets, cluster, filter) keep exactly the
# documents of the one-process run, even with a different task count in each
# phase. Truncated or missing intermediate files are rejected.
source "$(dirname "$0")/../lib.sh"

mkdir "$WORK/corpus"
python3 "$LMPIPE_SOURCE/tests/tools/dedup/make_corpus.py" "$WORK/corpus" 5 30
dedup=$(tool dedup)
W="$WORK/work"

expect_exit 0 "$dedup" --method minhash "$WORK/corpus" -o "$WORK/one.jsonl"
grep -o '"id":"[a-z0-9]*"' "$WORK/one.jsonl" | sort >"$WORK/one.ids"

for task in 0 1 2; do
    expect_exit 0 "$dedup" --method minhash --phase signatures --work-dir "$W" --task $task/3 \
        "$WORK/corpus"
done
[ -s "$W/signatures/band-0013/task-00002-of-00003.runs" ] || fail "signature file missing"
for task in 0 1 2 3; do
    expect_exit 0 "$dedup" --method minhash --phase buckets --work-dir "$W" --task $task/4
done
expect_exit 0 "$dedup" --method minhash --phase cluster --work-dir "$W" --stats "$WORK/cluster.json"
expect_grep '"clusters_size_2": ' "$WORK/cluster.json"
for task in 0 1; do
    expect_exit 0 "$dedup" --method minhash --phase filter --work-dir "$W" --task $task/2 \
        "$WORK/corpus" -o "$WORK/filtered-$task.jsonl" --report "$WORK/report-$task.jsonl"
done
cat "$WORK"/filtered-*.jsonl | grep -o '"id":"[a-z0-9]*"' | sort >"$WORK/cluster.ids"
cmp -s "$WORK/one.ids" "$WORK/cluster.ids" || fail "cluster phases kept other documents: \
$(diff "$WORK/one.ids" "$WORK/cluster.ids" | head -5)"
expect_grep '"reason":"near_duplicate","cluster":"c[0-9a-f]{16}"' "$WORK/report-0.jsonl"

# A truncated intermediate file is rejected, and so is one with a flipped byte.
cp "$W/pairs/band-0003.runs" "$WORK/saved.runs"
truncate -s -16 "$W/pairs/band-0003.runs"
expect_exit 1 "$dedup" --method minhash --phase cluster --work-dir "$W"
expect_grep 'band-0003.runs: .*truncated' "$WORK/err"
cp "$WORK/saved.runs" "$W/pairs/band-0003.runs"
size=$(stat -c %s "$W/pairs/band-0003.runs")
printf '\x01' | dd of="$W/pairs/band-0003.runs" bs=1 seek=$((size - 3)) conv=notrunc 2>/dev/null
expect_exit 1 "$dedup" --method minhash --phase cluster --work-dir "$W"
expect_grep 'checksum' "$WORK/err"
truncate -s 100 "$W/clusters.runs"
expect_exit 1 "$dedup" --method minhash --phase filter --work-dir "$W" "$WORK/corpus" \
    -o "$WORK/never.jsonl"
[ ! -e "$WORK/never.jsonl" ] || fail "filter wrote output from a truncated cluster file"

# A missing signature task, or files of two task counts, stop the buckets phase.
rm "$W/signatures/band-0005/task-00001-of-00003.runs"
expect_exit 1 "$dedup" --method minhash --phase buckets --work-dir "$W" --task 1/4
expect_grep 'task 1 of 3 are missing' "$WORK/err"
expect_exit 0 "$dedup" --method minhash --phase signatures --work-dir "$W" --task 0/2 \
    "$WORK/corpus"
expect_exit 1 "$dedup" --method minhash --phase buckets --work-dir "$W" --task 1/4
expect_grep 'different task counts' "$WORK/err"

# Usage errors.
expect_exit 2 "$dedup" --method minhash --phase signatures "$WORK/corpus"
expect_grep 'work-dir' "$WORK/err"
expect_exit 2 "$dedup" --method exact --phase signatures --work-dir "$W" "$WORK/corpus"
expect_exit 2 "$dedup" --method minhash --verify --phase cluster --work-dir "$W"
expect_exit 2 "$dedup" --method minhash --phase merge --work-dir "$W"
