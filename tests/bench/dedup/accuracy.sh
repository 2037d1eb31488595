#!/bin/bash
# Accuracy of MinHash LSH on real documents with planted near-duplicates.
#
#   tests/bench/dedup/accuracy.sh BUILD_DIR [WORK]
#
# English: the "chosen" dialogues of the Anthropic hh-rlhf test file in the
# real-data folder beside the repository (LMPIPE_DATA). Chinese and English web pages: the demo corpus
# (debian-reference) when BUILD_DIR/demo-corpus-small exists, run through
# crawl-ingest. Prints the dedup_accuracy report for the default 14 x 8 and,
# for English, the RedPajama-V2 setting 9 x 13 and NeMo Curator's 20 x 13.
set -euo pipefail
build=$1
work=${2:-${TMPDIR:-/tmp}/dedup-accuracy}
root=$(cd "$(dirname "$0")/../../.." && pwd)
shared="${LMPIPE_DATA:-$root/../shared/data}"
hh="$shared/post-training/hh-rlhf-harmless-base-test.jsonl.gz"
[ -e "$hh" ] || { echo "real data not found at $shared; nothing to evaluate" >&2; exit 77; }
rm -rf "$work"
mkdir -p "$work"
zcat "$hh" | python3 -c '
import json, sys
for i, line in enumerate(sys.stdin):
    print(json.dumps({"id": "hh%d" % i, "text": json.loads(line)["chosen"], "source": "hh-rlhf"}))
' >"$work/hh.jsonl"
accuracy="$build/tests/unit/dedup_accuracy"
echo "## English dialogues, 14 x 8"
"$accuracy" "$work/hh.jsonl" 1500
echo "## English dialogues, 9 x 13"
"$accuracy" "$work/hh.jsonl" 1500 9 13
echo "## English dialogues, 20 x 13"
"$accuracy" "$work/hh.jsonl" 1500 20 13
if [ -d "$build/demo-corpus-small" ]; then
    "$build/tools/crawl-ingest/crawl-ingest" -q "$build/demo-corpus-small" -o "$work/demo.jsonl"
    echo "## debian-reference web pages (English and Chinese), 14 x 8"
    "$accuracy" "$work/demo.jsonl" 1000
fi
