#!/bin/bash
# Builds the shard reader fuzz target with clang and libFuzzer (AddressSanitizer
# and UBSan) and runs it for a few seconds on seeds written by the replay
# program. Usage: tests/fuzz/shard/run.sh [SECONDS]
# Environment: LMPIPE_SOURCE (repository root), LMPIPE_BUILD (where the
# binary goes). Exits 77 (skipped) when clang or its libFuzzer runtime is
# missing.
set -u
seconds=${1:-10}
source_root=${LMPIPE_SOURCE:-$(cd "$(dirname "$0")/../../.." && pwd)}
out=${LMPIPE_BUILD:-/tmp/lmpipe-fuzz}/fuzz-shard
mkdir -p "$out"
command -v clang >/dev/null || { echo "SKIP: clang not found (apt-get install clang)"; exit 77; }
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$out/probe.c"
clang -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" 2>/dev/null ||
    { echo "SKIP: clang cannot link libFuzzer (apt-get install libclang-rt-14-dev)"; exit 77; }

flags=(-g -O1 -std=c17 -D_GNU_SOURCE -I"$source_root/common")
# shellcheck disable=SC2046
clang "${flags[@]}" -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    "$source_root/tests/fuzz/shard/fuzz_shard_reader.c" "$source_root/common/shard.c" \
    "$source_root/common/log.c" $(pkg-config --cflags --libs libzstd libxxhash) \
    -o "$out/fuzz_shard_reader" || exit 1

# Seeds: the three shard kinds, written by a build of the writer.
seeds=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-shard-seeds.XXXXXX")
scratch=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-shard.XXXXXX")
trap 'rm -rf "$seeds" "$scratch"' EXIT
cat >"$out/seeds.c" <<'C'
#include "shard.h"
int main(int argc, char **argv)
{
    int32_t tokens[40];
    for (int i = 0; i < 40; i++)
        tokens[i] = i * 7 % 300;
    for (int kind = 0; kind < 3 && kind + 1 < argc; kind++) {
        shard_writer_options_t options = {.vocab_size = 300, .eot_id = 1, .frame_tokens = 16,
                                          .kind = (uint32_t)kind};
        shard_writer_t *writer = shard_writer_open(argv[kind + 1], &options);
        uint32_t spans[4] = {2, 9, 20, 30};
        for (int d = 0; d < 4 && writer; d++) {
            if (kind == 0)
                shard_writer_add_document(writer, tokens + d, 30);
            else if (kind == 1)
                shard_writer_add_masked(writer, tokens + d, 36, spans, 2);
            else
                shard_writer_add_pair(writer, tokens, 10, tokens + 10, 5, tokens + 20, 7);
        }
        if (!writer || shard_writer_finish(writer) != 0)
            return 1;
    }
    return 0;
}
C
# shellcheck disable=SC2046
clang "${flags[@]}" "$out/seeds.c" "$source_root/common/shard.c" "$source_root/common/log.c" \
    $(pkg-config --cflags --libs libzstd libxxhash) -o "$out/seeds" &&
    "$out/seeds" "$seeds/plain.lshard" "$seeds/sft.lshard" "$seeds/pairs.lshard" || exit 1

"$out/fuzz_shard_reader" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -close_fd_mask=2 -print_final_stats=1 "$scratch" "$seeds"
