# clean names each input it cannot use and why, counts the cut record of a
# truncated gzip file, and writes to an existing device or pipe in place.
source "$(dirname "$0")/../lib.sh"

# A folder with only WARC files (or nothing) has no documents to clean.
mkdir "$WORK/crawl" "$WORK/empty"
echo x | gzip >"$WORK/crawl/a.warc.gz"
expect_exit 1 "$(tool clean)" "$WORK/crawl/" -o "$WORK/x/"
expect_grep 'crawl/: no \.jsonl, \.jsonl\.gz or \.jsonl\.zst files in this folder; WARC' "$WORK/err"
expect_exit 1 "$(tool clean)" "$WORK/empty" -o "$WORK/x/"
expect_grep 'empty: no \.jsonl' "$WORK/err"

# A missing settings file is a failure with one error naming it.
echo '{"id":"1","text":"一个足够长的中文句子，用来通过长度检查。"}' >"$WORK/one.jsonl"
expect_exit 1 "$(tool clean)" "$WORK/one.jsonl" --config "$WORK/missing.yaml"
expect_grep 'missing\.yaml: cannot read the settings file' "$WORK/err"
[ "$(wc -l <"$WORK/err")" -eq 1 ] || fail "expected one error line, got: $(cat "$WORK/err")"
echo 'min-words: [1' >"$WORK/broken.yaml"
expect_exit 2 "$(tool clean)" "$WORK/one.jsonl" --config "$WORK/broken.yaml"
expect_grep 'broken\.yaml: the settings file is not valid YAML' "$WORK/err"

# A \u0000 escape is reported in plain words, not by a JSON library flag.
printf '%s\n' '{"id":"n","text":"a\u0000b"}' >"$WORK/nul.jsonl"
expect_exit 0 "$(tool clean)" "$WORK/nul.jsonl" "$WORK/one.jsonl" -o "$WORK/nul-out.jsonl"
expect_grep 'nul\.jsonl:1: .*contains a NUL character' "$WORK/err"
if grep -q 'JSON_ALLOW_NUL' "$WORK/err"; then fail "message names jansson's flag"; fi

# An existing pipe (like /dev/null) is a file output, written in place.
mkfifo "$WORK/pipe"
cat "$WORK/pipe" >"$WORK/from-pipe" &
reader=$!
expect_exit 0 "$(tool clean)" "$WORK/one.jsonl" -o "$WORK/pipe" --min-words 1 --min-chars 1
wait "$reader"
[ -p "$WORK/pipe" ] || fail "the pipe was replaced"
expect_grep '一个足够长' "$WORK/from-pipe"

# A gzip file cut inside its second record: in 2, kept 1, dropped 1 as truncated_record.
{
    echo '{"id":"1","text":"第一条记录，内容完整。"}'
    printf '{"id":"2","text":"%s"}\n' "$(head -c 300000 /dev/urandom | base64 -w 0)"
} | gzip >"$WORK/full.jsonl.gz"
size=$(stat -c %s "$WORK/full.jsonl.gz")
head -c $((size / 2)) "$WORK/full.jsonl.gz" >"$WORK/cut.jsonl.gz"
expect_exit 0 "$(tool clean)" "$WORK/cut.jsonl.gz" -o - --stats "$WORK/s3.json" --min-words 1 --min-chars 1
expect_grep '"records_in": 2,' "$WORK/s3.json"
expect_grep '"records_dropped": 1,' "$WORK/s3.json"
expect_grep '"truncated_record": 1' "$WORK/s3.json"
expect_grep '"damaged_files": 1' "$WORK/s3.json"
