# Response records in three encodings become UTF-8 documents: a GBK Chinese
# page that declares <meta charset=gbk>, a windows-1252 page labelled
# iso-8859-1 in its HTTP header, and a UTF-8 Chinese page with a chunked,
# gzip-compressed body. A Common Crawl style record (X-Crawler-* headers,
# body already decoded) is not decoded twice, and a 404 is dropped by status.
source "$(dirname "$0")/../lib.sh"

response() { # response ID HTTP_HEADERS BODY_FILE: appends one response record
    local block="$WORK/block"
    { printf 'HTTP/1.1 %b\r\n\r\n' "$2"; cat "$3"; } >"$block"
    {
        printf 'WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:%s>\r\n' "$1"
        printf 'WARC-Target-URI: http://example.com/%s\r\nWARC-Date: 2024-05-01T00:00:00Z\r\n' "$1"
        printf 'Content-Length: %d\r\n\r\n' "$(stat -c %s "$block")"
        cat "$block"
        printf '\r\n\r\n'
    } | gzip -c >>"$WORK/pages.warc.gz"
}

printf '<html><head><meta charset="gbk"></head><body><p>%s</p></body></html>' \
    "$(printf '简体中文网页，使用国标扩展编码。' | iconv -f UTF-8 -t GBK)" >"$WORK/gbk.html"
response gbk '200 OK\r\nContent-Type: text/html' "$WORK/gbk.html"

printf '<html><body><p>Caf\xe9 cr\xe8me \x96 na\xefve \x80 prices</p></body></html>' >"$WORK/cp1252.html"
response cp1252 '200 OK\r\nContent-Type: text/html; charset=ISO-8859-1' "$WORK/cp1252.html"

printf '<html lang="zh"><body><p>统一码中文网页，分块并压缩传输。</p></body></html>' | gzip -c >"$WORK/gz"
size=$(stat -c %s "$WORK/gz")
{ printf '%x\r\n' "$size"; cat "$WORK/gz"; printf '\r\n0\r\n\r\n'; } >"$WORK/chunked"
response utf8 '200 OK\r\nContent-Type: text/html; charset=utf-8\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip' \
    "$WORK/chunked"

printf '<html><body><p>Stored decoded by the crawler.</p></body></html>' >"$WORK/cc.html"
response cc '200 OK\r\nContent-Type: text/html\r\nX-Crawler-Content-Encoding: gzip\r\nX-Crawler-Transfer-Encoding: chunked' \
    "$WORK/cc.html"

printf '<html><body><p>Not found.</p></body></html>' >"$WORK/missing.html"
response missing '404 Not Found\r\nContent-Type: text/html' "$WORK/missing.html"

expect_exit 0 "$(tool crawl-ingest)" "$WORK/pages.warc.gz" -o "$WORK/out.jsonl" \
    --stats "$WORK/stats.json"
expect_grep '"text":"简体中文网页，使用国标扩展编码。"' "$WORK/out.jsonl"
expect_grep '"charset":"gb18030"' "$WORK/out.jsonl"
expect_grep '"text":"Café crème – naïve € prices"' "$WORK/out.jsonl"
expect_grep '"charset":"windows-1252"' "$WORK/out.jsonl"
expect_grep '"text":"统一码中文网页，分块并压缩传输。"' "$WORK/out.jsonl"
expect_grep '"lang":"zh"' "$WORK/out.jsonl"
expect_grep '"text":"Stored decoded by the crawler\."' "$WORK/out.jsonl"
expect_grep '"warc_record_offset":0[,}]' "$WORK/out.jsonl"
[ "$(wc -l <"$WORK/out.jsonl")" -eq 4 ] || fail "expected 4 documents"
expect_grep '"http_status_404": 1' "$WORK/stats.json"
expect_grep '"records_in": 5' "$WORK/stats.json"
expect_grep '"content_type":"text/html"' "$WORK/out.jsonl"
