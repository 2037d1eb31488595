# bpe-train writes an output folder with tokenizer.json and a manifest, skips
# the run when the folder is up to date, and reruns with --force.
. "$(dirname "$0")/../lib.sh"

FIXTURES="$LMPIPE_SOURCE/tests/fixtures/tokenizer"
python3 -c '
import json, sys
for n, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    print(json.dumps({"id": str(n), "text": line, "source": "fixture"}, ensure_ascii=False))
' "$FIXTURES/train.txt" >"$WORK/docs.jsonl" 2>/dev/null ||
    awk '{ gsub(/\\/, "\\\\"); gsub(/"/, "\\\""); gsub(/\t/, "\\t");
           printf "{\"id\":\"%d\",\"text\":\"%s\\n\",\"source\":\"fixture\"}\n", NR, $0 }' \
        "$FIXTURES/train.txt" >"$WORK/docs.jsonl"

expect_exit 0 "$(tool bpe-train)" --vocab-size 500 --threads 2 "$WORK/docs.jsonl" -o "$WORK/trained"
[ -f "$WORK/trained/tokenizer.json" ] || fail "tokenizer.json missing"
[ -f "$WORK/trained/manifest.json" ] || fail "manifest.json missing"
expect_grep '"type": "BPE"' "$WORK/trained/tokenizer.json"
expect_grep '<\|endoftext\|>' "$WORK/trained/tokenizer.json"

# The trained tokenizer loads and round-trips the training text.
expect_exit 0 "$(tool tokenize)" -t "$WORK/trained/tokenizer.json" --text "$FIXTURES/train.txt" \
    -o "$WORK/ids.txt"
expect_exit 0 "$(tool tokenize)" -t "$WORK/trained/tokenizer.json" --decode "$WORK/ids.txt" \
    -o "$WORK/decoded.txt"
cmp -s "$WORK/decoded.txt" "$FIXTURES/train.txt" || fail "decoded text differs from the input"

# A second run with the same inputs and settings is skipped.
before=$(stat -c %Y "$WORK/trained/manifest.json")
sleep 1
expect_exit 0 "$(tool bpe-train)" --vocab-size 500 "$WORK/docs.jsonl" -o "$WORK/trained"
after=$(stat -c %Y "$WORK/trained/manifest.json")
[ "$before" = "$after" ] || fail "an up-to-date output was rebuilt"

expect_exit 0 "$(tool bpe-train)" --vocab-size 500 --force "$WORK/docs.jsonl" -o "$WORK/trained"
after=$(stat -c %Y "$WORK/trained/manifest.json")
[ "$before" != "$after" ] || fail "--force did not rebuild the output"
