# The MFU in the step log stays in (0, 1] for each matmul precision this build
# has, single-process and with two data-parallel ranks, and the log names the
# rate it divides by: the measured products of the precision that runs.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/common.sh"

# check_mfu OUTPUT: every step's "mfu" in OUTPUT/train_log.jsonl is in (0, 1].
check_mfu() {
    local values
    values=$(grep -o '"mfu": [-0-9.e+]*' "$1/train_log.jsonl" | grep -o '[-0-9.e+]*$')
    [ -n "$values" ] || fail "no mfu in $1/train_log.jsonl"
    echo "$1: MFU from $(sort -g <<<"$values" | head -1) to $(sort -g <<<"$values" | tail -1)"
    awk '$1 <= 0 || $1 > 1 { bad = bad " " $1 } END { if (bad) { print "MFU outside (0, 1]:" bad; exit 1 } }' \
        <<<"$values" || fail "$1/train_log.jsonl has an MFU outside (0, 1]"
}

make_shards "$WORK/shards"
precisions=(fp32)
bf16_built && precisions+=(bf16)
# The demo model: its products are large enough for an MFU well above zero.
for precision in "${precisions[@]}"; do
    expect_exit 0 "$(tool train)" "$WORK/shards" -o "$WORK/$precision" \
        --model-config "$LMPIPE_SOURCE/pipelines/models/demo.yaml" --set steps=12 \
        --set batch-size=8 --set seq-len=64 --set matmul-precision=$precision
    expect_grep "MFU against [0-9.]+ GFLOP/s \(measured $precision products: [0-9]+ thread\(s\) x 1 rank" \
        "$WORK/err"
    check_mfu "$WORK/$precision"
done

# Two ranks: the log counts the tokens of both, so the peak covers both.
expect_exit 0 "$(tool train)" "$WORK/shards" -o "$WORK/ranks" --nproc 2 --threads 2 \
    --model-config "$LMPIPE_SOURCE/pipelines/models/demo.yaml" --set steps=12 \
    --set batch-size=4 --set seq-len=64 --set matmul-precision=fp32
expect_grep 'MFU against [0-9.]+ GFLOP/s \(measured fp32 products: 1 thread\(s\) x 2 rank' "$WORK/err"
check_mfu "$WORK/ranks"

# --peak-gflops replaces the measurement, and the MFU follows it.
expect_exit 0 "$(tool train)" "$WORK/shards" -o "$WORK/given" --peak-gflops 1000000 \
    --model-config "$LMPIPE_SOURCE/pipelines/models/demo.yaml" --set steps=2 \
    --set batch-size=8 --set seq-len=64 --set matmul-precision=fp32
expect_grep 'MFU against 1000000.0 GFLOP/s \(--peak-gflops\)' "$WORK/err"
# A few hundred GFLOP/s at most on this model, so every MFU stays below 0.001.
python3 - "$WORK/given/train_log.jsonl" <<'PY' || fail "an MFU against a peak of 1 PFLOP/s was not below 0.001"
import json, sys
values = [json.loads(line)["mfu"] for line in open(sys.argv[1]) if '"mfu"' in line]
sys.exit(0 if values and all(0 <= v < 0.001 for v in values) else 1)
PY
[ "${#precisions[@]}" -eq 2 ] || skip "this build has no bf16 products; the MFU checked for fp32 only"
