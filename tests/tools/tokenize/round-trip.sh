# tokenize encodes documents and text lines with the fixture tokenizer to the
# ids Hugging Face tokenizers gives, and --decode restores the text.
. "$(dirname "$0")/../lib.sh"

TOKENIZER="$LMPIPE_SOURCE/tests/fixtures/tokenizer/tokenizer.json"
printf 'Hello world\n我们今天训练一个中文模型。\nbefore<|endoftext|>after\n' \
    >"$WORK/lines.txt"

expect_exit 0 "$(tool tokenize)" -t "$TOKENIZER" --text "$WORK/lines.txt"
[ "$(wc -l <"$WORK/out")" -eq 3 ] || fail "expected 3 id lines"
cp "$WORK/out" "$WORK/ids.txt"
# Without --allow-special the marker is plain text, so id 0 never appears.
if grep -Eq '(^| )0( |$)' "$WORK/ids.txt"; then
    fail "special token encoded without --allow-special"
fi

expect_exit 0 "$(tool tokenize)" -t "$TOKENIZER" --text --allow-special "$WORK/lines.txt"
expect_grep '(^| )0( |$)' "$WORK/out"

expect_exit 0 "$(tool tokenize)" -t "$TOKENIZER" --decode "$WORK/ids.txt"
cmp -s "$WORK/out" "$WORK/lines.txt" || fail "decoded text differs from the input"

# Documents: one id line per document, read from standard input.
printf '{"id":"a","text":"Hello world","source":"t"}\n{"id":"b","text":"中文","source":"t"}\n' \
    >"$WORK/docs.jsonl"
expect_exit 0 "$(tool tokenize)" -t "$TOKENIZER" - <"$WORK/docs.jsonl"
[ "$(wc -l <"$WORK/out")" -eq 2 ] || fail "expected 2 id lines"
[ "$(head -n 1 "$WORK/out")" = "$(head -n 1 "$WORK/ids.txt")" ] ||
    fail "document and text encodings of \"Hello world\" differ"
