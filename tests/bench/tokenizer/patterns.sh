#!/usr/bin/env bash
# Speed per pre-tokenization pattern (gpt2, cl100k, o200k) on one thread:
# the split alone, then whole encoding with lmpipe's hand-written split,
# with the same pattern through PCRE2, and with tiktoken and Hugging Face
# tokenizers (same vocabulary and pattern). Each pattern gets its own
# vocabulary, trained by bpe-train on the documents. Results (MB of text
# per CPU-second) go to standard output.
#
# Usage: tests/bench/tokenizer/patterns.sh BUILD_DIR DOCS_JSONL WORK_DIR [VOCAB_SIZE]
#
#   BUILD_DIR   a meson build folder of lmpipe
#   DOCS_JSONL  documents (JSON Lines with "text"); the first 20 MB of text
#               are encoded
#   WORK_DIR    scratch folder, created; keep it outside the repository
#
# Needs `pip install tokenizers tiktoken` (peers only).
set -euo pipefail
[ $# -ge 3 ] || { sed -n '8,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build=$(cd "$1" && pwd)
docs=$2
work=$3
vocab=${4:-32000}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
ninja -C "$build" tools/bpe-train/bpe-train tests/unit/bench_tokenizer_encode \
    tests/unit/bench_tokenizer_split >/dev/null

python3 - "$docs" "$work/encode.txt" <<'PY'
import json, sys
size = 0
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w") as out:
    for line in f:
        if size >= 20_000_000:
            break
        text = json.loads(line)["text"]
        out.write(text + "\n")
        size += len(text.encode()) + 1
PY
echo "text: $(($(stat -c %s "$work/encode.txt") / 1000)) KB from $docs; $(nproc) cores;" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== the split alone"
"$build/tests/unit/bench_tokenizer_split" "$work/encode.txt"

for pattern in gpt2 cl100k o200k; do
    "$build/tools/bpe-train/bpe-train" -q --vocab-size "$vocab" --pattern "$pattern" --tiktoken \
        --force "$docs" -o "$work/$pattern"
    # The same tokenizer with its pattern wrapped in a group, which lmpipe
    # does not recognize as built-in, so it runs through PCRE2.
    python3 - "$work/$pattern/tokenizer.json" "$work/$pattern-pcre2.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1], encoding="utf-8"))
pre = config["pre_tokenizer"]
if pre["type"] == "Sequence":
    split = pre["pretokenizers"][0]
    split["pattern"]["Regex"] = "(?:" + split["pattern"]["Regex"] + ")"
else:
    pattern = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
    config["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(?:" + pattern + ")"}, "behavior": "Isolated",
         "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
         "use_regex": False}]}
json.dump(config, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
PY
    echo "== $pattern"
    printf 'lmpipe hand-written split: '
    "$build/tests/unit/bench_tokenizer_encode" "$work/$pattern/tokenizer.json" \
        "$work/encode.txt" 1 1 | tail -1
    printf 'lmpipe through PCRE2:      '
    "$build/tests/unit/bench_tokenizer_encode" "$work/$pattern-pcre2.json" \
        "$work/encode.txt" 1 1 | tail -1
    python3 "$here/peers.py" "$work/$pattern" "$work/encode.txt"
done
