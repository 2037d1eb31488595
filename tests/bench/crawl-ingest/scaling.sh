#!/bin/bash
# Scaling of crawl-ingest: records per second (wall clock) with --threads 1,
# --threads 2, and --task 0/2 + --task 1/2 run as two processes at once, on
# WARC files and on a folder of HTML files made from their pages. Checks that
# every run writes the documents of --threads 1. Prints a markdown table; each
# number is the median of RUNS runs (default 3). Run it on an idle machine:
# wall time on a loaded one shows the load, not the scaling.
#
# Usage: tests/bench/crawl-ingest/scaling.sh BUILD_DIR WARC...
set -euo pipefail
build=$1; shift
runs=${RUNS:-3}
crawl_ingest="$build/tools/crawl-ingest/crawl-ingest"
work=$(mktemp -d "${TMPDIR:-/tmp}/crawl-scaling.XXXXXX")
trap 'rm -rf "$work"' EXIT

# An HTML folder: the text of the documents of the WARC files, one page each.
"$crawl_ingest" -q "$@" -o "$work/pages.jsonl"
python3 - "$work/pages.jsonl" "$work/html" <<'PY'
import html, json, os, sys
os.makedirs(sys.argv[2])
for n, line in enumerate(open(sys.argv[1])):
    doc = json.loads(line)
    paragraphs = "".join(f"<p>{html.escape(p)}</p>\n" for p in doc["text"].split("\n"))
    with open(f"{sys.argv[2]}/page-{n:06d}.html", "w") as out:
        out.write(f"<html><head><title>{n}</title></head><body>{paragraphs}</body></html>")
PY

records_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records_in"])' "$1"; }

# seconds COMMAND...: wall seconds of one run.
seconds() {
    local start
    start=$(date +%s.%N)
    "$@"
    python3 -c "import time; print(time.time() - $start)"
}

two_tasks() {
    "$crawl_ingest" -q --task 0/2 "$@" -o "$work/t0.jsonl" &
    "$crawl_ingest" -q --task 1/2 "$@" -o "$work/t1.jsonl"
    wait
}

echo "| input | records | --threads 1 records/s | --threads 2 records/s | 2 tasks records/s |"
echo "|---|---|---|---|---|"
for input in warc html; do
    if [ "$input" = warc ]; then args=("$@"); else args=("$work/html"); fi
    "$crawl_ingest" -q "${args[@]}" -o "$work/one.jsonl" --stats "$work/stats.json"
    records=$(records_of "$work/stats.json")
    declare -A times=()
    for _ in $(seq "$runs"); do
        times[one]+="$(seconds "$crawl_ingest" -q "${args[@]}" -o "$work/a.jsonl") "
        times[two]+="$(seconds "$crawl_ingest" -q --threads 2 "${args[@]}" -o "$work/b.jsonl") "
        times[tasks]+="$(seconds two_tasks "${args[@]}") "
        cmp -s "$work/a.jsonl" "$work/one.jsonl" || { echo "threads 1 output changed" >&2; exit 1; }
        cmp -s "$work/b.jsonl" "$work/one.jsonl" || { echo "threads 2 output differs" >&2; exit 1; }
    done
    python3 - "$input" "$records" "${times[one]}" "${times[two]}" "${times[tasks]}" <<'PY'
import statistics, sys
name, records = sys.argv[1], int(sys.argv[2])
rates = [records / statistics.median(map(float, t.split())) for t in sys.argv[3:]]
label = "WARC files" if name == "warc" else "HTML folder"
print(f"| {label} | {records} | " + " | ".join(f"{r:.0f}" for r in rates) + " |")
PY
done
