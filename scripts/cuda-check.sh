#!/usr/bin/env bash
# Builds the CUDA kernels, compares every one with the CPU backend (meson
# suite `cuda`) and times both backends at GPT-2 small layer shapes. Run it on
# a machine with an NVIDIA GPU and the CUDA toolkit under /usr/local/cuda. The
# expected time is under 5 minutes on 16 cores (an estimate: most of it is
# compiling the .cu files, about 3 CPU minutes here).
#
# Usage: scripts/cuda-check.sh [BUILD_DIR]   (default /tmp/lmpipe-cuda-check)
#
# Exit status: 0 when the suite passes, 1 when it fails or skips (no GPU),
# 2 on a usage error.
set -euo pipefail
[ $# -le 1 ] || { sed -n '8p' "$0" | sed 's/^# //' >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-/tmp/lmpipe-cuda-check}

echo "== device"
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
else
    echo "nvidia-smi not found"
fi

echo "== build ($build, -Dcuda=enabled)"
if [ -d "$build/meson-info" ]; then
    meson configure "$build" -Dcuda=enabled > /dev/null
else
    meson setup "$build" "$root" -Dcuda=enabled -Dbuildtype=release > /dev/null
fi
start=$(date +%s)
ninja -C "$build" tests/unit/test_kernels_cuda tests/unit/test_kernels > /dev/null
echo "built in $(( $(date +%s) - start )) s"

echo "== cuda suite"
status=0
output=$(mktemp)
trap 'rm -f "$output"' EXIT
meson test -C "$build" --no-rebuild --suite cuda --print-errorlogs | tee "$output" || status=$?
result=$(grep -E 'kernels cuda' "$output" | grep -oE '(OK|FAIL|SKIP|TIMEOUT)' | head -n 1 || true)
checks=$(grep -E '^[0-9]+ checks, [0-9]+ failed' "$build/meson-logs/testlog.txt" | tail -n 1 || true)
if [ "$result" = SKIP ]; then
    echo "the cuda suite was skipped: no usable GPU" >&2
    exit 1
fi

echo "== benchmark (cpu: one call; cuda: mean of 10 calls)"
timeout 180 "$build/tests/unit/test_kernels_cuda" --bench || status=1

echo "== summary"
printf '| %-8s | %s |\n' "suite" "${result:-unknown}" "checks" "${checks:-none reported}"
exit $(( status == 0 ? 0 : 1 ))
