# dedup --method minhash finds planted near-duplicates in English-like and
# Chinese text, keeps the first document of each cluster, leaves unrelated
# documents alone, and counts empty, short and duplicate-id documents.
source "$(dirname "$0")/../lib.sh"

mkdir "$WORK/corpus"
python3 "$LMPIPE_SOURCE/tests/tools/dedup/make_corpus.py" "$WORK/corpus" 3 60

expect_exit 0 "$(tool dedup)" --method minhash "$WORK/corpus" -o "$WORK/out.jsonl" \
    --stats "$WORK/stats.json" --report "$WORK/report.jsonl"
grep -o '"id":"[a-z0-9]*"' "$WORK/out.jsonl" | sed 's/"id":"//; s/"//' | sort >"$WORK/kept"

# Every original and every unrelated document is kept; at most 2 of the 60
# near-copies survive (each is found with probability above 0.92).
missing=$(grep -c -v -x -F -f "$WORK/kept" <(cut -f1 "$WORK/corpus/expected.tsv"; \
    sed 's/^o/x/' <(cut -f1 "$WORK/corpus/expected.tsv")) || true)
[ "$missing" -eq 0 ] || fail "$missing originals or unrelated documents were dropped"
survivors=$(grep -c '^n' "$WORK/kept" || true)
[ "$survivors" -le 2 ] || fail "$survivors of 60 near-copies were kept"

# Chinese near-copies (every fifth pair) are found as well.
chinese_found=$(grep -c -E '"duplicate":"n(4|9|14|19|24|29|34|39|44|49|54|59)"' "$WORK/report.jsonl" || true)
[ "$chinese_found" -ge 11 ] || fail "only $chinese_found of 12 Chinese near-copies found"

# Each report line names the keeper and the cluster of the keeper's key.
expect_grep '^\{"kept":"o1","duplicate":"n1","reason":"near_duplicate","cluster":"c[0-9a-f]{16}"\}$' \
    "$WORK/report.jsonl"
expect_grep '"near_duplicate": (58|59|60)' "$WORK/stats.json"
expect_grep '"clusters_size_2": (58|59|60)' "$WORK/stats.json"

# Bad input: an empty document, one shorter than a shingle, a repeated id.
cat >"$WORK/odd.jsonl" <<'JSON'
{"id":"e1","text":"","source":"t"}
{"id":"s1","text":"two words","source":"t"}
{"id":"s2","text":"Two, words!","source":"t"}
{"id":"s1","text":"another short one","source":"t"}
{"id":"z1","text":"自由软件","source":"t"}
JSON
expect_exit 0 "$(tool dedup)" --method minhash "$WORK/odd.jsonl" -o "$WORK/odd-out.jsonl" \
    --stats "$WORK/odd-stats.json"
expect_grep '"empty_documents": 1' "$WORK/odd-stats.json"
expect_grep '"documents_shorter_than_a_shingle": 4' "$WORK/odd-stats.json"
expect_grep '"duplicate_ids": 1' "$WORK/odd-stats.json"
expect_grep '"near_duplicate": 1' "$WORK/odd-stats.json"
expect_grep '"records_in": 5' "$WORK/odd-stats.json"

# Verification by exact Jaccard: a threshold of 0.99 rejects the near-copies.
expect_exit 0 "$(tool dedup)" --method minhash --verify --verify-threshold 0.99 \
    "$WORK/corpus" -o "$WORK/verified.jsonl" --stats "$WORK/verified.json"
pairs=$(sed -n 's/.*"candidate_pairs": \([0-9]*\).*/\1/p' "$WORK/verified.json")
[ "${pairs:-0}" -ge 58 ] || fail "only ${pairs:-0} candidate pairs before verification"
expect_grep "\"candidate_pairs_rejected\": $pairs\\b" "$WORK/verified.json"
if grep -q '"near_duplicate"' "$WORK/verified.json"; then fail "verified run dropped documents"; fi

# The same input read from standard input gives the same output.
cat "$WORK"/corpus/part-*.jsonl | "$(tool dedup)" -q --method minhash - >"$WORK/stdin.jsonl" \
    || fail "dedup on standard input failed"
[ "$(wc -l <"$WORK/stdin.jsonl")" -eq "$(wc -l <"$WORK/out.jsonl")" ] \
    || fail "standard input kept $(wc -l <"$WORK/stdin.jsonl") documents"

# The thread count changes nothing: documents, report and counters are byte
# for byte those of one thread, with and without verification.
for verify in "" --verify; do
    for threads in 1 2 3; do
        expect_exit 0 "$(tool dedup)" --method minhash $verify --threads $threads \
            "$WORK/corpus" -o "$WORK/threads-$threads.jsonl" \
            --report "$WORK/threads-$threads.report" --stats "$WORK/threads-$threads.json"
        grep -v '"seconds\|_per_second' "$WORK/threads-$threads.json" >"$WORK/threads-$threads.counts"
    done
    for threads in 2 3; do
        for part in jsonl report counts; do
            cmp -s "$WORK/threads-1.$part" "$WORK/threads-$threads.$part" \
                || fail "--threads $threads $verify changed the $part output"
        done
    done
done
grep -q '"near_duplicate"' "$WORK/threads-1.counts" || fail "the thread test dropped nothing"
