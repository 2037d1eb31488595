# .warc.zst files with one zstd frame per record (offsets point at frames) or
# one frame for the whole file. A truncated last frame keeps the whole records.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/warc-builder.sh"
command -v zstd >/dev/null || skip "zstd command not found; it writes the test files"

: >"$WORK/per-record.warc.zst"
for i in 1 2 3; do
    http_page "page-$i" "Text of page $i." >"$WORK/record.warc"
    zstd -q -c "$WORK/record.warc" >>"$WORK/per-record.warc.zst"
    cat "$WORK/record.warc" >>"$WORK/plain.warc"
done
zstd -q -c "$WORK/plain.warc" >"$WORK/whole-file.warc.zst"

ingest "$WORK/per-record.warc.zst"
expect_count 3
expect_grep '"zstd_frames": 3' "$WORK/stats.json"
second=$(http_page page-1 "Text of page 1." | zstd -q -c | wc -c)
expect_grep "\"id\":\"urn:uuid:page-2\".*\"warc_record_offset\":$second" "$WORK/out.jsonl"

ingest "$WORK/whole-file.warc.zst"
expect_count 3

size=$(stat -c %s "$WORK/per-record.warc.zst")
head -c $((size - 20)) "$WORK/per-record.warc.zst" >"$WORK/cut.warc.zst"
ingest "$WORK/cut.warc.zst"
expect_count 2
expect_grep 'cut\.warc\.zst: the compressed stream is truncated at byte [0-9]+' "$WORK/err"
expect_grep '"truncated_record": 1' "$WORK/stats.json"
