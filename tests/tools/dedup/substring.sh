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
