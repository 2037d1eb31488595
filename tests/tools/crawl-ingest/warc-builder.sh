# Builders for small WARC files, sourced by the crawl-ingest tests after lib.sh.

# warc_record TYPE ID BLOCK [EXTRA_FIELDS] [LENGTH_DELTA]: prints one record
# with CRLF line ends; LENGTH_DELTA falsifies its Content-Length.
warc_record() {
    local type=$1 id=$2 block=$3 extra=${4:-} delta=${5:-0}
    printf 'WARC/1.0\r\nWARC-Type: %s\r\nWARC-Record-ID: <urn:uuid:%s>\r\n' "$type" "$id"
    printf 'WARC-Target-URI: http://example.com/%s\r\nWARC-Date: 2024-05-01T00:00:00Z\r\n' "$id"
    printf '%s' "$extra"
    printf 'Content-Length: %d\r\n\r\n%s\r\n\r\n' $((${#block} + delta)) "$block"
}

# http_page ID TEXT [STATUS] [HEADERS]: a response record whose HTTP payload is
# an HTML page with TEXT in one paragraph.
http_page() {
    local id=$1 text=$2 status=${3:-200 OK} headers=${4:-}
    local http
    http=$(printf 'HTTP/1.1 %s\r\nContent-Type: text/html; charset=utf-8\r\n%s\r\n' \
        "$status" "$headers"; printf '<html><body><p>%s</p></body></html>' "$text")
    warc_record response "$id" "$http" \
        $'Content-Type: application/http; msgtype=response\r\n'
}

# ingest FILE...: runs crawl-ingest into $WORK/out.jsonl and $WORK/stats.json,
# expecting exit status 0.
ingest() {
    expect_exit 0 "$(tool crawl-ingest)" "$@" -o "$WORK/out.jsonl" --stats "$WORK/stats.json"
}

# expect_count N: fails unless $WORK/out.jsonl has N documents.
expect_count() {
    local count
    count=$(wc -l <"$WORK/out.jsonl")
    [ "$count" -eq "$1" ] || { cat "$WORK/err" >&2; fail "expected $1 documents, got $count"; }
}
