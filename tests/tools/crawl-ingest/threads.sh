# --threads converts records in parallel and writes the same documents in the
# same order as one thread; --task I/N splits files between processes.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/warc-builder.sh"

for file in a b; do
    for i in $(seq 1 150); do
        http_page "$file-$i" "Page $i of file $file, with a few words of text."
        warc_record request "$file-request-$i" $'GET / HTTP/1.1\r\n\r\n'
    done | gzip -c >"$WORK/$file.warc.gz"
done

ingest "$WORK/a.warc.gz" "$WORK/b.warc.gz"
cp "$WORK/out.jsonl" "$WORK/one-thread.jsonl"
expect_count 300
for threads in 2 5; do
    ingest "$WORK/a.warc.gz" "$WORK/b.warc.gz" --threads "$threads"
    cmp -s "$WORK/out.jsonl" "$WORK/one-thread.jsonl" ||
        fail "--threads $threads wrote other documents or another order"
    expect_grep '"records_in": 600' "$WORK/stats.json"
    expect_grep '"type_request": 300' "$WORK/stats.json"
done

for task in 0 1; do
    expect_exit 0 "$(tool crawl-ingest)" "$WORK/a.warc.gz" "$WORK/b.warc.gz" --task "$task/2" \
        -o "$WORK/task-$task.jsonl"
done
cat "$WORK/task-0.jsonl" "$WORK/task-1.jsonl" | cmp -s - "$WORK/one-thread.jsonl" ||
    fail "tasks 0/2 and 1/2 together differ from one run"

# A folder of HTML files and a WARC file after them: the files are converted
# in parallel, and the documents, their order and the stats match one thread.
mkdir -p "$WORK/site/sub"
for i in $(seq 1 40); do
    printf '<html><head><title>Page %d</title></head><body><p>Text of page %d, with a few words.</p></body></html>' \
        "$i" "$i" >"$WORK/site/sub/page-$(printf %03d "$i").html"
done
printf '<html><body><p>中文页面的正文内容。</p></body></html>' >"$WORK/site/zh.html"
stat_of_run() { python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))
print(s["records_in"], s["records_kept"], s["dropped_by_reason"])' "$1"; }
ingest "$WORK/site" "$WORK/a.warc.gz"
cp "$WORK/out.jsonl" "$WORK/html-one.jsonl"
one_stats=$(stat_of_run "$WORK/stats.json")
expect_grep '"id":"[0-9a-f]{32}".*"url":"[^"]*page-040\.html"' "$WORK/html-one.jsonl"
for threads in 2 3; do
    ingest "$WORK/site" "$WORK/a.warc.gz" --threads "$threads"
    cmp -s "$WORK/out.jsonl" "$WORK/html-one.jsonl" ||
        fail "--threads $threads wrote other documents or another order for HTML files"
    [ "$(stat_of_run "$WORK/stats.json")" = "$one_stats" ] ||
        fail "--threads $threads counted HTML files differently"
done
[ "$(wc -l <"$WORK/html-one.jsonl")" -eq 191 ] || fail "expected 41 pages and 150 records"
