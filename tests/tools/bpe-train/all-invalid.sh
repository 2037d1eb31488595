# bpe-train fails, and writes no tokenizer and no manifest, when every record
# of its input is invalid.
. "$(dirname "$0")/../lib.sh"

head -c 3000 /dev/urandom | base64 >"$WORK/garbage.jsonl"
expect_exit 1 "$(tool bpe-train)" "$WORK/garbage.jsonl" -o "$WORK/out"
expect_grep 'every record was invalid' "$WORK/err"
[ ! -e "$WORK/out/manifest.json" ] || fail "a manifest was written for an all-invalid input"
[ ! -e "$WORK/out/tokenizer.json" ] || fail "a tokenizer was written for an all-invalid input"

expect_exit 1 "$(tool bpe-train)" "$WORK/garbage.jsonl" -o "$WORK/tokenizer.json"
[ ! -e "$WORK/tokenizer.json" ] || fail "tokenizer.json was written for an all-invalid input"

# One valid record among invalid ones is enough to train.
echo '{"id":"1","text":"你好，世界 hello hello world"}' >>"$WORK/garbage.jsonl"
expect_exit 0 "$(tool bpe-train)" "$WORK/garbage.jsonl" -o "$WORK/tokenizer.json" \
    --vocab-size 260
[ -s "$WORK/tokenizer.json" ] || fail "no tokenizer.json"
