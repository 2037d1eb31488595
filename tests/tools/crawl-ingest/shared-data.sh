# Reads every real crawl file beside the repository completely and checks
# the record counts their writers produced. Skipped when the files are absent.
source "$(dirname "$0")/../lib.sh"
require_shared_data warc/cc-2020-34-excerpt.warc.gz

D="$LMPIPE_SHARED_DATA/warc"
check() { # check FILE COUNTER VALUE...: runs on FILE, then expects each counter
    local file=$1; shift
    expect_exit 0 "$(tool crawl-ingest)" "$D/$file" -o "$WORK/out.jsonl" --stats "$WORK/stats.json"
    while [ $# -gt 0 ]; do
        expect_grep "\"$1\": $2(,|$)" "$WORK/stats.json"
        shift 2
    done
    if grep -q '"damaged_files"' "$WORK/stats.json"; then fail "$file read as damaged"; fi
    if grep -Eq '"warc_resyncs": [1-9]' "$WORK/stats.json"; then fail "$file needed resyncs"; fi
}

check cc-2020-34-excerpt.warc.gz records_in 50 warc_response 16 gzip_members 50
check wget-2024-sample-0.warc.gz warc_response 22
check wget-2024-sample-1.warc.gz warc_response 15
check iana-2014.warc.gz records_in 343 warc_response 48 warc_revisit 123 type_revisit 123
check cc-2024-22-one-page.warc.gz records_in 4 warc_response 1
check cc-2024-22-one-page.warc.wet.gz warc_conversion 1 records_kept 1
expect_grep '"url":"https://an.wikipedia.org/wiki/Escopete"' "$WORK/out.jsonl"
expect_grep '"identified_language":"spa"' "$WORK/out.jsonl"

# Every response of the Common Crawl excerpt becomes a document; its pages
# include GBK-encoded Chinese ones.
expect_exit 0 "$(tool crawl-ingest)" "$D/cc-2020-34-excerpt.warc.gz" -o "$WORK/cc.jsonl"
[ "$(wc -l <"$WORK/cc.jsonl")" -eq 16 ] || fail "expected 16 documents from 16 responses"
expect_grep '"charset":"gb18030"' "$WORK/cc.jsonl"
expect_grep '"id":"urn:uuid:' "$WORK/cc.jsonl"
