# The charset of a page comes from, in this order: a byte order mark, the HTTP
# Content-Type, a <meta> declaration, then detection (uchardet). Labels are
# read as the WHATWG Encoding Standard maps them (latin1 is windows-1252,
# x-sjis is Shift_JIS), and invalid byte sequences become U+FFFD and are
# counted.
source "$(dirname "$0")/../lib.sh"

response() { # response ID CONTENT_TYPE BODY_FILE: appends one response record
    local block="$WORK/block"
    { printf 'HTTP/1.1 200 OK\r\nContent-Type: %s\r\n\r\n' "$2"; cat "$3"; } >"$block"
    {
        printf 'WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:%s>\r\n' "$1"
        printf 'WARC-Target-URI: http://example.com/%s\r\n' "$1"
        printf 'Content-Length: %d\r\n\r\n' "$(stat -c %s "$block")"
        cat "$block"
        printf '\r\n\r\n'
    } >>"$WORK/pages.warc"
}

# A byte order mark beats a wrong HTTP charset and a wrong <meta>.
printf '\xef\xbb\xbf<html><head><meta charset="windows-1251"></head><body><p>Déjà vu, 中文。</p></body></html>' \
    >"$WORK/bom.html"
response bom 'text/html; charset=iso-8859-1' "$WORK/bom.html"

# The HTTP charset beats <meta>.
printf '<html><head><meta charset="gbk"></head><body><p>Caf\xe9 na\xefve</p></body></html>' \
    >"$WORK/http.html"
response http 'text/html; charset=latin1' "$WORK/http.html"

# <meta> beats detection.
printf '<html><head><meta http-equiv="Content-Type" content="text/html; charset=x-sjis"></head><body><p>%s</p></body></html>' \
    "$(printf '日本語のページです。' | iconv -f UTF-8 -t SHIFT_JIS)" >"$WORK/meta.html"
response meta 'text/html' "$WORK/meta.html"

# No declaration: the bytes are detected.
chinese=$(printf '%.0s这是一个没有声明编码的中文网页，浏览器需要根据内容猜测它的编码。' $(seq 4))
printf '<html><body><p>%s</p></body></html>' "$(printf '%s' "$chinese" | iconv -f UTF-8 -t GB18030)" \
    >"$WORK/detected.html"
response detected 'text/html' "$WORK/detected.html"

# Invalid UTF-8: two stray bytes.
printf '<html><body><p>broken \xff here \xfe too</p></body></html>' >"$WORK/invalid.html"
response invalid 'text/html; charset=utf-8' "$WORK/invalid.html"

expect_exit 0 "$(tool crawl-ingest)" "$WORK/pages.warc" -o "$WORK/out.jsonl" \
    --stats "$WORK/stats.json"
expect_grep '"id":"urn:uuid:bom","text":"Déjà vu, 中文。".*"charset":"utf-8"' "$WORK/out.jsonl"
expect_grep '"id":"urn:uuid:http","text":"Café naïve".*"charset":"windows-1252"' "$WORK/out.jsonl"
expect_grep '"id":"urn:uuid:meta","text":"日本語のページです。".*"charset":"shift_jis"' \
    "$WORK/out.jsonl"
expect_grep "\"id\":\"urn:uuid:detected\",\"text\":\"$chinese\".*\"charset\":\"gb18030\"" \
    "$WORK/out.jsonl"
expect_grep '"id":"urn:uuid:invalid","text":"broken � here � too"' "$WORK/out.jsonl"
expect_grep '"charset_from_bom": 1' "$WORK/stats.json"
expect_grep '"charset_from_http": 2' "$WORK/stats.json"
expect_grep '"charset_from_meta": 1' "$WORK/stats.json"
expect_grep '"charset_from_detected": 1' "$WORK/stats.json"
expect_grep '"charset_replaced_chars": 2' "$WORK/stats.json"
expect_grep '"documents_with_replaced_chars": 1' "$WORK/stats.json"
