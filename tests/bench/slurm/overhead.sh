#!/bin/bash
# What the Slurm executor adds to a pipeline run: the same four-stage pipeline
# (clean in three tasks, dedup, bpe-train, shard) with --executor local and
# --executor slurm on a one-node cluster that tests/tools/lmpipe/slurm-cluster.sh
# starts in a temporary folder. Prints wall seconds and CPU seconds (user +
# system, from /usr/bin/time) of lmpipe and the processes it starts: the
# stages themselves under the local executor, but only --check, sbatch and
# squeue under the Slurm executor, whose stages run under slurmd. Each number
# is the median of ROUNDS runs (default 3).
# Needs root, slurm-wlm, munge and a build folder:
#   sudo tests/bench/slurm/overhead.sh BUILD_DIR [ROUNDS]
set -euo pipefail

build=$(cd "${1:?usage: overhead.sh BUILD_DIR [ROUNDS]}" && pwd)
rounds=${2:-3}
source_dir=$(cd "$(dirname "$0")/../../.." && pwd)
lmpipe="$build/tools/lmpipe/lmpipe"
. "$source_dir/tests/tools/lmpipe/slurm-cluster.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/lmpipe-slurm-bench.XXXXXX")
trap 'slurm_cluster_stop "$work/cluster"; rm -rf "$work"' EXIT
slurm_cluster_start "$work/cluster" $$
cd "$work"

mkdir docs
awk 'BEGIN {
    srand(3)
    split("the package system release stable kernel module driver network file user " \
          "mirror archive update security build source library shell process", en, " ")
    split("系统 软件 发行 版本 稳定 内核 驱动 网络 文件 用户 镜像 更新 安全 构建 源码", zh, " ")
    for (i = 1; i <= 3000; i++) {
        text = ""
        for (j = 0; j < 30 + int(rand() * 40); j++)
            text = text (i % 3 == 0 ? zh[1 + int(rand() * 15)] : en[1 + int(rand() * 20)] " ")
        printf "{\"id\":\"d%d\",\"text\":\"%s\",\"source\":\"synthetic\"}\n", i, text \
            > sprintf("docs/part-%d.jsonl", i % 3)
    }
}'
cat >p.yaml <<'YAML'
stages:
  - {name: clean, program: clean, inputs: [docs], settings: {min-chars: 20}, tasks: 3,
     resources: {cpus: 1}}
  - {name: dedup, program: dedup, inputs: [clean]}
  - {name: bpe-train, program: bpe-train, inputs: [dedup], settings: {vocab-size: 300}}
  - name: shard
    program: shard
    inputs: [dedup]
    args: [-t, '${bpe-train}/tokenizer.json']
YAML

# measure EXECUTOR: prints "wall cpu" of one fresh run.
measure() {
    rm -rf run
    /usr/bin/time -f '%e %U %S' -o time.txt "$lmpipe" run p.yaml --run-dir run --executor "$1" \
        --slurm-poll 0.5 >/dev/null 2>run.log ||
        { tail -n 20 run.log >&2; echo "the $1 run failed" >&2; exit 1; }
    awk '{printf "%.2f %.2f\n", $1, $2 + $3}' time.txt
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "executor  wall_s  lmpipe_cpu_s  (median of $rounds runs, $(nproc) CPUs)"
for executor in local slurm; do
    : >results.txt
    for _ in $(seq 1 "$rounds"); do
        measure "$executor" >>results.txt
    done
    if [ "$executor" = local ]; then
        # The local executor's children are the stages, so /usr/bin/time counts them too.
        label="local (stages included)"
    else
        label="slurm (submit and poll only)"
    fi
    printf '%-30s %6s  %6s\n' "$label" "$(cut -d' ' -f1 results.txt | median)" \
        "$(cut -d' ' -f2 results.txt | median)"
done
