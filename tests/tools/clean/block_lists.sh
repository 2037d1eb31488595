# URL and domain block lists and per-language bad-word lists read from files.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/docs.sh"

printf '# blocked domains\nbad.example\n' >"$WORK/domains.txt"
printf 'https://good.example/private/page/\n' >"$WORK/urls.txt"
printf 'casino\n' >"$WORK/url-words.txt"
mkdir "$WORK/bad-words"
printf 'frobnicate\nmoldy cheese\n' >"$WORK/bad-words/en.txt"
printf '坏词\n' >"$WORK/bad-words/zh.txt"
{
    doc keep "$good_english" "https://good.example/page"
    doc sub "$good_english" "http://www.bad.example/x"
    doc notsub "$good_english" "http://notbad.example/x"
    doc url "$good_english" "http://GOOD.example/private/page"
    doc word "$good_english" "https://good.example/best-Casino-list"
    doc en-bad "$good_english\\nDo not eat moldy cheese." "https://good.example/a"
    doc en-part "$good_english\\nThe frobnicated data." "https://good.example/b"
    doc zh-bad "$good_chinese\\n这里有一个坏词。" "https://good.example/c"
} >"$WORK/in.jsonl"

expect_exit 0 "$(tool clean)" --set block-domains="$WORK/domains.txt" \
    --set block-urls="$WORK/urls.txt" --set block-url-words="$WORK/url-words.txt" \
    --set bad-words-dir="$WORK/bad-words" "$WORK/in.jsonl" -o "$WORK/out.jsonl" \
    --stats "$WORK/stats.json" --rejected "$WORK/rejected.jsonl"
expect_grep '"id":"keep"' "$WORK/out.jsonl"
expect_grep '"id":"notsub"' "$WORK/out.jsonl"
expect_grep '"id":"en-part"' "$WORK/out.jsonl"
expect_grep '"id":"sub".*"drop_reason":"url_blocked_domain"' "$WORK/rejected.jsonl"
expect_grep '"id":"url".*"drop_reason":"url_blocked"' "$WORK/rejected.jsonl"
expect_grep '"id":"word".*"drop_reason":"url_banned_word"' "$WORK/rejected.jsonl"
expect_grep '"id":"en-bad".*"drop_reason":"bad_words","drop_value":1' "$WORK/rejected.jsonl"
expect_grep '"id":"zh-bad".*"drop_reason":"bad_words"' "$WORK/rejected.jsonl"
expect_stat "$WORK/stats.json" records_kept 3

# A tolerance of one match keeps the documents with one bad word.
expect_exit 0 "$(tool clean)" --set bad-words-dir="$WORK/bad-words" --set max-bad-words=1 \
    "$WORK/in.jsonl" -o "$WORK/tolerant.jsonl"
expect_grep '"id":"zh-bad"' "$WORK/tolerant.jsonl"

# A missing list is an error that names the file.
expect_exit 1 "$(tool clean)" --set block-domains="$WORK/missing.txt" "$WORK/in.jsonl"
expect_grep 'missing.txt: cannot open the block list' "$WORK/err"
