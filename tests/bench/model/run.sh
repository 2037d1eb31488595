#!/bin/bash
# Step time and peak memory of GPT-2 124M at batch 4 x 64 tokens: lmpipe's
# train against PyTorch on CPU (tests/bench/model/bench_torch.py, needs
# `pip install torch transformers`), plus the demo model. Prints JSON lines
# with the load average next to every timing, because shared machines skew
# them. Usage: tests/bench/model/run.sh BUILD_FOLDER [THREADS] [STEPS]
set -eu
build=$1
threads=${2:-2}
steps=${3:-5}
source_root=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

load() { cut -d' ' -f1 /proc/loadavg; }
# peak_run CMD...: runs CMD and prints its peak resident memory in MiB.
peak_run() {
    python3 -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)' "$@"
}

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
    mfu=$(grep '"mfu"' "$work/run-$model/train_log.jsonl" | tail -1 | grep -o '"mfu": [0-9.]*' | grep -o '[0-9.]*$')
    printf '{"peer": "lmpipe", "model": "%s", "batch": "%dx%d", "threads": %d, "ms_per_step": %s, "gflops_per_second": %s, "mfu_last_step": %s, "peak_mib": %s, "load_before": %s, "load_after": %s}\n' \
        "$model" "$batch" "$seq" "$threads" "$ms" "$gflops" "$mfu" "$peak" "$before" "$(load)"
done

if python3 -c 'import torch, transformers' 2>/dev/null; then
    before=$(load)
    result=$(python3 "$source_root/tests/bench/model/bench_torch.py" --steps "$steps" --threads "$threads")
    echo "${result%\}}, \"model\": \"gpt2-124m\", \"batch\": \"4x64\", \"load_before\": $before, \"load_after\": $(load)}"
else
    echo '{"peer": "pytorch", "skipped": "pip install torch transformers"}'
fi
