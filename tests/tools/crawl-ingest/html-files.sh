# HTML files in a folder become documents: UTF-8 and GBK Chinese pages are
# decoded, the id is a hash of the path and the url is the path. A folder
# output gets a manifest and stats.json, a rerun is skipped as up to date,
# and --task splits the files between tasks.
source "$(dirname "$0")/../lib.sh"

mkdir -p "$WORK/site/sub"
cat >"$WORK/site/utf8.html" <<'HTML'
<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>中文页面</title></head>
<body><nav><a href="/">首页</a></nav><p>这是一个用 UTF-8 编码的中文网页。</p></body></html>
HTML
printf '<html><head><meta charset="gbk"><title>GBK</title></head><body><p>%s</p></body></html>' \
    "$(printf '这是一个用国标码编码的中文网页。' | iconv -f UTF-8 -t GBK)" >"$WORK/site/sub/gbk.htm"
echo "ignored" >"$WORK/site/readme.txt"

expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" -o "$WORK/out.jsonl"
expect_grep '这是一个用 UTF-8 编码的中文网页。' "$WORK/out.jsonl"
expect_grep '这是一个用国标码编码的中文网页。' "$WORK/out.jsonl"
expect_grep '"charset":"gb18030"' "$WORK/out.jsonl"
expect_grep '"lang":"zh".*"html_lang":"zh-CN"' "$WORK/out.jsonl"
expect_grep '"title":"中文页面"' "$WORK/out.jsonl"
expect_grep '"id":"[0-9a-f]{32}"' "$WORK/out.jsonl"
expect_grep "\"url\":\"$WORK/site/utf8.html\"" "$WORK/out.jsonl"
expect_grep '"source":"utf8.html"' "$WORK/out.jsonl"
if grep -q '首页' "$WORK/out.jsonl"; then fail "navigation text was kept"; fi
[ "$(wc -l <"$WORK/out.jsonl")" -eq 2 ] || fail "expected 2 documents"

expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" -o "$WORK/folder" --set source=mysite
[ -f "$WORK/folder/manifest.json" ] || fail "no manifest in the folder output"
[ -f "$WORK/folder/stats.json" ] || fail "no stats.json in the folder output"
expect_grep '"records_kept": 2' "$WORK/folder/stats.json"
expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" -o "$WORK/folder" --set source=mysite
expect_grep 'up to date|skip' "$WORK/err"
expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" -o "$WORK/folder" --set source=mysite --force
if grep -Eq 'up to date' "$WORK/err"; then fail "--force did not rebuild"; fi

expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" --task 0/2 -o "$WORK/task0.jsonl"
expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" --task 1/2 -o "$WORK/task1.jsonl"
[ "$(wc -l <"$WORK/task0.jsonl")" -eq 1 ] || fail "task 0 should read one file"
[ "$(wc -l <"$WORK/task1.jsonl")" -eq 1 ] || fail "task 1 should read one file"
expect_grep 'UTF-8' "$WORK/task1.jsonl"

# Tasks of one folder output complete it together; a task without files too.
expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" --task 0/3 -o "$WORK/tasks"
expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" --task 2/3 -o "$WORK/tasks"
expect_grep 'has no input file' "$WORK/err"
[ ! -f "$WORK/tasks/manifest.json" ] || fail "manifest written before every task finished"
expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" --task 1/3 -o "$WORK/tasks"
[ -f "$WORK/tasks/manifest.json" ] || fail "no manifest after the last task"

# min-text-bytes drops short pages with a reason.
expect_exit 0 "$(tool crawl-ingest)" "$WORK/site" --set min-text-bytes=100000 \
    -o "$WORK/none.jsonl" --stats "$WORK/stats.json"
expect_grep '"too_short_extracted": 2' "$WORK/stats.json"
