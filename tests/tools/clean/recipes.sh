# The shipped recipes keep good English and Chinese prose and drop documents
# that break one rule, naming the rule and its value in the rejected file.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/docs.sh"

repeated=$(printf 'Buy cheap shoes online today and save money now.\\n%.0s' $(seq 1 12))
menu=$(printf 'Home\\nAbout us\\nContact\\nProducts\\nNews\\n%.0s' 1 2 3)
{
    doc en "$good_english"
    doc zh "$good_chinese"
    doc repeated "$good_english\\n$repeated"
    doc nostop "Apples bananas cherries dates elderberries figs grapes honeydew kiwis lemons mangos nectarines oranges papayas quinces raspberries strawberries tangerines. Carrots peas beans onions garlic leeks potatoes tomatoes peppers radishes turnips cabbages lettuces spinach kale celery fennel. Salmon trout herring mackerel sardines anchovies tuna cod haddock halibut plaice sole. Wheat barley oats rye millet sorghum maize rice quinoa buckwheat spelt teff."
    doc code "$good_english\\nint main(void) { return 0; } is the smallest program you can write."
    doc menu "$good_english\\n$menu"
} >"$WORK/in.jsonl"

for recipe in gopher c4 fineweb; do
    expect_exit 0 "$(tool clean)" --config "$LMPIPE_SOURCE/configs/clean/$recipe.yaml" \
        "$WORK/in.jsonl" -o "$WORK/$recipe.jsonl" --stats "$WORK/$recipe.json" \
        --rejected "$WORK/$recipe-rejected.jsonl"
    expect_grep '"id":"en"' "$WORK/$recipe.jsonl"
done

# Gopher: Chinese prose is kept, because its words are counted in characters.
expect_grep '"id":"zh"' "$WORK/gopher.jsonl"
expect_grep '"id":"repeated".*"drop_reason":"gopher_duplicate_lines","drop_value":0\.733' \
    "$WORK/gopher-rejected.jsonl"
expect_grep '"id":"nostop".*"drop_reason":"gopher_stop_words","drop_value":0' \
    "$WORK/gopher-rejected.jsonl"
# en, zh and code; the repeated menu lines drop "menu".
expect_stat "$WORK/gopher.json" records_kept 3

# C4: English only, no curly braces, the menu lines removed from the kept text.
expect_grep '"id":"zh".*"drop_reason":"language_not_allowed"' "$WORK/c4-rejected.jsonl"
expect_grep '"id":"code".*"drop_reason":"c4_curly_brace"' "$WORK/c4-rejected.jsonl"
expect_grep '"id":"menu"' "$WORK/c4.jsonl"
if grep '"id":"menu"' "$WORK/c4.jsonl" | grep -q 'About us'; then
    fail "C4 kept the menu line \"About us\""
fi
expect_stat "$WORK/c4.json" c4_lines_no_terminal_punct 15

# FineWeb: the repeated lines break the Gopher rules first.
expect_grep '"id":"repeated".*"drop_reason":"gopher_' "$WORK/fineweb-rejected.jsonl"
expect_stat "$WORK/fineweb.json" language_not_allowed 1

# Every document in is kept or dropped with a reason.
for recipe in gopher c4 fineweb; do
    python3 - "$WORK/$recipe.json" <<'PY' || fail "$recipe: records do not add up"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["records_in"] == s["records_kept"] + sum(s["dropped_by_reason"].values()), s
PY
done
