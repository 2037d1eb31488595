#!/bin/bash
# Peak memory of crawl-ingest on large synthetic WARC files: it must follow the
# largest record, not the file size. Builds per-record gzip WARC files of
# SMALL and 4 x SMALL pages of about 50 KB each, and one with a single page of
# BIG_MB added. Prints the peak resident memory of each run (GNU time).
#
# Usage: tests/bench/crawl-ingest/memory.sh BUILD_DIR [SMALL] [BIG_MB]
set -euo pipefail
build=$1
small=${2:-1000}
big_mb=${3:-32}
crawl_ingest="$build/tools/crawl-ingest/crawl-ingest"
work=$(mktemp -d "${TMPDIR:-/tmp}/crawl-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT

make_warc() { # make_warc FILE PAGES BIG_BYTES
    python3 - "$@" <<'PY'
import gzip, sys
path, pages, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
paragraph = ("<p>" + "Words of a synthetic page that stand in for real prose. " * 12 + "</p>\n")

def record(number, body):
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body
    head = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:page-{number}>\r\n"
            f"WARC-Target-URI: http://example.com/{number}\r\n"
            f"WARC-Date: 2024-05-01T00:00:00Z\r\nContent-Length: {len(http)}\r\n\r\n").encode()
    return gzip.compress(head + http + b"\r\n\r\n", compresslevel=1)

page = ("<html><body>" + paragraph * 70 + "</body></html>").encode()
with open(path, "wb") as out:
    for number in range(pages):
        out.write(record(number, page))
    if big:
        count = big // len(paragraph)
        out.write(record(pages, ("<html><body>" + paragraph * count + "</body></html>").encode()))
PY
}

peak_mb() { # peak_mb FILE: peak RSS in MB of one run over FILE
    /usr/bin/time -f "%M" -o "$work/time" "$crawl_ingest" -q "$1" -o "$work/out.jsonl"
    echo $(( $(cat "$work/time") / 1024 ))
}

echo "| input | uncompressed MB | largest record MB | peak RSS MB |"
echo "|---|---|---|---|"
for spec in "$small 0" "$((small * 4)) 0" "$small $((big_mb << 20))"; do
    set -- $spec
    make_warc "$work/in.warc.gz" "$1" "$2"
    size=$(( $(zcat "$work/in.warc.gz" | wc -c) >> 20 ))
    largest=$(( ($2 > 0 ? $2 : 50 * 1024) >> 10 ))
    echo "| $1 pages$([ "$2" -gt 0 ] && echo " + one of $big_mb MB") | $size |" \
        "$(python3 -c "print(round($largest / 1024, 2))") | $(peak_mb "$work/in.warc.gz") |"
done
