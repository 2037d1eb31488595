#!/bin/bash
# Speed of crawl-ingest against FastWARC + Resiliparse and warcio + trafilatura
# on the same WARC files, then crawl-ingest's scaling with --threads and with
# --task I/N processes. Prints a markdown table.
#
# Per-core numbers divide by CPU time (user + system, from GNU time), so they
# hold on a machine that other jobs share. Wall time shows the scaling. Each
# row is the median of RUNS runs (default 5; trafilatura runs once), and the
# runs of the different pipelines are interleaved so that load changes hit
# them alike.
#
# Usage: tests/bench/crawl-ingest/speed.sh BUILD_DIR WARC...
# Needs: pip install fastwarc resiliparse warcio trafilatura lxml_html_clean
set -euo pipefail
build=$1; shift
runs=${RUNS:-5}
crawl_ingest="$build/tools/crawl-ingest/crawl-ingest"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/crawl-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

bytes=$(cat "$@" | wc -c)
"$crawl_ingest" -q "$@" -o "$work/out.jsonl" --stats "$work/stats.json"
records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_in"])' \
    "$work/stats.json")
pages=$(wc -l <"$work/out.jsonl")
echo "input: $# files, $bytes bytes compressed, $records records, $pages documents" >&2

# measure NAME COMMAND...: appends "cpu_seconds wall_seconds max_rss_kb" of one
# run to $work/NAME.
measure() {
    local name=$1; shift
    /usr/bin/time -f "%U %S %e %M" -o "$work/time" "$@" >/dev/null
    awk '{print $1 + $2, $3, $4}' "$work/time" >>"$work/$name"
}

tasks() { # both halves of the input as two processes at once
    "$crawl_ingest" -q --task 0/2 "$@" -o "$work/t0.jsonl" &
    "$crawl_ingest" -q --task 1/2 "$@" -o "$work/t1.jsonl"
    wait
}

for _ in $(seq "$runs"); do
    measure ours "$crawl_ingest" -q "$@" -o "$work/a.jsonl"
    measure fastwarc python3 "$here/peers.py" fastwarc "$@"
    measure threads "$crawl_ingest" -q --threads 2 "$@" -o "$work/b.jsonl"
    start=$(date +%s.%N)
    tasks "$@"
    echo "0 $(python3 -c "import time; print(time.time() - $start)") 0" >>"$work/tasks"
done
measure trafilatura python3 "$here/peers.py" trafilatura "$@"

python3 - "$work" "$records" "$bytes" <<'PY'
import statistics, sys
work, records, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def load(name):
    rows = [list(map(float, line.split())) for line in open(f"{work}/{name}")]
    return [statistics.median(column) for column in zip(*rows)]
print("| pipeline | CPU s | wall s | records/s per core | MB/s per core | records/s (wall) "
      "| peak RSS MB |")
print("|---|---|---|---|---|---|---|")
for name, label in [("ours", "crawl-ingest, 1 thread"),
                    ("threads", "crawl-ingest --threads 2"),
                    ("tasks", "crawl-ingest --task 0/2 + 1/2 (two processes)"),
                    ("fastwarc", "FastWARC + Resiliparse"),
                    ("trafilatura", "warcio + trafilatura")]:
    cpu, wall, rss = load(name)
    per_core = f"{records / cpu:.0f} | {size / 1e6 / cpu:.2f}" if cpu else "- | -"
    memory = f"{rss / 1024:.0f}" if rss else "-"
    cpu_text = f"{cpu:.2f}" if cpu else "-"
    print(f"| {label} | {cpu_text} | {wall:.2f} | {per_core} | {records / wall:.0f} | {memory} |")
PY
