# dedup --method line removes lines that occur in more than --line-max-docs
# documents (boilerplate), keeps the rest of each document, and drops a
# document left without text.
source "$(dirname "$0")/../lib.sh"

cat >"$WORK/in.jsonl" <<'JSON'
{"id":"a","text":"Alpha owns this first line.\nAll rights reserved, Example Corp.\nSubscribe to our newsletter","source":"t"}
{"id":"b","text":"Bravo tells another story.\nALL RIGHTS RESERVED — Example Corp!\n\nSubscribe to our newsletter","source":"t"}
{"id":"c","text":"Charlie has a line of its own.\nAll rights reserved, Example Corp.","source":"t"}
{"id":"d","text":"All rights reserved, Example Corp.\nSubscribe to our newsletter","source":"t"}
{"id":"z1","text":"第一篇文章的正文。\n版权所有，保留一切权利。","source":"t"}
{"id":"z2","text":"第二篇文章的内容。\n版权所有，保留一切权利。","source":"t"}
{"id":"z3","text":"第三篇。\n版权所有，保留一切权利。","source":"t"}
JSON

expect_exit 0 "$(tool dedup)" --method line --line-max-docs 2 "$WORK/in.jsonl" \
    -o "$WORK/out.jsonl" --stats "$WORK/stats.json" --report "$WORK/report.jsonl"
# The copyright line (4 documents after normalization) and the Chinese one
# (3) go; the newsletter line (3 documents) goes too.
expect_grep '"id":"a","text":"Alpha owns this first line.\\n"' "$WORK/out.jsonl"
expect_grep '"id":"b","text":"Bravo tells another story.\\n\\n"' "$WORK/out.jsonl"
expect_grep '"id":"z1","text":"第一篇文章的正文。\\n"' "$WORK/out.jsonl"
if grep -q '"id":"d"' "$WORK/out.jsonl"; then fail "document d kept without text"; fi
if grep -q 'rights reserved\|版权所有' "$WORK/out.jsonl"; then fail "boilerplate kept"; fi
expect_grep '"line_duplicate": 1' "$WORK/stats.json"
expect_grep '"lines_removed": 10' "$WORK/stats.json"
expect_grep '^\{"kept":null,"duplicate":"d","reason":"line_duplicate"\}$' "$WORK/report.jsonl"

# With a higher limit nothing is removed.
expect_exit 0 "$(tool dedup)" --method line --line-max-docs 5 "$WORK/in.jsonl" \
    -o "$WORK/all.jsonl" --stats "$WORK/all.json"
expect_grep '"records_kept": 7' "$WORK/all.json"

# line and substring both rewrite texts, so one run takes only one of them.
expect_exit 2 "$(tool dedup)" --method line,substring "$WORK/in.jsonl"
expect_grep 'separate' "$WORK/err"
