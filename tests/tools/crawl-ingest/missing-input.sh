# A missing input is named in the error. The exit status is 1 only when no
# input could be read; with one readable input beside it the run succeeds.
source "$(dirname "$0")/../lib.sh"

expect_exit 1 "$(tool crawl-ingest)" "$WORK/absent.warc.gz"
expect_grep 'absent\.warc\.gz' "$WORK/err"

cat >"$WORK/page.html" <<'HTML'
<html><body><p>A readable page next to a missing one.</p></body></html>
HTML
expect_exit 0 "$(tool crawl-ingest)" "$WORK/absent.warc.gz" "$WORK/page.html"
expect_grep 'absent\.warc\.gz' "$WORK/err"
expect_grep 'A readable page next to a missing one\.' "$WORK/out"

# A file that is not a WARC file at all cannot be read either.
echo "just some words" >"$WORK/notes.warc"
expect_exit 1 "$(tool crawl-ingest)" "$WORK/notes.warc"
expect_grep 'no WARC record found' "$WORK/err"
