# Mojibake (UTF-8 read as windows-1252) is repaired and counted; correct
# accented text is left as it is.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/docs.sh"

doc broken "$good_english\\nThe cafÃ© menu said itâ€™s â€œfreshâ€\\u009d and ä¸­æ–‡ is Chinese." >"$WORK/in.jsonl"
doc correct "$good_english\\nThe café menu in São Paulo costs 5 € and naïve Ångström." >>"$WORK/in.jsonl"

expect_exit 0 "$(tool clean)" "$WORK/in.jsonl" -o "$WORK/out.jsonl" --stats "$WORK/stats.json"
expect_grep 'The café menu said it’s “fresh” and 中文 is Chinese\.' "$WORK/out.jsonl"
expect_grep 'The café menu in São Paulo costs 5 € and naïve Ångström\.' "$WORK/out.jsonl"
expect_stat "$WORK/stats.json" mojibake_repaired 6

expect_exit 0 "$(tool clean)" --set fix-mojibake=false "$WORK/in.jsonl" -o "$WORK/kept.jsonl"
expect_grep 'cafÃ©' "$WORK/kept.jsonl"
