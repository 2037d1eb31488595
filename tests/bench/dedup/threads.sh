#!/bin/bash
# Wall and CPU time of dedup with 1 and 2 threads, and a check that both
# thread counts write the same bytes.
#
#   tests/bench/dedup/threads.sh BUILD_DIR CORPUS.jsonl [WORK] [REPEAT]
#
# For each of the signatures phase, the one-process minhash run and the
# substring method (chunked), runs 1 and 2 threads REPEAT times (default 3),
# keeps the run with the least wall time, and prints a Markdown table. The
# speedup is wall time over wall time: run it on an idle machine.
set -euo pipefail
build=$1
corpus=$2
work=${3:-${TMPDIR:-/tmp}/dedup-threads}
repeat=${4:-3}
dedup="$build/tools/dedup/dedup"
rm -rf "$work"
mkdir -p "$work"

# best NAME THREADS COMMAND...: runs COMMAND (with THREADS in place of @T and
# the run folder in place of @W) REPEAT times; prints "wall cpu" of the
# fastest run and leaves its output in $work/NAME-THREADS.
best() {
    local name=$1 threads=$2; shift 2
    local best_wall="" best_cpu=""
    for _ in $(seq "$repeat"); do
        local out="$work/$name-$threads"
        rm -rf "$out"
        mkdir -p "$out"
        local args=()
        for arg in "$@"; do arg=${arg//@T/$threads}; args+=("${arg//@W/$out}"); done
        /usr/bin/time -f '%e %U %S' -o "$work/time" "${args[@]}" >/dev/null 2>"$work/err" \
            || { cat "$work/err" >&2; exit 1; }
        read -r wall user system <"$work/time"
        local cpu
        cpu=$(echo "$user + $system" | bc)
        if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc)" = 1 ]; then
            best_wall=$wall
            best_cpu=$cpu
        fi
    done
    echo "$best_wall $best_cpu"
}

echo "$(wc -l <"$corpus") documents, $(($(stat -c %s "$corpus") / 1000000)) MB; best of $repeat runs"
echo
echo "| run | wall s, 1 thread | wall s, 2 threads | speedup | CPU s, 1 thread | CPU s, 2 threads |"
echo "|---|---|---|---|---|---|"
row() {
    local label=$1 name=$2; shift 2
    read -r wall1 cpu1 < <(best "$name" 1 "$@")
    read -r wall2 cpu2 < <(best "$name" 2 "$@")
    echo "| $label | $wall1 | $wall2 | $(echo "scale=2; $wall1 / $wall2" | bc)x | $cpu1 | $cpu2 |"
}
row "signatures phase" sig "$dedup" -q --method minhash --phase signatures --work-dir @W/w \
    --threads @T "$corpus"
row "one-process minhash" one "$dedup" -q --method minhash --threads @T "$corpus" \
    -o @W/out.jsonl --report @W/report.jsonl
row "substring, 4 MB chunks" sub "$dedup" -q --method substring --substring-chunk-bytes 4000000 \
    --threads @T "$corpus" -o @W/out.jsonl

# Same bytes for both thread counts.
for band in "$work"/sig-1/w/signatures/band-*; do
    cmp -s "$band/task-00000-of-00001.runs" \
        "$work/sig-2/w/signatures/$(basename "$band")/task-00000-of-00001.runs" \
        || { echo "signature files differ between 1 and 2 threads" >&2; exit 1; }
done
for name in one sub; do
    cmp -s "$work/$name-1/out.jsonl" "$work/$name-2/out.jsonl" \
        || { echo "$name output differs between 1 and 2 threads" >&2; exit 1; }
done
cmp -s "$work/one-1/report.jsonl" "$work/one-2/report.jsonl" \
    || { echo "report differs between 1 and 2 threads" >&2; exit 1; }
echo
echo "Output of 1 and 2 threads identical."
