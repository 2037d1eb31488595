# dedup --method url keeps the first document of each URL (the fragment
# ignored), keeps and counts documents without a URL, and combines with
# exact in one run.
source "$(dirname "$0")/../lib.sh"

cat >"$WORK/in.jsonl" <<'JSON'
{"id":"a1","text":"first page","source":"t","url":"https://example.org/page"}
{"id":"a2","text":"the same page crawled again","source":"t","url":"https://example.org/page#top"}
{"id":"b1","text":"another page","source":"t","url":"https://example.org/other"}
{"id":"n1","text":"no url here","source":"t"}
{"id":"n2","text":"No URL here","source":"t"}
{"id":"c1","text":"中文页面","source":"t","url":"https://example.org/中文"}
{"id":"c2","text":"中文页面，再次抓取","source":"t","url":"https://example.org/中文"}
JSON

expect_exit 0 "$(tool dedup)" --method url "$WORK/in.jsonl" -o "$WORK/out.jsonl" \
    --stats "$WORK/stats.json" --report "$WORK/report.jsonl"
[ "$(grep -o '"id":"[a-z0-9]*"' "$WORK/out.jsonl" | tr '\n' ' ')" = \
    '"id":"a1" "id":"b1" "id":"n1" "id":"n2" "id":"c1" ' ] || fail "kept: $(cat "$WORK/out.jsonl")"
expect_grep '"url_duplicate": 2' "$WORK/stats.json"
expect_grep '"documents_without_url": 2' "$WORK/stats.json"
expect_grep '^\{"kept":"a1","duplicate":"a2","reason":"url_duplicate"\}$' "$WORK/report.jsonl"

# url and exact together: n2 is an exact duplicate of n1.
expect_exit 0 "$(tool dedup)" --method exact,url "$WORK/in.jsonl" -o "$WORK/both.jsonl" \
    --stats "$WORK/both.json"
expect_grep '"url_duplicate": 2' "$WORK/both.json"
expect_grep '"exact_duplicate": 1' "$WORK/both.json"
expect_grep '"records_kept": 4' "$WORK/both.json"
