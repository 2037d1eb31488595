# Request, metadata, revisit, warcinfo and unknown record types are skipped
# and counted by type. Responses with a status other than 200 are skipped and
# counted by status. Every record in is kept or dropped with a reason.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/warc-builder.sh"

{
    warc_record warcinfo info $'software: test\r\n'
    warc_record request req $'GET / HTTP/1.1\r\nHost: example.com\r\n\r\n'
    http_page ok "A page that is kept."
    warc_record metadata meta $'fetchTimeMs: 5\r\n'
    warc_record revisit rev $'HTTP/1.1 200 OK\r\n\r\n'
    warc_record future-type unknown 'opaque'
    http_page moved "Moved." "301 Moved Permanently" $'Location: /new\r\n'
    http_page missing "Not here." "404 Not Found"
    http_page broken "Bad status line." "abc"
} >"$WORK/types.warc"

ingest "$WORK/types.warc"
expect_count 1
expect_grep '"id":"urn:uuid:ok"' "$WORK/out.jsonl"
for reason in type_warcinfo type_request type_metadata type_revisit type_other \
    http_status_301 http_status_404 http_status_invalid; do
    expect_grep "\"$reason\": 1" "$WORK/stats.json"
done
expect_grep '"records_in": 9' "$WORK/stats.json"
expect_grep '"records_kept": 1' "$WORK/stats.json"
expect_grep '"records_dropped": 8' "$WORK/stats.json"
