#!/usr/bin/env bash
# fp32 against bf16 matrix products on pipelines/demo-small.yaml: runs the
# pipeline up to shard once, then its train stage's command line twice, with
# --set matmul-precision=fp32 and =bf16 (same seed, same shards), and prints
# the final validation loss and the CPU seconds (user + system, from
# /usr/bin/time -v) of each.
#
# Usage: tests/bench/train/precision.sh BUILD_DIR [WORK_DIR]
# BUILD_DIR is a meson build folder with the bf16 products built (libdnnl-dev).
# The small demo corpus is made in WORK_DIR (default /tmp/lmpipe-bench-precision)
# by scripts/make-demo-corpus.sh, which needs wget and the debian-reference packages.
set -euo pipefail

build=$(realpath "${1:?usage: $0 BUILD_DIR [WORK_DIR]}")
work=${2:-/tmp/lmpipe-bench-precision}
source_root=$(realpath "$(dirname "$0")/../../..")
lmpipe="$build/tools/lmpipe/lmpipe"
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

mkdir -p "$work"
cd "$work"
[ -f data/demo-corpus-small/manifest.tsv ] ||
    "$source_root/scripts/make-demo-corpus.sh" data/demo-corpus-small --small --no-install
for link in configs pipelines; do
    [ -e "$link" ] || ln -s "$source_root/$link" "$link"
done
export PATH="$build/tools/lmpipe:$PATH"
# --only runs one stage; its summary of the later stages' files fails, so the
# shard manifest is what tells whether the stages ran.
for stage in crawl-ingest clean dedup bpe-train shard; do
    "$lmpipe" run pipelines/demo-small.yaml --run-dir run --only "$stage" -q 2>/dev/null || true
done
[ -f run/shard/manifest.json ] || { echo "the stages up to shard failed; run lmpipe run pipelines/demo-small.yaml in $work" >&2; exit 1; }
train=$("$lmpipe" run pipelines/demo-small.yaml --run-dir run --dry-run | grep -m1 '^lmpipe train ')
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
echo "train command: $train"
for precision in fp32 bf16; do
    # The stage's own command line with another output folder and precision.
    # shellcheck disable=SC2086
    command=${train/ -o run\/train/ -o $work/train-$precision}
    command=${command/ --stats run\/train.stats.json/}
    /usr/bin/time -v -o "time-$precision.txt" \
        $command --force -q --set matmul-precision=$precision
    cpu=$(awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.1f", s }' \
        "time-$precision.txt")
    loss=$(grep -o '"final_val_loss": [0-9.]*' "train-$precision/metrics.json" | grep -o '[0-9.]*$')
    echo "$precision: final val loss $loss nats/token, CPU $cpu s"
done
