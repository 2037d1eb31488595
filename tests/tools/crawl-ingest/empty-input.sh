# crawl-ingest warns about an empty input file by name and still succeeds
# when it is the only one: an empty file is read but contains no records.
source "$(dirname "$0")/../lib.sh"

: >"$WORK/empty.warc.gz"
echo '{"id":"1","text":"中文文档"}' >"$WORK/docs.jsonl"
expect_exit 0 "$(tool crawl-ingest)" "$WORK/empty.warc.gz" "$WORK/docs.jsonl" -o "$WORK/out.jsonl"
expect_grep 'warning: .*empty\.warc\.gz: empty file, no records' "$WORK/err"
expect_grep '中文文档' "$WORK/out.jsonl"

expect_exit 0 "$(tool crawl-ingest)" "$WORK/empty.warc.gz" -o "$WORK/none.jsonl"
expect_grep 'empty\.warc\.gz: empty file' "$WORK/err"

# A damaged file, unlike an empty one, is an input that could not be read.
echo 'not a warc file' | gzip >"$WORK/garbage.warc.gz"
expect_exit 1 "$(tool crawl-ingest)" "$WORK/garbage.warc.gz" -o "$WORK/g.jsonl"
