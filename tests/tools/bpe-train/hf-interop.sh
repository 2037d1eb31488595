# Tokenizers written by bpe-train load in Hugging Face tokenizers and give the
# ids lmpipe gives, for the gpt2, cl100k and o200k patterns, on English,
# Chinese, code, contractions, camelCase, digit runs and whitespace. (The other
# direction, tokenizer.json files written by tokenizers, is checked by the
# tokenizer unit test against fixtures made with tokenizers.)
. "$(dirname "$0")/../lib.sh"
python3 -c 'import tokenizers' 2>/dev/null ||
    skip "Python package tokenizers is not installed (pip install tokenizers)"
cd "$WORK"

python3 - "$LMPIPE_SOURCE/tests/fixtures/tokenizer/train.txt" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
with open("docs.jsonl", "w", encoding="utf-8") as out:
    for number, line in enumerate(lines[:500]):
        out.write(json.dumps({"id": str(number), "text": line, "source": "t"},
                             ensure_ascii=False) + "\n")
with open("lines.txt", "w", encoding="utf-8") as out:
    for line in lines[500:700]:
        out.write(line + "\n")
    out.write("We're DON'T they'll I'M you'VE camelCaseWord JSONParser x\u017fy 'S\n")
    out.write("1234567890 12 3.14159 ٣٤٥ 五六七 Ⅻ\n")
    out.write("  two  spaces\ttab\u3000ideographic\u00a0nbsp   \n")
    out.write("def f(x):\r\n    return x // 2  # 注释\n")
    out.write("我们今天训练一个中文模型。「引号」，标点！e\u0301 \u00e9 ǅungla\n")
PY

for pattern in gpt2 cl100k o200k; do
    expect_exit 0 "$(tool bpe-train)" --vocab-size 1200 --min-frequency 1 --pattern "$pattern" \
        docs.jsonl -o "$pattern.json"
    expect_exit 0 "$(tool tokenize)" -t "$pattern.json" --text lines.txt
    cp out "$pattern.ids"
    [ "$(wc -l <"$pattern.ids")" -eq "$(wc -l <lines.txt)" ] ||
        fail "$pattern: tokenize wrote $(wc -l <"$pattern.ids") id lines for $(wc -l <lines.txt) lines"
    status=0
    python3 "$LMPIPE_SOURCE/scripts/make-tokenizer-fixtures.py" --compare "$pattern.json" \
        lines.txt "$pattern.ids" >compare.log 2>&1 || status=$?
    [ "$status" -eq 0 ] || { cat compare.log >&2; fail "$pattern: tokenizers gives other ids"; }
    expect_grep ' 0 lines differ' compare.log
done
