# bpe-train writes a .json file; the vocabulary size, special tokens and the
# sample limit are applied, and two runs give the same file.
. "$(dirname "$0")/../lib.sh"

cat >"$WORK/docs.jsonl" <<'DOCS'
{"id":"1","text":"the cat sat on the mat. the cat sat on the hat.","source":"t"}
{"id":"2","text":"我们训练一个中文模型。我们训练一个中文模型。","source":"t"}
{"id":"3","text":"the dog ran<|endoftext|>the dog ran","source":"t"}
DOCS

expect_exit 0 "$(tool bpe-train)" --vocab-size 300 --special-tokens '<|endoftext|>,<|pad|>' \
    "$WORK/docs.jsonl" -o "$WORK/a.json"
expect_exit 0 "$(tool bpe-train)" --vocab-size 300 --special-tokens '<|endoftext|>,<|pad|>' \
    --threads 3 "$WORK/docs.jsonl" -o "$WORK/b.json"
cmp -s "$WORK/a.json" "$WORK/b.json" || fail "two runs gave different tokenizers"
expect_grep '"content": "<\|pad\|>"' "$WORK/a.json"
expect_grep '"id": 299' "$WORK/a.json"

# With a 10-byte sample only "the cat sa" is counted: few merges are possible.
expect_exit 0 "$(tool bpe-train)" --vocab-size 300 --sample-bytes 10 --min-frequency 1 \
    "$WORK/docs.jsonl" -o "$WORK/small.json"
expect_grep 'stopped at' "$WORK/err"
