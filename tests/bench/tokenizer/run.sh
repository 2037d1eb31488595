#!/usr/bin/env bash
# Tokenizer benchmarks against Hugging Face tokenizers and tiktoken: training
# time, peak memory and compression for a 32k vocabulary, and encoding speed
# per thread and with all threads. Results go to standard output; copy them
# into docs/benchmarks.md.
#
# Usage: tests/bench/tokenizer/run.sh BUILD_DIR DOCS_JSONL WORK_DIR [VOCAB_SIZE]
#
#   BUILD_DIR   a meson build folder of lmpipe (bpe-train, tokenize and
#               tests/unit/bench_tokenizer_encode are built there)
#   DOCS_JSONL  documents (JSON Lines with "text"); one in 20 is held out
#               (by position, at most 20 MB) for compression; encoding speed
#               is measured on the first 20 MB of all the text
#   WORK_DIR    scratch folder, created; keep it outside the repository
#
# Needs `pip install tokenizers tiktoken` (peers only) and /usr/bin/time.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '6,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build=$(cd "$1" && pwd)
docs=$2
work=$3
vocab=${4:-32000}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
ninja -C "$build" tools/bpe-train/bpe-train tools/tokenize/tokenize \
    tests/unit/bench_tokenizer_encode >/dev/null

python3 - "$docs" "$work" <<'PY'
import json, sys
docs, work = sys.argv[1], sys.argv[2]
held = encode = 0
with open(docs, encoding="utf-8") as f, open(f"{work}/train.jsonl", "w") as train, \
        open(f"{work}/heldout.txt", "w") as heldout, open(f"{work}/encode.txt", "w") as sample:
    for number, line in enumerate(f):
        if encode < 20_000_000:
            text = json.loads(line)["text"]
            sample.write(text + "\n")
            encode += len(text.encode()) + 1
        if number % 20 == 19 and held < 20_000_000:
            text = json.loads(line)["text"]
            heldout.write(text + "\n")
            held += len(text.encode()) + 1
        else:
            train.write(line)
PY
train_bytes=$(python3 -c "import json, sys
print(sum(len(json.loads(l)['text'].encode()) for l in open(sys.argv[1])))" "$work/train.jsonl")
echo "corpus: $docs; training text $((train_bytes / 1000000)) MB," \
    "held out $(($(stat -c %s "$work/heldout.txt") / 1000000)) MB; $(nproc) cores;" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

measure() { # LABEL COMMAND...: prints wall and CPU seconds and the peak resident MB
    local label=$1
    shift
    /usr/bin/time -f "%e %U %S %M" -o "$work/time.txt" "$@" >"$work/${label%% *}.log" 2>&1
    read -r wall user system kb <"$work/time.txt"
    echo "$label: ${wall} s wall, $(echo "$user + $system" | bc) s CPU," \
        "$((kb / 1024)) MB peak resident"
}

measure "lmpipe bpe-train --threads $(nproc)" "$build/tools/bpe-train/bpe-train" -q \
    --vocab-size "$vocab" --threads "$(nproc)" --tiktoken --force "$work/train.jsonl" \
    -o "$work/lmpipe"
measure "tokenizers BpeTrainer ($(nproc) threads)" python3 "$here/hf_train.py" \
    "$work/train.jsonl" "$vocab" "$work/hf.json"

for name in lmpipe/tokenizer.json hf.json; do
    "$build/tools/tokenize/tokenize" -q -t "$work/$name" --text --threads "$(nproc)" \
        "$work/heldout.txt" -o "$work/ids.txt"
    tokens=$(wc -w <"$work/ids.txt")
    bytes=$(stat -c %s "$work/heldout.txt")
    echo "compression of $name: $(echo "scale=4; $bytes / $tokens" | bc) bytes per token" \
        "($tokens tokens)"
done

"$build/tests/unit/bench_tokenizer_encode" "$work/lmpipe/tokenizer.json" "$work/encode.txt" 1 2 \
    "$(nproc)" 1
python3 "$here/peers.py" "$work/lmpipe" "$work/encode.txt"
