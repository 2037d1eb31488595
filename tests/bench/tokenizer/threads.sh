#!/usr/bin/env bash
# Thread scaling of encoding: MB of text per second (wall clock) with 1 and
# 2 threads, for tokenizer_encode_batch (tests/unit/bench_tokenizer_encode)
# and for the whole `shard` program (read, encode, compress, write). Run it
# on an otherwise idle machine: with other work on the cores, wall-clock
# rates measure waiting for a core. Results go to standard output.
#
# Usage: tests/bench/tokenizer/threads.sh BUILD_DIR DOCS_JSONL TOKENIZER_JSON WORK_DIR [THREADS...]
#
#   BUILD_DIR       a meson build folder of lmpipe
#   DOCS_JSONL      documents (JSON Lines with "text")
#   TOKENIZER_JSON  the tokenizer to encode with (e.g. a bpe-train output)
#   WORK_DIR        scratch folder, created; keep it outside the repository
#   THREADS         thread counts to measure (default: 1 2)
set -euo pipefail
[ $# -ge 4 ] || { sed -n '8,15p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
build=$(cd "$1" && pwd)
docs=$2
tokenizer=$3
work=$4
shift 4
threads=("$@")
[ ${#threads[@]} -gt 0 ] || threads=(1 2)
mkdir -p "$work"
ninja -C "$build" tools/shard/shard tests/unit/bench_tokenizer_encode >/dev/null

python3 - "$docs" "$work/text.txt" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as f, open(sys.argv[2], "w") as out:
    for line in f:
        out.write(json.loads(line)["text"] + "\n")
PY
bytes=$(stat -c %s "$work/text.txt")
echo "text: $((bytes / 1000)) KB from $docs; $(nproc) cores;" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');" \
    "load before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== tokenizer_encode_batch (16 KB documents; the first run warms the caches)"
"$build/tests/unit/bench_tokenizer_encode" "$tokenizer" "$work/text.txt" 1 "${threads[@]}" |
    tail -n +2

echo "== shard (documents mode, default settings)"
for n in "${threads[@]}"; do
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$build/tools/shard/shard" -q -t "$tokenizer" \
        "$docs" -o "$work/shards" --threads "$n" --force
    read -r wall user system <"$work/time"
    echo "threads $n: $(echo "scale=1; $bytes / 1000000 / $wall" | bc) MB/s wall," \
        "$(echo "scale=1; $bytes / 1000000 / ($user + $system)" | bc) MB/s per CPU-second"
done
