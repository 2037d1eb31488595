# With two documents the val split is never empty, a Chinese document
# round-trips through the shard, and bad input gives the documented exit codes.
source "$(dirname "$0")/../lib.sh"

TOKENIZER="$LMPIPE_SOURCE/tests/tools/shard/tokenizer.json"
cat >"$WORK/two.jsonl" <<'JSON'
{"id":"zh","text":"自由软件","source":"t"}
{"id":"en","text":"free software","source":"t"}
JSON

expect_exit 0 "$(tool shard)" -t "$TOKENIZER" "$WORK/two.jsonl" -o "$WORK/shards" \
    --set val-fraction=0
expect_grep 'val split would be empty' "$WORK/err"
expect_exit 0 "$(tool shard)" --inspect "$WORK/shards/train-00000.lshard"
expect_grep '^sample text: 自由软件$' "$WORK/out"
expect_grep '^documents: 1$' "$WORK/out"
expect_exit 0 "$(tool shard)" --inspect "$WORK/shards/val-00000.lshard" -t "$TOKENIZER"
expect_grep '^sample text: free software$' "$WORK/out"

# A damaged frame is reported with the file and frame, and --inspect exits 1.
cp "$WORK/shards/train-00000.lshard" "$WORK/damaged.lshard"
printf '\377\377\377\377' | dd of="$WORK/damaged.lshard" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_exit 1 "$(tool shard)" --inspect "$WORK/damaged.lshard"
expect_grep 'damaged\.lshard: .*frame 0' "$WORK/err"

printf 'garbage' >"$WORK/garbage.lshard"
expect_exit 1 "$(tool shard)" --inspect "$WORK/garbage.lshard"
expect_grep 'garbage\.lshard: file is truncated' "$WORK/err"

expect_exit 2 "$(tool shard)" "$WORK/two.jsonl" -o "$WORK/no-tokenizer"
expect_grep 'tokenizer' "$WORK/err"

printf 'not json\n' >"$WORK/bad.jsonl"
expect_exit 1 "$(tool shard)" -t "$TOKENIZER" "$WORK/bad.jsonl" -o "$WORK/bad"
expect_grep 'bad\.jsonl:1: ' "$WORK/err"
