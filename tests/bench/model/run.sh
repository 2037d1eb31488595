#!/bin/bash
# Training-step benchmarks of the model code, printed as JSON lines with the
# load average next to every timing, because shared machines skew wall times:
#   1. bench_model_step: wall and CPU ms per step, the sgemm rate at the
#      model's own product shapes and the model FLOP utilization against it,
#      for GPT-2 124M at batch 4 x 64 and the demo model at 16 x 128, in fp32
#      and, in a build with oneDNN, bf16;
#   2. bench_model_bf16: bf16 against fp32 products at the 124M shapes;
#   3. lmpipe's train on shards for the same two models (whole program);
#   4. PyTorch (bench_torch.py, needs `pip install torch transformers`);
#   5. llm.c's train_gpt2.c when LLMC_DIR names a folder prepared as
#      docs/benchmarks.md describes (a binary train_bench that prints
#      "took" and "cpu_ms" lines per step).
# Usage: tests/bench/model/run.sh BUILD_FOLDER [THREADS] [STEPS]
set -eu
build=$1
threads=${2:-2}
steps=${3:-5}
source_root=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=$threads

load() { cut -d' ' -f1 /proc/loadavg; }
# with_load CMD...: runs CMD and appends the load before and after to each JSON line.
with_load() {
    local before
    before=$(load)
    "$@" | while IFS= read -r line; do
        case $line in
        \{*\}) echo "${line%\}}, \"load_before\": $before, \"load_after\": $(load)}" ;;
        *) echo "$line" ;;
        esac
    done
}
# peak_run CMD...: runs CMD and prints its peak resident memory in MiB.
peak_run() {
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)' "$@"
}

ninja -C "$build" tests/unit/bench_model_step >/dev/null
step="$build/tests/unit/bench_model_step"
precisions=fp32
if "$step" "$source_root/configs/models/tiny.yaml" 1 8 1 1 256 bf16 >/dev/null 2>&1; then
    precisions="fp32 bf16"
fi
for precision in $precisions; do
    with_load "$step" "$source_root/configs/models/gpt2-124m.yaml" 4 64 "$steps" "$threads" 0 \
        "$precision"
    with_load "$step" "$source_root/pipelines/models/demo.yaml" 16 128 "$steps" "$threads" 4096 \
        "$precision"
done
if ninja -C "$build" tests/unit/bench_model_bf16 >/dev/null 2>&1; then
    with_load "$build/tests/unit/bench_model_bf16" 256 768 50304 "$threads"
else
    echo '{"peer": "onednn bf16", "skipped": "apt-get install libdnnl-dev, then reconfigure"}'
fi

# Test shards: the vocabulary of the model config (50257) covers the tokens.
for i in $(seq 1 400); do
    printf '{"id":"d%d","text":"Debian packages are built from source, story %d. 软件包从源代码构建。","source":"b"}\n' "$i" "$i"
done >"$work/docs.jsonl"
"$build/tools/shard/shard" -q -t "$source_root/tests/fixtures/tokenizer/tokenizer.json" \
    "$work/docs.jsonl" -o "$work/shards" --set val-fraction=0.1

for model in gpt2-124m demo; do
    batch=4 seq=64
    [ "$model" = demo ] && batch=16 seq=128
    before=$(load)
    peak=$(peak_run "$build/tools/train/train" "$work/shards" \
        --model-config "$source_root/configs/models/$model.yaml" -o "$work/run-$model" \
        --set steps="$steps" --set batch-size=$batch --set seq-len=$seq --set warmup-steps=1 \
        --set eval-every=0 --set eval-batches=1 --set checkpoint-every=0 --threads "$threads")
    ms=$(grep -o '"ms_per_step": [0-9.]*' "$work/run-$model/metrics.json" | grep -o '[0-9.]*$')
    gflops=$(grep -o '"gflops_per_second": [0-9.]*' "$work/run-$model/metrics.json" | grep -o '[0-9.]*$')
    printf '{"peer": "lmpipe train", "model": "%s", "batch": "%dx%d", "threads": %d, "ms_per_step": %s, "gflops_per_second": %s, "peak_mib": %s, "load_before": %s, "load_after": %s}\n' \
        "$model" "$batch" "$seq" "$threads" "$ms" "$gflops" "$peak" "$before" "$(load)"
done

if python3 -c 'import torch, transformers' 2>/dev/null; then
    result=$(with_load python3 "$source_root/tests/bench/model/bench_torch.py" --steps "$steps" \
        --threads "$threads")
    echo "${result%\}}, \"model\": \"gpt2-124m\", \"batch\": \"4x64\"}"
else
    echo '{"peer": "pytorch", "skipped": "pip install torch transformers"}'
fi

if [ -n "${LLMC_DIR:-}" ] && [ -x "$LLMC_DIR/train_bench" ]; then
    before=$(load)
    (cd "$LLMC_DIR" && ./train_bench >"$work/llmc.out")
    # Step 0 warms up; the mean is over the later steps.
    python3 - "$work/llmc.out" "$threads" "$before" "$(load)" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
wall = [float(x) for x in re.findall(r"took ([0-9.]+) ms", text)][1:]
cpu = [float(x) for x in re.findall(r"cpu_ms ([0-9.]+)", text)][1:]
print(json.dumps({"peer": "llm.c", "model": "gpt2-124m", "batch": "4x64",
                  "threads": int(sys.argv[2]), "ms_per_step": round(sum(wall) / len(wall), 1),
                  "cpu_ms_per_step": round(sum(cpu) / len(cpu), 1) if cpu else None,
                  "load_before": float(sys.argv[3]), "load_after": float(sys.argv[4])}))
PY
else
    echo '{"peer": "llm.c", "skipped": "set LLMC_DIR (see docs/benchmarks.md)"}'
fi
