#!/bin/bash
# Memory and disk per document of each dedup phase on synthetic documents.
#
#   tests/bench/dedup/scale.sh BUILD_DIR [DOCUMENTS] [WORK]
#
# Writes DOCUMENTS (default 1,000,000) synthetic documents in 8 files. Runs
# the cluster phases (signatures as 4 tasks, buckets as 2, cluster, filter
# as 4) and the one-process run. Prints a Markdown table with wall time, peak
# memory (max RSS) and the size of what each phase writes, per document.
set -euo pipefail
build=$1
documents=${2:-1000000}
work=${3:-${TMPDIR:-/tmp}/dedup-scale}
dedup="$build/tools/dedup/dedup"
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work/corpus"
python3 "$here/make_synthetic.py" "$work/corpus" "$documents" 8
corpus_bytes=$(du -sb "$work/corpus" | cut -f1)

echo "$documents documents, $((corpus_bytes / 1000000)) MB of JSON Lines in 8 files"
echo
echo "| phase | tasks | wall s (all tasks) | max RSS MiB (largest task) | RSS per document of a task | disk written | disk per document |"
echo "|---|---|---|---|---|---|---|"

# measure NAME TASKS DOCUMENTS_PER_TASK OUTPUT_PATH COMMAND...: runs COMMAND
# once per task with TASK replaced by I/N, and prints one table row. Memory
# per document divides the largest task's peak by DOCUMENTS_PER_TASK, disk
# per document divides all bytes written by the documents of the whole run.
measure() {
    local name=$1 tasks=$2 per_task=$3 output=$4; shift 4
    local start end peak=0 rss
    start=$(date +%s.%N)
    for ((i = 0; i < tasks; i++)); do
        local args=("${@//TASK/$i/$tasks}")
        /usr/bin/time -f %M -o "$work/rss" "${args[@]}"
        rss=$(cat "$work/rss")
        ((rss > peak)) && peak=$rss
    done
    end=$(date +%s.%N)
    local bytes=0
    [ -e "$output" ] && bytes=$(du -sb "$output" | cut -f1)
    awk -v n="$name" -v t="$tasks" -v s="$start" -v e="$end" -v r="$peak" -v b="$bytes" \
        -v d="$documents" -v p="$per_task" 'BEGIN {
        printf "| %s | %d | %.1f | %.0f | %.0f B | %.0f MB | %.1f B |\n",
        n, t, e - s, r / 1024, r * 1024 / p, b / 1e6, b / d }'
}

W="$work/w"
measure signatures 4 $((documents / 4)) "$W/signatures" "$dedup" -q --method minhash --phase signatures \
    --work-dir "$W" --task TASK "$work/corpus"
measure buckets 2 "$documents" "$W/pairs" "$dedup" -q --method minhash --phase buckets --work-dir "$W" \
    --task TASK
measure cluster 1 "$documents" "$W/clusters.runs" "$dedup" -q --method minhash --phase cluster \
    --work-dir "$W" --stats "$work/cluster-stats.json"
measure filter 4 $((documents / 4)) "$work/filtered" "$dedup" -q --method minhash --phase filter --work-dir "$W" \
    --task TASK "$work/corpus" -o "$work/filtered"
measure "one process" 1 "$documents" "$work/one.jsonl.zst" "$dedup" -q --method minhash "$work/corpus" \
    -o "$work/one.jsonl.zst" --stats "$work/one-stats.json"
echo
grep -o '"near_duplicate": [0-9]*' "$work/one-stats.json" | sed 's/^/one process: /'
grep -o '"documents_to_drop": [0-9]*' "$work/cluster-stats.json" | sed 's/^/cluster phases: /'
