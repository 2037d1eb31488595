# A Content-Length that is too small or too large is reported; the reader
# resynchronizes on the next WARC/ line and loses no later record.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/warc-builder.sh"

page() { printf '<html><body><p>%s</p></body></html>' "$1"; }
http() { printf 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n'; page "$1"; }
{
    warc_record response short "$(http 'Length too small by ten bytes.')" '' -10
    warc_record response after-short "$(http 'Record after the short one.')"
    warc_record response long "$(http 'Length too large by forty bytes.')" '' 40
    warc_record response after-long "$(http 'Record after the long one.')"
} >"$WORK/lengths.warc"

ingest "$WORK/lengths.warc"
expect_grep 'record <urn:uuid:short> at byte 0: Content-Length' "$WORK/err"
expect_grep 'record <urn:uuid:long> at byte [0-9]+: Content-Length' "$WORK/err"
expect_grep '"id":"urn:uuid:after-short"' "$WORK/out.jsonl"
expect_grep '"id":"urn:uuid:after-long"' "$WORK/out.jsonl"
expect_grep '"id":"urn:uuid:long".*"text":"Length too large by forty bytes."' "$WORK/out.jsonl"
expect_grep '"warc_length_mismatches": 2' "$WORK/stats.json"
expect_grep '"records_in": 4' "$WORK/stats.json"
