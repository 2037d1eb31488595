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

# The keeper of each cluster is the same in a rerun and in the cluster phases:
# every dropped document carries the same cluster id (the keeper's key).
expect_exit 0 "$dedup" --method minhash "$WORK/corpus" -o "$WORK/one.jsonl" \
    --report "$WORK/one-report.jsonl"
expect_exit 0 "$dedup" --method minhash "$WORK/corpus" -o "$WORK/rerun.jsonl" \
    --report "$WORK/rerun-report.jsonl"
cmp -s "$WORK/one.jsonl" "$WORK/rerun.jsonl" || fail "a rerun kept other documents"
cmp -s "$WORK/one-report.jsonl" "$WORK/rerun-report.jsonl" || fail "a rerun reported otherwise"
pairs() { sed 's/.*"duplicate":"\([^"]*\)".*"cluster":"\(c[0-9a-f]*\)".*/\1 \2/' "$@" | sort; }
pairs "$WORK/one-report.jsonl" >"$WORK/one.pairs"
pairs "$WORK"/report-*.jsonl >"$WORK/cluster.pairs"
[ -s "$WORK/one.pairs" ] || fail "the one-process run reported no cluster"
cmp -s "$WORK/one.pairs" "$WORK/cluster.pairs" || fail "cluster ids differ between the modes: \
$(diff "$WORK/one.pairs" "$WORK/cluster.pairs" | head -5)"

# The signature files do not depend on the thread count.
for threads in 1 3; do
    expect_exit 0 "$dedup" --method minhash --phase signatures --work-dir "$WORK/t$threads" \
        --threads $threads "$WORK/corpus"
done
for band in 0000 0006 0013; do
    cmp -s "$WORK/t1/signatures/band-$band/task-00000-of-00001.runs" \
        "$WORK/t3/signatures/band-$band/task-00000-of-00001.runs" \
        || fail "--threads 3 changed the signatures of band $band"
done

# Every intermediate file records the settings that shaped it; a phase run
# with other settings rejects it and names the file and the setting.
S="$WORK/settings"
expect_exit 0 "$dedup" --method minhash --phase signatures --work-dir "$S" --bands 14 --rows 8 \
    "$WORK/corpus"
expect_exit 1 "$dedup" --method minhash --phase buckets --work-dir "$S" --bands 20 --rows 5
expect_grep 'band-0000/task-00000-of-00001.runs: written with bands 14, but this buckets phase runs with bands 20' "$WORK/err"
expect_exit 1 "$dedup" --method minhash --phase buckets --work-dir "$S" --shingle-size 3
expect_grep 'task-00000-of-00001.runs: written with shingle-size 5, but .* shingle-size 3' \
    "$WORK/err"
# The defaults are 5-token shingles and 14 bands of 8 rows.
expect_exit 0 "$dedup" --method minhash --phase buckets --work-dir "$S" --shingle-size 5 \
    --bands 14 --rows 8
expect_exit 1 "$dedup" --method minhash --phase cluster --work-dir "$S" --rows 9 --bands 14
expect_grep 'pairs/band-0000.runs: written with rows 8, but this cluster phase runs with rows 9' \
    "$WORK/err"
expect_exit 0 "$dedup" --method minhash --phase cluster --work-dir "$S"
expect_exit 1 "$dedup" --method minhash --phase filter --work-dir "$S" --shingle-size 4 \
    "$WORK/corpus" -o "$WORK/never.jsonl"
expect_grep 'clusters.runs: written with shingle-size 5' "$WORK/err"
[ ! -e "$WORK/never.jsonl" ] || fail "filter wrote output despite differing settings"
# A file whose settings were altered after writing fails its header checksum.
printf '\x07' | dd of="$S/clusters.runs" bs=1 seek=$((48 + 8 * 4)) conv=notrunc 2>/dev/null
expect_exit 1 "$dedup" --method minhash --phase filter --work-dir "$S" "$WORK/corpus" \
    -o "$WORK/never.jsonl"
expect_grep 'header checksum' "$WORK/err"

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
