#!/usr/bin/env bash
# Shard benchmarks: size against raw uint16 tokens, loader tokens/s on one
# core against a raw uint16 file read through mmap (the llm.c format), and
# tokenization speed of `shard` against the encoder alone (`tokenize`).
# Results go to standard output; copy them into docs/benchmarks.md.
#
# Usage: tests/bench/shard/run.sh BUILD_DIR DOCS TOKENIZER WORK_DIR [SEQ_LEN]
#
#   BUILD_DIR   a meson build folder of lmpipe
#   DOCS        documents: a file or a finished folder (e.g. a run's dedup/)
#   TOKENIZER   tokenizer.json
#   WORK_DIR    scratch folder, created; keep it outside the repository
set -euo pipefail
[ $# -ge 4 ] || { sed -n '7,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build=$(cd "$1" && pwd)
docs=$2
tokenizer=$3
work=$4
seq_len=${5:-1024}
mkdir -p "$work"
ninja -C "$build" tools/shard/shard tools/tokenize/tokenize tests/unit/bench_shard >/dev/null

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
chars=$(if [ -d "$docs" ]; then cat "$docs"/*.jsonl*; else cat "$docs"; fi |
    { zstdcat -f 2>/dev/null || cat; } | python3 -c '
import json, sys
print(sum(len(json.loads(line)["text"]) for line in sys.stdin if line.strip()))')
echo "documents: $docs ($chars characters)"

# Tokenization: the encoder alone, then the whole shard program, 1 and 2 threads.
for threads in 1 2; do
    /usr/bin/time -f "%e" -o "$work/time" "$build/tools/tokenize/tokenize" -t "$tokenizer" \
        "$docs" -o "$work/tokens.txt" --threads "$threads" -q
    encode=$(cat "$work/time")
    /usr/bin/time -f "%e" -o "$work/time" "$build/tools/shard/shard" -t "$tokenizer" "$docs" \
        -o "$work/shards" --threads "$threads" --force -q
    shard=$(cat "$work/time")
    echo "threads $threads: tokenize ${encode} s, shard ${shard} s"
done

"$build/tests/unit/bench_shard" "$work/shards" "$work" "$seq_len" 8
