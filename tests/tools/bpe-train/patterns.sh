# bpe-train with the cl100k and o200k patterns, a custom regex, the chat
# tokens, tiktoken output and hash sampling: the tokenizer.json records the
# pattern as a Split pre-tokenizer, and tokenize on it splits digits in
# groups of three.
. "$(dirname "$0")/../lib.sh"

{
    for i in 1 2 3 4 5 6 7 8; do
        printf '{"id":"%s","text":"the year 2024 and 123456789 we'"'"'re DON'"'"'T 我们训练模型 %s","source":"t"}\n' \
            "$i" "$i"
    done
} >"$WORK/docs.jsonl"

expect_exit 0 "$(tool bpe-train)" --vocab-size 320 --min-frequency 1 --pattern cl100k \
    --chat-tokens --tiktoken "$WORK/docs.jsonl" -o "$WORK/cl100k"
expect_grep '"type": "Split"' "$WORK/cl100k/tokenizer.json"
expect_grep 'p\{N\}\{1,3\}' "$WORK/cl100k/tokenizer.json"
expect_grep '"content": "<\|im_start\|>"' "$WORK/cl100k/tokenizer.json"
expect_grep '"content": "<\|im_end\|>"' "$WORK/cl100k/tokenizer.json"
[ -s "$WORK/cl100k/tokenizer.tiktoken" ] || fail "tokenizer.tiktoken missing"
# The tiktoken file lists the 256 bytes and the merges but no special token.
size=$(grep -o '"vocab_size": *"*[0-9]*' "$WORK/cl100k/manifest.json" | grep -o '[0-9]*$')
lines=$(wc -l <"$WORK/cl100k/tokenizer.tiktoken")
[ "$lines" -eq $((size - 3)) ] ||
    fail "tokenizer.tiktoken has $lines lines, expected $((size - 3)) (vocab_size $size)"

# "123456789" never becomes one token: cl100k pieces hold at most 3 digits.
printf '123456789\n' >"$WORK/digits.txt"
expect_exit 0 "$(tool tokenize)" -t "$WORK/cl100k/tokenizer.json" --text "$WORK/digits.txt"
count=$(wc -w <"$WORK/out")
[ "$count" -ge 3 ] || fail "123456789 encoded to $count ids with cl100k, expected at least 3"

expect_exit 0 "$(tool bpe-train)" --vocab-size 300 --min-frequency 1 --pattern o200k \
    "$WORK/docs.jsonl" -o "$WORK/o200k.json"
expect_grep 'p\{Lu\}' "$WORK/o200k.json"
expect_exit 0 "$(tool bpe-train)" --vocab-size 300 --min-frequency 1 --pattern '\S+|\s+' \
    "$WORK/docs.jsonl" -o "$WORK/custom.json"
expect_grep '"Regex": "\\\\S\+\|\\\\s\+"' "$WORK/custom.json"
expect_exit 2 "$(tool bpe-train)" --pattern '(unclosed' "$WORK/docs.jsonl" -o "$WORK/bad.json"
expect_grep 'invalid pattern' "$WORK/err"
expect_exit 2 "$(tool bpe-train)" --tiktoken "$WORK/docs.jsonl" -o "$WORK/file.json"

# Hash sampling keeps the same documents whatever their order.
tac "$WORK/docs.jsonl" >"$WORK/reversed.jsonl"
expect_exit 0 "$(tool bpe-train)" --vocab-size 300 --min-frequency 1 --sample-rate 0.5 \
    "$WORK/docs.jsonl" -o "$WORK/s1.json"
expect_exit 0 "$(tool bpe-train)" --vocab-size 300 --min-frequency 1 --sample-rate 0.5 \
    "$WORK/reversed.jsonl" -o "$WORK/s2.json"
cmp -s "$WORK/s1.json" "$WORK/s2.json" || fail "sampling depends on the document order"
