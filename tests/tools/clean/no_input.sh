# clean exits 1 when nothing could be read: a missing file, or only invalid
# records; and 2 on a usage error.
source "$(dirname "$0")/../lib.sh"

expect_exit 1 "$(tool clean)" "$WORK/missing.jsonl" -o "$WORK/out.jsonl"

printf '%s\n' 'not json' '["an", "array"]' >"$WORK/bad.jsonl"
expect_exit 1 "$(tool clean)" "$WORK/bad.jsonl" -o "$WORK/out.jsonl"
expect_grep 'bad\.jsonl:1: ' "$WORK/err"
expect_grep 'bad\.jsonl:2: ' "$WORK/err"
expect_grep 'every record was invalid' "$WORK/err"
[ ! -e "$WORK/out.jsonl" ] || fail "an output file was completed for an all-invalid input"
expect_exit 1 "$(tool clean)" "$WORK/bad.jsonl" -o "$WORK/folder"
[ ! -e "$WORK/folder/manifest.json" ] || fail "a manifest was written for an all-invalid input"

expect_exit 2 "$(tool clean)" --normalization nfd "$WORK/bad.jsonl"
expect_grep 'nfc or nfkc' "$WORK/err"
