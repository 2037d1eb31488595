# clean normalizes text and applies the length rules with CJK-aware counts,
# taking settings from a YAML file and --set.
source "$(dirname "$0")/../lib.sh"

# Sixty Chinese characters: 180 bytes, 60 characters, 60 words.
zh=$(printf '中文数据清洗测试%.0s' 1 2 3 4 5 6 7 8)
cat >"$WORK/in.jsonl" <<JSON
{"id":"crlf","text":"line one with enough words to pass\r\nline two\u00a0has a no-break space  \r\n\r\n\r\n\r\nand a paragraph after blank lines, plus more words here","source":"t"}
{"id":"zh","text":"\u3000\u3000${zh}","source":"t"}
{"id":"short","text":"only a few words here","source":"t"}
{"id":"fewwords","text":"Supercalifragilisticexpialidocious antidisestablishmentarianism floccinaucinihilipilification","source":"t"}
{"id":"blank","text":" \u0001 \n\t\n","source":"t"}
JSON

expect_exit 0 "$(tool clean)" "$WORK/in.jsonl" -o "$WORK/out.jsonl" --stats "$WORK/stats.json" \
    --rejected "$WORK/rejected.jsonl"
expect_grep '"id":"crlf","text":"line one with enough words to pass\\nline two has a no-break space\\n\\nand a paragraph' "$WORK/out.jsonl"
expect_grep '"id":"zh","text":"　　中文数据' "$WORK/out.jsonl"
expect_grep '"too_short_chars": 1' "$WORK/stats.json"
expect_grep '"too_few_words": 1' "$WORK/stats.json"
expect_grep '"empty_after_normalization": 1' "$WORK/stats.json"
expect_grep '"id":"short".*"drop_reason":"too_short_chars"' "$WORK/rejected.jsonl"

# The shipped defaults, then --set: 61 words needed drops the Chinese document.
expect_exit 0 "$(tool clean)" --config "$LMPIPE_SOURCE/configs/clean/default.yaml" \
    --set min-words=61 "$WORK/in.jsonl" -o "$WORK/strict.jsonl" --stats "$WORK/strict.json"
expect_grep '"too_few_words": 2' "$WORK/strict.json"

# NFKC maps the ideographic space to a space (kept at the line start) and
# full-width letters to ASCII.
printf '%s\n' '{"id":"w","text":"\u3000ＡＢＣ full width letters and enough other words to be kept by the rules","source":"t"}' \
    >"$WORK/wide.jsonl"
expect_exit 0 "$(tool clean)" --set normalization=nfkc "$WORK/wide.jsonl" -o "$WORK/wide-out.jsonl"
expect_grep '"text":" ABC full width' "$WORK/wide-out.jsonl"
