# --help prints the usage and the settings to standard output and exits 0.
# An unknown option is a usage error (exit 2), and so is a missing input list.
source "$(dirname "$0")/../lib.sh"

expect_exit 0 "$(tool crawl-ingest)" --help
expect_grep 'crawl-ingest' "$WORK/out"
expect_grep 'min-text-bytes' "$WORK/out"
expect_grep 'max-record-bytes' "$WORK/out"
expect_grep 'threads N converts the records' "$WORK/out"

expect_exit 2 "$(tool crawl-ingest)" --no-such-option x.warc.gz
expect_exit 2 "$(tool crawl-ingest)"
