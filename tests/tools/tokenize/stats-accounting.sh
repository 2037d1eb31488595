# tokenize accounts for every record: records in = kept + dropped, with invalid
# records and the cut last record of a truncated gzip file dropped by reason;
# it fails when every record is invalid.
. "$(dirname "$0")/../lib.sh"

TOKENIZER="$LMPIPE_SOURCE/tests/fixtures/tokenizer/tokenizer.json"

for i in 1 2 3 4 5 6; do
    printf '{"id":"d%s","text":"hello world %s 你好，世界"}\n' "$i" "$i"
done >"$WORK/b.jsonl"
sed -i '3a {broken' "$WORK/b.jsonl"
expect_exit 0 "$(tool tokenize)" -t "$TOKENIZER" "$WORK/b.jsonl" -o "$WORK/ids.txt" \
    --stats "$WORK/ts.json"
expect_grep '"records_in": 7,' "$WORK/ts.json"
expect_grep '"records_kept": 6,' "$WORK/ts.json"
expect_grep '"records_dropped": 1,' "$WORK/ts.json"
expect_grep '"invalid_record": 1' "$WORK/ts.json"
[ "$(wc -l <"$WORK/ids.txt")" -eq 6 ] || fail "expected 6 id lines"

# Only invalid records: a failure, with every record counted in and dropped.
for i in $(seq 15); do echo "not json $i"; done >"$WORK/garbage.jsonl"
expect_exit 1 "$(tool tokenize)" -t "$TOKENIZER" "$WORK/garbage.jsonl" -o "$WORK/none.txt"
expect_grep 'every record was invalid' "$WORK/err"
[ ! -e "$WORK/none.txt" ] || fail "an output was written although every record was invalid"

# A gzip file cut inside its second record: the cut record is in and dropped.
{
    echo '{"id":"1","text":"第一条记录"}'
    printf '{"id":"2","text":"%s"}\n' "$(head -c 300000 /dev/urandom | base64 -w 0)"
} | gzip >"$WORK/full.jsonl.gz"
size=$(stat -c %s "$WORK/full.jsonl.gz")
head -c $((size / 2)) "$WORK/full.jsonl.gz" >"$WORK/cut.jsonl.gz"
expect_exit 0 "$(tool tokenize)" -t "$TOKENIZER" "$WORK/cut.jsonl.gz" -o "$WORK/cut.txt" \
    --stats "$WORK/cut.json"
expect_grep '"records_in": 2,' "$WORK/cut.json"
expect_grep '"records_kept": 1,' "$WORK/cut.json"
expect_grep '"truncated_record": 1' "$WORK/cut.json"
expect_grep 'cut\.jsonl\.gz:2: dropped the last record' "$WORK/err"
