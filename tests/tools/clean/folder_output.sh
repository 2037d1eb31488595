# clean writes a folder with a manifest and skips a rerun with the same inputs
# and settings unless --force is given.
source "$(dirname "$0")/../lib.sh"

printf '%s\n' '{"id":"a","text":"A document with enough words and characters to be kept by clean.","source":"t"}' \
    >"$WORK/in.jsonl"
expect_exit 0 "$(tool clean)" "$WORK/in.jsonl" -o "$WORK/folder"
[ -f "$WORK/folder/manifest.json" ] || fail "no manifest.json in the output folder"
[ -f "$WORK/folder/stats.json" ] || fail "no stats.json in the output folder"

expect_exit 0 "$(tool clean)" "$WORK/in.jsonl" -o "$WORK/folder"
expect_grep 'up to date' "$WORK/err"

expect_exit 0 "$(tool clean)" --set min-chars=10 "$WORK/in.jsonl" -o "$WORK/folder"
if grep -q 'up to date' "$WORK/err"; then fail "changed settings must rebuild the folder"; fi
