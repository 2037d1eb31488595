# shard tokenizes documents into train and val shards with a manifest, reports
# invalid lines by file and line, and writes the same bytes for any thread count.
source "$(dirname "$0")/../lib.sh"

TOKENIZER="$LMPIPE_SOURCE/tests/tools/shard/tokenizer.json"
{
    for i in $(seq 1 40); do
        printf '{"id":"en-%d","text":"the cat sat in the hat, document %d of the test set.","source":"t"}\n' "$i" "$i"
        printf '{"id":"zh-%d","text":"这是第 %d 个中文文档，用来测试分片程序。","source":"t"}\n' "$i" "$i"
    done
    printf 'not json\n'
    printf '{"id":"empty","text":"","source":"t"}\n'
} >"$WORK/docs.jsonl"

expect_exit 0 "$(tool shard)" -t "$TOKENIZER" "$WORK/docs.jsonl" -o "$WORK/shards" \
    --set shard-tokens=500 --set frame-tokens=64 --set val-fraction=0.2
expect_grep 'docs\.jsonl:81: ' "$WORK/err"
for name in manifest.json tokenizer.json stats.json train-00000.lshard train-00001.lshard \
    val-00000.lshard; do
    [ -f "$WORK/shards/$name" ] || fail "missing $name in the output folder"
done
cmp -s "$TOKENIZER" "$WORK/shards/tokenizer.json" || fail "tokenizer.json was not copied"
expect_grep '"empty_text": 1' "$WORK/shards/stats.json"
expect_grep '"invalid_record": 1' "$WORK/shards/stats.json"
expect_grep '"records_kept": 80' "$WORK/shards/stats.json"
train=$(grep -o '"train_documents": [0-9]*' "$WORK/shards/manifest.json" | grep -o '[0-9]*$')
val=$(grep -o '"val_documents": [0-9]*' "$WORK/shards/manifest.json" | grep -o '[0-9]*$')
[ "$((train + val))" -eq 80 ] || fail "train $train + val $val documents, expected 80"
[ "$val" -gt 0 ] && [ "$train" -gt "$val" ] || fail "unexpected split: train $train, val $val"

expect_exit 0 "$(tool shard)" --inspect "$WORK/shards/train-00000.lshard"
expect_grep '^checksums: ok' "$WORK/out"
expect_grep '^vocabulary size: 262$' "$WORK/out"
expect_grep '^end-of-text id: 261$' "$WORK/out"
expect_grep '^sample text: ' "$WORK/out"

# The same input with four threads gives byte-identical shards.
expect_exit 0 "$(tool shard)" -t "$TOKENIZER" "$WORK/docs.jsonl" -o "$WORK/again" \
    --set shard-tokens=500 --set frame-tokens=64 --set val-fraction=0.2 --threads 4
for file in "$WORK"/shards/*.lshard; do
    cmp -s "$file" "$WORK/again/$(basename "$file")" || fail "$(basename "$file") differs"
done
[ "$(ls "$WORK/shards" | wc -l)" -eq "$(ls "$WORK/again" | wc -l)" ] || fail "file lists differ"
