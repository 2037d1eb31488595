# Header values with bytes that are not UTF-8, LF-only line ends and a target
# URI in angle brackets: the document fields come out as valid UTF-8, with the
# stray bytes percent-encoded.
source "$(dirname "$0")/../lib.sh"

http=$(printf 'HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\n\n<p>Caf\xc3\xa9 menu.</p>')
{
    printf 'WARC/1.0\nWARC-Type: response\nWARC-Record-ID: <urn:uuid:latin\xe9>\n'
    printf 'WARC-Target-URI: <http://example.com/caf\xe9>\nWARC-Date: 2024-05-01T00:00:00Z\n'
    printf 'Content-Length: %d\n\n%s\n\n' "${#http}" "$http"
} >"$WORK/bytes.warc"

expect_exit 0 "$(tool crawl-ingest)" "$WORK/bytes.warc" -o "$WORK/out.jsonl" \
    --stats "$WORK/stats.json"
expect_grep '"id":"urn:uuid:latin%E9"' "$WORK/out.jsonl"
expect_grep '"url":"http://example.com/caf%E9"' "$WORK/out.jsonl"
expect_grep '"text":"Café menu."' "$WORK/out.jsonl"
expect_grep '"warc_header_values_not_utf8": 1' "$WORK/stats.json"
