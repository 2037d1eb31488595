# English and Chinese pages of Debian's reference manual (the demo crawl's
# source) come out with the right language, and the Gopher and FineWeb rules
# treat the Chinese pages like the English ones.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/docs.sh"

pages=/usr/share/debian-reference
ls "$pages"/*.zh-cn.html >/dev/null 2>&1 || skip "debian-reference-zh-cn is not installed"
ls "$pages"/*.en.html >/dev/null 2>&1 || skip "debian-reference-en is not installed"
mkdir "$WORK/pages"
cp "$pages"/ch0[1-4].en.html "$pages"/ch0[1-4].zh-cn.html "$WORK/pages/"
expect_exit 0 "$(tool crawl-ingest)" "$WORK/pages" -o "$WORK/docs.jsonl"

expect_exit 0 "$(tool clean)" "$WORK/docs.jsonl" -o "$WORK/all.jsonl" --stats "$WORK/all.json"
python3 - "$WORK/all.jsonl" <<'PY' || fail "wrong languages detected"
import json, sys
docs = [json.loads(line) for line in open(sys.argv[1])]
assert len(docs) == 8, len(docs)
for d in docs:
    expected = "zh" if ".zh-cn." in d["url"] + d["id"] + json.dumps(d["meta"]) else "en"
    assert d["meta"]["lang_detected"] == expected, (d["url"], d["meta"]["lang_detected"])
PY

# Only Chinese.
expect_exit 0 "$(tool clean)" --set languages=zh "$WORK/docs.jsonl" -o "$WORK/zh.jsonl" \
    --stats "$WORK/zh.json"
expect_stat "$WORK/zh.json" records_kept 4
expect_stat "$WORK/zh.json" language_not_allowed 4

# Gopher keeps the same number of Chinese pages as English ones.
expect_exit 0 "$(tool clean)" --config "$LMPIPE_SOURCE/configs/clean/gopher.yaml" \
    "$WORK/docs.jsonl" -o "$WORK/gopher.jsonl"
zh=$(grep -c '"lang_detected":"zh"' "$WORK/gopher.jsonl" || true)
en=$(grep -c '"lang_detected":"en"' "$WORK/gopher.jsonl" || true)
[ "$zh" -eq 4 ] || fail "gopher kept $zh Chinese pages of 4"
[ "$en" -eq 4 ] || fail "gopher kept $en English pages of 4"

# Chinese prose of 300 characters is kept by all FineWeb rules but the
# English-only language list; with languages=zh it passes.
doc zh "$good_chinese" >"$WORK/prose.jsonl"
expect_exit 0 "$(tool clean)" --config "$LMPIPE_SOURCE/configs/clean/fineweb.yaml" \
    --set languages=zh --set c4-min-sentences=3 "$WORK/prose.jsonl" -o "$WORK/prose-out.jsonl"
expect_grep '"id":"zh"' "$WORK/prose-out.jsonl"
