# dedup --method exact keeps the first of documents whose text is equal after
# NFC, case folding and white space collapsing, and reports each duplicate.
source "$(dirname "$0")/../lib.sh"

cat >"$WORK/in.jsonl" <<'JSON'
{"id":"a1","text":"Hello  World\nsecond line","source":"t"}
{"id":"b1","text":"中文 文档","source":"t"}
{"id":"a2","text":"hello world second line","source":"t"}
not json
{"id":"c1","text":"Café","source":"t"}
{"id":"c2","text":"CAFE\u0301 ","source":"t"}
{"id":"b2","text":"中文\u3000文档","source":"t"}
{"id":"d1","text":"Hello World, second line","source":"t"}
JSON

expect_exit 0 "$(tool dedup)" "$WORK/in.jsonl" -o "$WORK/out.jsonl" --stats "$WORK/stats.json" \
    --report "$WORK/report.jsonl"
expect_grep 'in\.jsonl:4: ' "$WORK/err"
[ "$(grep -o '"id":"[a-z0-9]*"' "$WORK/out.jsonl" | tr '\n' ' ')" = '"id":"a1" "id":"b1" "id":"c1" "id":"d1" ' ] \
    || fail "kept documents: $(cat "$WORK/out.jsonl")"
expect_grep '"exact_duplicate": 3' "$WORK/stats.json"
expect_grep '"invalid_record": 1' "$WORK/stats.json"
expect_grep '^\{"kept":"a1","duplicate":"a2","reason":"exact_duplicate"\}$' "$WORK/report.jsonl"
expect_grep '^\{"kept":"c1","duplicate":"c2","reason":"exact_duplicate"\}$' "$WORK/report.jsonl"
expect_grep '^\{"kept":"b1","duplicate":"b2","reason":"exact_duplicate"\}$' "$WORK/report.jsonl"

expect_exit 2 "$(tool dedup)" --method fuzzy "$WORK/in.jsonl"
expect_grep 'method' "$WORK/err"

printf 'not json\n' >"$WORK/bad.jsonl"
expect_exit 1 "$(tool dedup)" "$WORK/bad.jsonl" -o "$WORK/bad-out.jsonl"
