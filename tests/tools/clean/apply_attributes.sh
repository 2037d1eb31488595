# Scores written by --attributes and applied later by --apply-attributes keep
# exactly the documents (and text, and drop reasons) of a direct run with the
# same recipe, and a changed threshold changes the result without the rules
# running again.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/docs.sh"

braces="Use the braces { and } to group statements in C programs."
lorem="Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod."
{
    doc en "$good_english"
    doc zh "$good_chinese"
    doc tiny "too short"
    doc code "$good_english\\n$braces"
    doc lorem "$good_english\\n$lorem"
    doc braces-first "$braces\\n$good_english\\n$lorem"
    doc lorem-first "$lorem\\n$good_english\\n$braces"
    doc repeated "$good_english\\n$good_english\\n$good_english"
} >"$WORK/in.jsonl"
recipe="$LMPIPE_SOURCE/configs/clean/fineweb.yaml"

# same_result NAME: the applied run NAME matches the direct run NAME.
same_result() {
    cmp -s "$WORK/direct-$1.jsonl" "$WORK/applied-$1.jsonl" ||
        fail "$1: applying stored attributes kept other documents than a direct run"
    python3 - "$WORK/direct-$1.json" "$WORK/applied-$1.json" <<'PY' ||
import json, sys
direct, applied = (json.load(open(path)) for path in sys.argv[1:])
for key in ("records_in", "records_kept", "records_dropped", "dropped_by_reason"):
    assert direct[key] == applied[key], (key, direct[key], applied[key])
PY
        fail "$1: the stats of the applied run differ from the direct run"
}

expect_exit 0 "$(tool clean)" --config "$recipe" --attributes "$WORK/attributes" \
    "$WORK/in.jsonl" -o "$WORK/scored.jsonl" --stats "$WORK/scored.json"
[ "$(wc -l <"$WORK/scored.jsonl")" -eq 8 ] || fail "--attributes dropped documents"
expect_stat "$WORK/scored.json" records_kept 8
[ -f "$WORK/attributes/manifest.json" ] || fail "the attribute folder has no manifest"
expect_grep '^\{"id":"en","attributes":\{"empty_after_normalization":' \
    "$WORK/attributes/scored.jsonl"
[ "$(wc -l <"$WORK/attributes/scored.jsonl")" -eq 8 ] || fail "expected 8 attribute lines"
if grep -q clean_attributes "$WORK/scored.jsonl"; then
    fail "with --attributes the scores belong in the attribute files, not in meta"
fi
python3 - "$WORK/attributes/scored.jsonl" <<'PY' || fail "attribute values missing or wrong"
import json, sys
records = {r["id"]: r for r in map(json.loads, open(sys.argv[1]))}
en, zh = records["en"]["attributes"], records["zh"]["attributes"]
assert en["language"] == "en", en["language"]
assert zh["language"] == "zh", zh["language"]
assert zh["text_is_cjk"] is True, zh["text_is_cjk"]
assert en["text_is_cjk"] is False, en["text_is_cjk"]
assert records["en"]["would_drop"] == [], records["en"]["would_drop"]
assert "language_not_allowed" in records["zh"]["would_drop"], records["zh"]["would_drop"]
assert records["code"]["attributes"]["c4_curly_brace"] > 0
assert records["lorem"]["attributes"]["c4_lorem_ipsum"] > 0
first = records["braces-first"]["attributes"]
assert 0 < first["c4_curly_brace"] < first["c4_lorem_ipsum"], first
PY

# The recipe as it is, then with changed thresholds and switches.
run_both() { # NAME SETTINGS...
    local name=$1; shift
    expect_exit 0 "$(tool clean)" --config "$recipe" "$@" "$WORK/in.jsonl" \
        -o "$WORK/direct-$name.jsonl" --stats "$WORK/direct-$name.json"
    expect_exit 0 "$(tool clean)" --config "$recipe" "$@" \
        --apply-attributes "$WORK/attributes" "$WORK/scored.jsonl" \
        -o "$WORK/applied-$name.jsonl" --stats "$WORK/applied-$name.json"
    same_result "$name"
}
run_both recipe
run_both languages --set languages=en,zh
run_both braces --set c4-curly-brace=false
run_both lorem --set c4-lorem-ipsum=false
run_both repetition --set gopher-max-duplicate-lines=0.9 --set gopher-max-duplicate-paragraphs=0.9 \
    --set gopher-max-duplicate-line-chars=0.9 --set gopher-max-duplicate-paragraph-chars=0.9 \
    --set gopher-max-duplicate-5gram=0.9 --set gopher-max-duplicate-6gram=0.9 \
    --set gopher-max-duplicate-7gram=0.9 --set gopher-max-duplicate-8gram=0.9 \
    --set gopher-max-duplicate-9gram=0.9 --set gopher-max-duplicate-10gram=0.9 \
    --set fineweb-max-char-dup-ratio=0.9

expect_stat "$WORK/applied-recipe.json" records_kept 1
expect_stat "$WORK/applied-recipe.json" language_not_allowed 1
expect_stat "$WORK/applied-recipe.json" c4_curly_brace 2
expect_stat "$WORK/applied-recipe.json" c4_lorem_ipsum 2
expect_stat "$WORK/applied-languages.json" records_kept 2
expect_grep '"id":"zh"' "$WORK/applied-languages.jsonl"
expect_grep '"id":"code"' "$WORK/applied-braces.jsonl"
expect_stat "$WORK/applied-lorem.json" c4_curly_brace 3
expect_grep '"id":"repeated"' "$WORK/applied-repetition.jsonl"
# The rules did not run again: no language was detected in the applied runs.
expect_stat "$WORK/applied-languages.json" language_detected 0

# Stored scores that belong to other documents, or miss a switched-on family.
doc other "$good_english" >"$WORK/other.jsonl"
cp "$WORK/other.jsonl" "$WORK/scored-copy.jsonl"
mkdir -p "$WORK/renamed" && cp "$WORK/other.jsonl" "$WORK/renamed/scored.jsonl"
expect_exit 1 "$(tool clean)" --config "$recipe" --apply-attributes "$WORK/attributes" \
    "$WORK/renamed/scored.jsonl" -o "$WORK/x.jsonl"
expect_grep 'scored\.jsonl:1: attributes of document en, but the document is other' "$WORK/err"
expect_exit 1 "$(tool clean)" --config "$recipe" --apply-attributes "$WORK/attributes" \
    "$WORK/scored-copy.jsonl" -o "$WORK/x.jsonl"
expect_grep 'no attribute file for the documents of .*scored-copy\.jsonl' "$WORK/err"
expect_exit 0 "$(tool clean)" --attributes "$WORK/plain" "$WORK/in.jsonl" -o "$WORK/plain.jsonl"
expect_exit 1 "$(tool clean)" --config "$recipe" --apply-attributes "$WORK/plain" \
    "$WORK/plain.jsonl" -o "$WORK/x.jsonl"
expect_grep 'have no "gopher_duplicate_lines": the --attributes run did not score' "$WORK/err"
expect_exit 2 "$(tool clean)" --attributes "$WORK/a2" --apply-attributes "$WORK/attributes" \
    "$WORK/in.jsonl" -o "$WORK/x.jsonl"
expect_grep 'cannot be combined' "$WORK/err"

# Folder outputs written as two tasks: one attribute part per document part,
# with the same name, and the applied result matches the direct run.
for task in 0 1; do
    expect_exit 0 "$(tool clean)" --config "$recipe" --attributes "$WORK/folder-attributes" \
        --task "$task/2" "$WORK/in.jsonl" "$WORK/other.jsonl" -o "$WORK/folder"
done
[ -f "$WORK/folder-attributes/manifest.json" ] || fail "the attribute folder is unfinished"
for part in "$WORK"/folder/part-*.jsonl.zst; do
    [ -f "$WORK/folder-attributes/$(basename "$part")" ] ||
        fail "no attribute file beside $(basename "$part")"
done
expect_exit 0 "$(tool clean)" --config "$recipe" --apply-attributes "$WORK/folder-attributes" \
    "$WORK/folder" -o "$WORK/applied-folder.jsonl"
expect_exit 0 "$(tool clean)" --config "$recipe" "$WORK/in.jsonl" "$WORK/other.jsonl" \
    -o "$WORK/direct-folder.jsonl"
sort "$WORK/applied-folder.jsonl" >"$WORK/applied-sorted.jsonl"
sort "$WORK/direct-folder.jsonl" | cmp -s - "$WORK/applied-sorted.jsonl" ||
    fail "applying the attributes of a folder output kept other documents"
