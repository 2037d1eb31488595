# shard puts a document in the val split by a hash of its id: the same ids
# give the same split in any input order, other ids give another split, and
# --val-fraction sets the share of documents that go to val.
. "$(dirname "$0")/../lib.sh"
TOKENIZER="$LMPIPE_SOURCE/tests/tools/shard/tokenizer.json"
cd "$WORK"

# 300 documents of different lengths, so the val token count tells which
# documents went to val; English and Chinese words alternate.
awk -v prefix=doc 'BEGIN { for (i = 1; i <= 300; i++) {
    text = ""
    for (j = 0; j < i; j++) text = text (j % 2 ? "词" : "w") " "
    printf "{\"id\":\"%s-%d\",\"text\":\"%s\",\"source\":\"s\"}\n", prefix, i, text
} }' >docs.jsonl
tac docs.jsonl >reversed.jsonl
sed 's/"id":"doc-/"id":"other-/' docs.jsonl >renamed.jsonl

# count FOLDER KEY: prints the manifest's number for KEY.
count() { grep -o "\"$2\": [0-9]*" "$1/manifest.json" | grep -o '[0-9]*$'; }

for input in docs reversed renamed; do
    expect_exit 0 "$(tool shard)" -t "$TOKENIZER" "$input.jsonl" -o "$input" \
        --set val-fraction=0.3
done
val=$(count docs val_documents)
[ "$val" -ge 60 ] && [ "$val" -le 120 ] ||
    fail "$val of 300 documents went to val with --val-fraction 0.3"
[ "$(count reversed val_documents)" -eq "$val" ] ||
    fail "reversed input: $(count reversed val_documents) val documents, expected $val"
[ "$(count reversed val_tokens)" -eq "$(count docs val_tokens)" ] ||
    fail "reversed input: $(count reversed val_tokens) val tokens, expected $(count docs val_tokens)"
[ "$(count renamed val_tokens)" -ne "$(count docs val_tokens)" ] ||
    fail "other ids gave the same val tokens ($(count docs val_tokens)): the split ignores ids"
[ "$(($(count docs val_tokens) + $(count docs train_tokens)))" -eq \
    "$(($(count renamed val_tokens) + $(count renamed train_tokens)))" ] ||
    fail "renaming the ids changed the total token count"

# Each document is in exactly one split, whatever the fraction.
expect_exit 0 "$(tool shard)" -t "$TOKENIZER" docs.jsonl -o half --set val-fraction=0.5
[ "$(($(count half val_documents) + $(count half train_documents)))" -eq 300 ] ||
    fail "train and val hold $(($(count half val_documents) + $(count half train_documents))) documents, expected 300"
[ "$(count half val_documents)" -gt "$val" ] ||
    fail "--val-fraction 0.5 put $(count half val_documents) documents in val, 0.3 put $val"
