# A per-record gzip WARC cut inside its last member still yields every whole
# record before the cut. The error names the file, says which record was cut
# (its byte offset) and where the stream ended, the cut record is counted as
# truncated_record, and the run exits 0. A whole-file gzip cut inside a block
# names the cut record too.
source "$(dirname "$0")/../lib.sh"

record() { # record ID BODY: a response record with an HTTP 200 HTML payload
    local http
    http=$(printf 'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s' "$2")
    printf 'WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:%s>\r\n' "$1"
    printf 'WARC-Target-URI: <http://example.com/%s>\r\nWARC-Date: 2024-05-01T00:00:00Z\r\n' "$1"
    printf 'Content-Type: application/http; msgtype=response\r\n'
    printf 'Content-Length: %d\r\n\r\n%s\r\n\r\n' "${#http}" "$http"
}

for i in 1 2 3; do
    record "page-$i" "<html><body><p>Text of page number $i, long enough.</p></body></html>" |
        gzip -c >>"$WORK/cut.warc.gz"
done
size=$(stat -c %s "$WORK/cut.warc.gz")
last=$(record "page-3" "<html><body><p>Text of page number 3, long enough.</p></body></html>" |
    gzip -c | wc -c)
head -c $((size - last / 2)) "$WORK/cut.warc.gz" >"$WORK/truncated.warc.gz"

expect_exit 0 "$(tool crawl-ingest)" "$WORK/truncated.warc.gz" -o "$WORK/out.jsonl" \
    --stats "$WORK/stats.json"
expect_grep "truncated\\.warc\\.gz: the record at byte $((size - last)) is cut: the compressed \
stream is truncated at byte $((size - last / 2)), inside its" "$WORK/err"
if grep -q "between records" "$WORK/err"; then fail "a cut record was reported as between records"; fi
expect_grep '"id":"urn:uuid:page-1"' "$WORK/out.jsonl"
expect_grep '"id":"urn:uuid:page-2"' "$WORK/out.jsonl"
expect_grep '"url":"http://example.com/page-2"' "$WORK/out.jsonl"
[ "$(wc -l <"$WORK/out.jsonl")" -eq 2 ] || fail "expected 2 documents before the cut"
expect_grep '"truncated_record": 1' "$WORK/stats.json"
expect_grep '"damaged_files": 1' "$WORK/stats.json"

# The damaged file does not stop the files after it.
cp "$WORK/cut.warc.gz" "$WORK/whole.warc.gz"
expect_exit 0 "$(tool crawl-ingest)" "$WORK/truncated.warc.gz" "$WORK/whole.warc.gz" \
    -o "$WORK/both.jsonl"
[ "$(wc -l <"$WORK/both.jsonl")" -eq 5 ] || fail "expected 2 + 3 documents"

# Whole-file gzip: the third record's block is cut. Its offset is the number
# of uncompressed bytes before it.
long=$(printf 'Sentence number %d of the long last page. ' $(seq 200))
{
    record "page-1" "<html><body><p>Text of page number 1, long enough.</p></body></html>"
    record "page-2" "<html><body><p>Text of page number 2, long enough.</p></body></html>"
} >"$WORK/first-two.warc"
record "page-3" "<html><body><p>$long</p></body></html>" >"$WORK/third.warc"
cat "$WORK/first-two.warc" "$WORK/third.warc" | gzip -c >"$WORK/whole-file.warc.gz"
whole=$(stat -c %s "$WORK/whole-file.warc.gz")
head -c $((whole - 200)) "$WORK/whole-file.warc.gz" >"$WORK/whole-cut.warc.gz"
expect_exit 0 "$(tool crawl-ingest)" "$WORK/whole-cut.warc.gz" -o "$WORK/whole-cut.jsonl"
third=$(stat -c %s "$WORK/first-two.warc")
expect_grep "whole-cut\\.warc\\.gz: the record at byte $third is cut: .* inside its block" \
    "$WORK/err"
[ "$(wc -l <"$WORK/whole-cut.jsonl")" -eq 2 ] || fail "expected 2 documents before the cut"
