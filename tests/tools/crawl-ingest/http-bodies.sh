# HTTP bodies are decoded as their own headers specify: chunked, gzip, deflate
# and chunked gzip. Common Crawl's X-Crawler-* headers mean the body is already
# decoded. An encoding other than gzip or deflate is dropped and counted.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/warc-builder.sh"
command -v python3 >/dev/null || skip "python3 not found; it builds the compressed bodies"

python3 - "$WORK/bodies.warc" <<'PY'
import sys, zlib, gzip

def record(rid, http):
    head = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:" + rid.encode() +
            b">\r\nWARC-Target-URI: http://example.com/" + rid.encode() +
            b"\r\nWARC-Date: 2024-05-01T00:00:00Z\r\nContent-Length: %d\r\n\r\n" % len(http))
    return head + http + b"\r\n\r\n"

def response(rid, headers, body):
    return record(rid, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n" + headers + b"\r\n" + body)

def chunked(data, size=7):
    out = b""
    for i in range(0, len(data), size):
        piece = data[i:i + size]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
    return out + b"0\r\n\r\n"

def page(word):
    return b"<html><body><p>The " + word.encode() + b" body decoded correctly.</p></body></html>"

raw = zlib.compressobj(wbits=-15)
raw_deflate = raw.compress(page("raw-deflate")) + raw.flush()
with open(sys.argv[1], "wb") as out:
    out.write(response("chunked", b"Transfer-Encoding: chunked\r\n", chunked(page("chunked"))))
    out.write(response("gzip", b"Content-Encoding: gzip\r\n", gzip.compress(page("gzip"))))
    out.write(response("deflate", b"Content-Encoding: deflate\r\n", zlib.compress(page("deflate"))))
    out.write(response("raw-deflate", b"Content-Encoding: deflate\r\n", raw_deflate))
    out.write(response("both", b"Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n",
                       chunked(gzip.compress(page("both")), 16)))
    out.write(response("crawler", b"X-Crawler-Transfer-Encoding: chunked\r\n"
                       b"X-Crawler-Content-Encoding: gzip\r\n", page("crawler")))
    out.write(response("brotli", b"Content-Encoding: br\r\n", b"\x0b\x02\x80"))
PY

ingest "$WORK/bodies.warc"
expect_count 6
for word in chunked gzip deflate raw-deflate both crawler; do
    expect_grep "\"text\":\"The $word body decoded correctly.\"" "$WORK/out.jsonl"
done
expect_grep '"unsupported_content_encoding": 1' "$WORK/stats.json"
