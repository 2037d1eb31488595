# tokenize --threads gives the same output as one thread, in input order,
# for documents and for text lines.
. "$(dirname "$0")/../lib.sh"

TOKENIZER="$LMPIPE_SOURCE/tests/fixtures/tokenizer/tokenizer.json"
# The training text without its lines that hold backslashes, so that awk can
# quote each line as a JSON string.
TEXT="$WORK/text.txt"
grep -v '\\' "$LMPIPE_SOURCE/tests/fixtures/tokenizer/train.txt" >"$TEXT"
awk '{ gsub(/"/, "\\\""); gsub(/\t/, "\\t");
       printf "{\"id\":\"%d\",\"text\":\"%s\",\"source\":\"t\"}\n", NR, $0 }' "$TEXT" \
    >"$WORK/docs.jsonl"

expect_exit 0 "$(tool tokenize)" -t "$TOKENIZER" "$WORK/docs.jsonl" -o "$WORK/one.txt"
expect_exit 0 "$(tool tokenize)" -t "$TOKENIZER" --threads 4 "$WORK/docs.jsonl" \
    -o "$WORK/four.txt"
[ "$(wc -l <"$WORK/one.txt")" -eq "$(wc -l <"$TEXT")" ] || fail "one id line per document"
cmp -s "$WORK/one.txt" "$WORK/four.txt" || fail "--threads 4 changed the document output"

expect_exit 0 "$(tool tokenize)" -t "$TOKENIZER" --text --threads 3 "$TEXT" -o "$WORK/lines.txt"
cmp -s "$WORK/one.txt" "$WORK/lines.txt" || fail "--text --threads 3 differs from documents"
