# The English and Chinese pages of the small demo crawl (Debian Reference,
# crawled by wget from 127.0.0.1) come out with the detected language "en" or
# "zh" and a confidence. Skipped when wget or the documentation is missing.
source "$(dirname "$0")/../lib.sh"

command -v wget >/dev/null || skip "wget is not installed (apt-get install wget)"
for package in debian-reference-en debian-reference-zh-cn; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' ||
        skip "$package is not installed (apt-get install $package)"
done
"$LMPIPE_SOURCE/scripts/make-demo-corpus.sh" "$WORK/corpus" --small --no-install 2>"$WORK/crawl.log" ||
    { cat "$WORK/crawl.log" >&2; fail "make-demo-corpus.sh failed"; }

expect_exit 0 "$(tool crawl-ingest)" "$WORK/corpus" -o "$WORK/docs.jsonl"
grep '\.en\.html"' "$WORK/docs.jsonl" >"$WORK/en.jsonl" || fail "no English pages"
grep '\.zh-cn\.html"' "$WORK/docs.jsonl" >"$WORK/zh.jsonl" || fail "no Chinese pages"
[ "$(wc -l <"$WORK/en.jsonl")" -ge 5 ] || fail "expected at least 5 English pages"
[ "$(wc -l <"$WORK/zh.jsonl")" -ge 5 ] || fail "expected at least 5 Chinese pages"
if grep -v '"lang":"en"' "$WORK/en.jsonl" >"$WORK/wrong"; then
    head -c 1000 "$WORK/wrong" >&2; fail "English pages without lang en"
fi
if grep -v '"lang":"zh"' "$WORK/zh.jsonl" >"$WORK/wrong"; then
    head -c 1000 "$WORK/wrong" >&2; fail "Chinese pages without lang zh"
fi
expect_grep '"language_score":0\.[5-9]' "$WORK/zh.jsonl"
