# shard --task I/N: two parts write one folder; the manifest appears when both
# are done, its counts are the sums of the parts and its vocabulary size and
# end-of-text id are those of the tokenizer.
source "$(dirname "$0")/../lib.sh"

TOKENIZER="$LMPIPE_SOURCE/tests/tools/shard/tokenizer.json"
for part in a b; do
    for i in $(seq 1 30); do
        printf '{"id":"%s-%d","text":"part %s, document %d: 数据分片测试。","source":"t"}\n' \
            "$part" "$i" "$part" "$i"
    done >"$WORK/$part.jsonl"
done

expect_exit 0 "$(tool shard)" -t "$TOKENIZER" "$WORK/a.jsonl" "$WORK/b.jsonl" \
    -o "$WORK/shards" --task 0/2 --set val-fraction=0.2
[ -f "$WORK/shards/manifest.json" ] && fail "manifest written before every task finished"
expect_exit 0 "$(tool shard)" -t "$TOKENIZER" "$WORK/a.jsonl" "$WORK/b.jsonl" \
    -o "$WORK/shards" --task 1/2 --set val-fraction=0.2
[ -f "$WORK/shards/manifest.json" ] || fail "no manifest after both tasks"
for name in train-00000-00000 train-00001-00000 val-00000-00000 val-00001-00000; do
    [ -f "$WORK/shards/$name.lshard" ] || fail "missing $name.lshard"
done

extra() { grep -o "\"$1\": [0-9]*" "$WORK/shards/manifest.json" | grep -o '[0-9]*$'; }
vocab=$(python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
print(1 + max(list(t["model"]["vocab"].values()) + [a["id"] for a in t["added_tokens"]]))' \
    "$TOKENIZER")
[ "$(extra vocab_size)" = "$vocab" ] || fail "vocab_size $(extra vocab_size), expected $vocab"
eot=$(python3 -c 'import json, sys
t = json.load(open(sys.argv[1]))
print([a["id"] for a in t["added_tokens"] if a["content"] == "<|endoftext|>"][0])' "$TOKENIZER")
[ "$(extra eot_id)" = "$eot" ] || fail "eot_id $(extra eot_id), expected $eot"
[ $(( $(extra train_documents) + $(extra val_documents) )) -eq 60 ] ||
    fail "train and val documents do not add up to 60"
[ "$(extra train_files)" -eq 2 ] || fail "train_files $(extra train_files), expected 2"
tokens=0
for file in "$WORK"/shards/*.lshard; do
    expect_exit 0 "$(tool shard)" --inspect "$file"
    tokens=$(( tokens + $(sed -n 's/^tokens: //p' "$WORK/out") ))
done
[ $(( $(extra train_tokens) + $(extra val_tokens) )) -eq "$tokens" ] ||
    fail "manifest token counts do not add up to the $tokens tokens in the files"
