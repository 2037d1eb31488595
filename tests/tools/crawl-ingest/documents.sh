# JSON Lines documents pass through unchanged, beside crawl files, and a
# WARC stream can come from standard input.
source "$(dirname "$0")/../lib.sh"

cat >"$WORK/docs.jsonl" <<'JSON'
{"id":"a","text":"已经是文档的记录原样通过。","source":"earlier"}
JSON
expect_exit 0 "$(tool crawl-ingest)" "$WORK/docs.jsonl" -o "$WORK/out.jsonl" \
    --stats "$WORK/stats.json"
expect_grep '"id":"a"' "$WORK/out.jsonl"
expect_grep '已经是文档的记录原样通过。' "$WORK/out.jsonl"
expect_grep '"source":"earlier"' "$WORK/out.jsonl"
expect_grep '"documents_passed_through": 1' "$WORK/stats.json"

body='hello from a WET conversion record'
printf 'WARC/1.0\nWARC-Type: conversion\nWARC-Record-ID: <urn:uuid:wet-1>\nContent-Type: text/plain\nContent-Length: %d\n\n%s\n\n' \
    "${#body}" "$body" >"$WORK/stream.wet"
"$(tool crawl-ingest)" - <"$WORK/stream.wet" >"$WORK/stdout.jsonl" 2>"$WORK/err" ||
    fail "reading standard input failed"
expect_grep '"text":"hello from a WET conversion record"' "$WORK/stdout.jsonl"
expect_grep '"source":"stdin"' "$WORK/stdout.jsonl"
