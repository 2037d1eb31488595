# Attribute mode keeps every document and writes every rule's score, so a
# threshold can be changed later without rerunning the stage.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/docs.sh"

{
    doc en "$good_english"
    doc code "$good_english\\nint main(void) { return 0; } is the smallest program."
    doc tiny "too short"
} >"$WORK/in.jsonl"

expect_exit 0 "$(tool clean)" --config "$LMPIPE_SOURCE/configs/clean/fineweb.yaml" \
    --set mode=attributes "$WORK/in.jsonl" -o "$WORK/out.jsonl" --stats "$WORK/stats.json"
[ "$(wc -l <"$WORK/out.jsonl")" -eq 3 ] || fail "attribute mode dropped documents"
expect_stat "$WORK/stats.json" records_kept 3
expect_stat "$WORK/stats.json" would_drop_c4_curly_brace 1
expect_stat "$WORK/stats.json" would_drop_too_short_chars 1
expect_grep '"id":"code".*"clean_would_drop":\["c4_curly_brace"\]' "$WORK/out.jsonl"
expect_grep '"id":"en".*"clean_would_drop":\[\]' "$WORK/out.jsonl"
python3 - "$WORK/out.jsonl" <<'PY' || fail "attribute scores missing or wrong"
import json, sys
docs = {d["id"]: d for d in map(json.loads, open(sys.argv[1]))}
scores = docs["en"]["meta"]["clean_attributes"]
for key in ["gopher_duplicate_lines", "gopher_top_2gram", "gopher_duplicate_10gram",
            "gopher_min_words", "gopher_alpha_words", "c4_too_few_sentences",
            "fineweb_line_punct_ratio", "fineweb_newline_ratio", "language"]:
    assert key in scores, key
assert scores["language"] == "en", scores["language"]
assert scores["gopher_duplicate_lines"] == 0, scores
assert 100 < scores["gopher_min_words"] < 160, scores["gopher_min_words"]
# A line that a C4 document rule would drop the document for stays in the text.
assert "int main" in docs["code"]["text"]
PY

expect_exit 2 "$(tool clean)" --set mode=score "$WORK/in.jsonl"
expect_grep 'invalid value for mode: "score"' "$WORK/err"
