#!/usr/bin/env bash
# Compares clean with datatrove's Gopher, C4 and FineWeb filters on the same
# documents, in documents per CPU second (per core).
#
#   tests/bench/clean/bench.sh [BUILD_DIR]
#
# The documents are the pages crawl-ingest extracts from the real WARC files
# kept beside the repository and from Debian's reference manual in English and
# Chinese (/usr/share/debian-reference), repeated to make the run long enough
# to time. Both sides run the FineWeb recipe's quality steps (Gopher
# repetition, Gopher quality, C4 without the terminal-punctuation line rule,
# FineWeb) with language identification off, because datatrove's fastText
# model is a download. datatrove is installed from PyPI into a virtual
# environment outside the repository (DATATROVE_VENV, default /tmp/datatrove-venv).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source_root=$(cd "$here/../../.." && pwd)
build=${1:-$source_root/build}
venv=${DATATROVE_VENV:-/tmp/datatrove-venv}
work=$(mktemp -d "${TMPDIR:-/tmp}/clean-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q datatrove regex nltk spacy
fi

# Corpus.
inputs=()
[ -d "$source_root/../shared/data/warc" ] && inputs+=("$source_root/../shared/data/warc")
[ -d /usr/share/debian-reference ] && inputs+=(/usr/share/debian-reference)
[ ${#inputs[@]} -gt 0 ] || { echo "no input pages found" >&2; exit 1; }
"$build/tools/crawl-ingest/crawl-ingest" -q "${inputs[@]}" -o "$work/base.jsonl"
for _ in $(seq 1 5); do cat "$work/base.jsonl"; done >"$work/peer.jsonl"
for _ in $(seq 1 100); do cat "$work/base.jsonl"; done >"$work/lmpipe.jsonl"
base_docs=$(wc -l <"$work/base.jsonl")

# cpu_seconds COMMAND...: runs the command and prints its wall and CPU seconds.
cpu_seconds() {
    python3 -c 'import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{time.perf_counter() - start:.3f} {usage.ru_utime + usage.ru_stime:.3f}")' "$@"
}

clean_args=(--config "$source_root/configs/clean/fineweb.yaml" --set language-id=false
            --set languages= --set language-threshold=0 --set pii= -q)
lmpipe_docs=$(wc -l <"$work/lmpipe.jsonl")
read -r wall1 cpu1 < <(cpu_seconds "$build/tools/clean/clean" "${clean_args[@]}" --threads 1 \
    "$work/lmpipe.jsonl" -o "$work/out1.jsonl")
read -r wall2 cpu2 < <(cpu_seconds "$build/tools/clean/clean" "${clean_args[@]}" --threads 2 \
    "$work/lmpipe.jsonl" -o "$work/out2.jsonl")
kept=$(wc -l <"$work/out1.jsonl")
read -r peer_docs peer_kept peer_wall peer_cpu < <("$venv/bin/python" "$here/datatrove_filters.py" \
    "$work/peer.jsonl")

python3 - "$base_docs" "$lmpipe_docs" "$kept" "$wall1" "$cpu1" "$wall2" "$cpu2" \
    "$peer_docs" "$peer_kept" "$peer_wall" "$peer_cpu" <<'PY'
import sys
base, docs, kept, wall1, cpu1, wall2, cpu2, pdocs, pkept, pwall, pcpu = sys.argv[1:]
docs, kept, pdocs, pkept, base = int(docs), int(kept), int(pdocs), int(pkept), int(base)
wall1, cpu1, wall2, cpu2, pwall, pcpu = map(float, (wall1, cpu1, wall2, cpu2, pwall, pcpu))
ours = docs / cpu1
peer = pdocs / pcpu
print(f"distinct documents: {base}")
print(f"| program | documents | kept | wall s | CPU s | documents/s per core |")
print(f"|---|---|---|---|---|---|")
print(f"| clean --threads 1 | {docs} | {kept} | {wall1:.2f} | {cpu1:.2f} | {ours:.0f} |")
print(f"| clean --threads 2 | {docs} | {kept} | {wall2:.2f} | {cpu2:.2f} | {docs / cpu2:.0f} |")
print(f"| datatrove 4 filters | {pdocs} | {pkept} | {pwall:.2f} | {pcpu:.2f} | {peer:.1f} |")
print(f"ratio clean / datatrove per core: {ours / peer:.0f}x")
print(f"clean --threads 2 wall speed-up over 1 thread: {wall1 / wall2:.2f}x")
PY
