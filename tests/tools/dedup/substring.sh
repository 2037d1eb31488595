# dedup --method substring removes spans of at least --substring-min-bytes
# bytes that repeat earlier text, keeping the first copy, cutting Chinese
# text at character boundaries only.
source "$(dirname "$0")/../lib.sh"

quote="The quick brown fox jumps over the lazy dog while the cat sleeps on the warm windowsill."
chinese="中文的重复段落在这里出现了很多次，用来测试子串去重只删除完整的字符。"
cat >"$WORK/in.jsonl" <<JSON
{"id":"a","text":"First: $quote End a.","source":"t"}
{"id":"b","text":"Second! $quote End b.","source":"t"}
{"id":"c","text":"$quote","source":"t"}
{"id":"z1","text":"前言。$chinese","source":"t"}
{"id":"z2","text":"后记：$chinese完","source":"t"}
{"id":"short","text":"A short text that repeats nothing at all.","source":"t"}
JSON

expect_exit 0 "$(tool dedup)" --method substring --substring-min-bytes 50 "$WORK/in.jsonl" \
    -o "$WORK/out.jsonl" --stats "$WORK/stats.json"
expect_grep "\"id\":\"a\",\"text\":\"First: $quote End a.\"" "$WORK/out.jsonl"
# The repeat runs on through " End " up to the differing letter.
expect_grep '"id":"b","text":"Second!b."' "$WORK/out.jsonl"
expect_grep '"id":"z1","text":"前言。中文' "$WORK/out.jsonl"
expect_grep '"id":"z2","text":"后记：完"' "$WORK/out.jsonl"
expect_grep '"id":"short"' "$WORK/out.jsonl"
if grep -q '"id":"c"' "$WORK/out.jsonl"; then fail "document c kept though all of it repeats"; fi
expect_grep '"substring_duplicate": 1' "$WORK/stats.json"
expect_grep '"records_in": 6' "$WORK/stats.json"
# Every output line is valid UTF-8 JSON.
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]' \
    "$WORK/out.jsonl" || fail "output is not valid UTF-8 JSON Lines"

# Below the minimum length nothing is removed.
expect_exit 0 "$(tool dedup)" --method substring --substring-min-bytes 200 "$WORK/in.jsonl" \
    -o "$WORK/none.jsonl" --stats "$WORK/none.json"
expect_grep '"records_kept": 6' "$WORK/none.json"

# A corpus cut into chunks loses exactly the spans that one suffix array over
# all of it marks, also for repeats whose copies lie in different chunks.
python3 - "$WORK/chunks.jsonl" <<'PY'
import json, random, sys
rng = random.Random(7)
words = ["alpha", "beta", "gamma", "delta", "omega", "river", "stone", "cloud", "文本", "重复"]
passages = [" ".join(rng.choice(words) for _ in range(30)) for _ in range(12)]
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for i in range(120):
        parts = [" ".join(rng.choice(words) for _ in range(rng.randint(5, 40)))]
        for _ in range(rng.randint(0, 2)):
            parts.insert(rng.randint(0, len(parts)), rng.choice(passages))
        out.write(json.dumps({"id": "d%d" % i, "text": " | ".join(parts), "source": "t"},
                             ensure_ascii=False) + "\n")
PY
expect_exit 0 "$(tool dedup)" --method substring "$WORK/chunks.jsonl" -o "$WORK/one-chunk.jsonl" \
    --stats "$WORK/one-chunk.json"
expect_grep '"text_chunks": 1,' "$WORK/one-chunk.json"
grep -q '"documents_with_substrings_removed": [1-9][0-9]' "$WORK/one-chunk.json" \
    || fail "the chunk corpus has too few repeats to test with"
for bytes in 1024 3000 7777; do
    expect_exit 0 "$(tool dedup)" --method substring --substring-chunk-bytes $bytes \
        "$WORK/chunks.jsonl" -o "$WORK/chunked.jsonl" --stats "$WORK/chunked.json"
    chunks=$(sed -n 's/.*"text_chunks": \([0-9]*\).*/\1/p' "$WORK/chunked.json")
    [ "${chunks:-0}" -ge 3 ] || fail "--substring-chunk-bytes $bytes made ${chunks:-0} chunks"
    cmp -s "$WORK/one-chunk.jsonl" "$WORK/chunked.jsonl" \
        || fail "--substring-chunk-bytes $bytes removed other spans than one chunk"
    for counter in repeated_spans substring_bytes_removed records_kept; do
        expect_grep "$(grep -o "\"$counter\": [0-9]*" "$WORK/one-chunk.json")" "$WORK/chunked.json"
    done
done
# Chunk pairs searched by several threads give the same output.
expect_exit 0 "$(tool dedup)" --method substring --substring-chunk-bytes 1024 --threads 3 \
    "$WORK/chunks.jsonl" -o "$WORK/threaded.jsonl"
cmp -s "$WORK/one-chunk.jsonl" "$WORK/threaded.jsonl" || fail "--threads 3 changed the removals"
