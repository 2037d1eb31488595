#!/bin/bash
# Builds one libFuzzer target with clang (AddressSanitizer and UBSan) and runs
# it for a few seconds on its seed corpus. Usage:
#   run-fuzz.sh TARGET [SECONDS]     TARGET is warc or html_text
# Environment: LMPIPE_SOURCE (repository root), LMPIPE_BUILD (where the binary
# goes). Exits 77 (skipped) when clang or its libFuzzer runtime is missing.
# For a long run: run-fuzz.sh warc 3600, or build once and call the binary.
set -u
target=$1
seconds=${2:-5}
source_root=${LMPIPE_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
build_root=${LMPIPE_BUILD:-/tmp/lmpipe-fuzz}
out="$build_root/fuzz"
mkdir -p "$out"

command -v clang >/dev/null || { echo "SKIP: clang not found (apt-get install clang)"; exit 77; }
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$out/probe.c"
if ! clang -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" 2>/dev/null; then
    echo "SKIP: clang cannot link libFuzzer (apt-get install libclang-rt-14-dev)"
    exit 77
fi

case $target in
warc)
    sources="common/warc.c common/log.c"
    packages="zlib libzstd"
    ;;
html_text)
    sources="common/charset.c common/html_text.c"
    packages="gumbo uchardet"
    ;;
*)
    echo "unknown fuzz target '$target'; use warc or html_text" >&2
    exit 2
    ;;
esac

binary="$out/fuzz_$target"
# shellcheck disable=SC2086
clang -g -O1 -std=c17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I"$source_root/common" \
    "$source_root/tests/fuzz/fuzz_$target.c" \
    $(for s in $sources; do echo "$source_root/$s"; done) \
    $(pkg-config --cflags --libs $packages) -o "$binary" || exit 1

# New inputs go to a scratch folder, so the seed corpus in the repository
# stays as committed.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
seeds="$source_root/tests/fuzz/corpus/${target%%_*}"
"$binary" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$scratch" "$seeds"
