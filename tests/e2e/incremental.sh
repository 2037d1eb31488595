# A rerun after a crawl file is added. The per-file stages (crawl-ingest and
# clean with `incremental: true`) process only the new file and leave the
# parts of the old files untouched. The whole-corpus stages rebuild, and
# training continues from its last step on the new shards. Every output of
# the per-file stages and of dedup equals a from-scratch run on all three
# files byte for byte.
# Exit status 77 (skipped) when the real crawl files are absent.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

lmpipe="$LMPIPE_BUILD/tools/lmpipe/lmpipe"
shared_data="${LMPIPE_SHARED_DATA:-$LMPIPE_SOURCE/../shared/data}"
warcs="$shared_data/warc"
for name in cc-2020-34-excerpt wget-2024-sample-0 wget-2024-sample-1; do
    [ -f "$warcs/$name.warc.gz" ] || skip "real crawl file $warcs/$name.warc.gz not found"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/lmpipe-incremental.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir crawl tokenizer-crawl
cp "$warcs/wget-2024-sample-0.warc.gz" "$warcs/cc-2020-34-excerpt.warc.gz" crawl/
# The tokenizer is trained on a corpus that does not grow, so shards of the
# new data use the same tokenizer and training may resume on them.
cp "$warcs/wget-2024-sample-0.warc.gz" tokenizer-crawl/
cp "$LMPIPE_SOURCE/pipelines/models/demo-small.yaml" model.yaml

# write_pipeline STEPS [TRAIN-ARGS]: the pipeline; train runs STEPS steps,
# with TRAIN-ARGS appended to its args.
write_pipeline() {
    cat >p.yaml <<YAML
stages:
  - {name: crawl-ingest, program: crawl-ingest, inputs: [crawl], incremental: true}
  - name: clean
    program: clean
    inputs: [crawl-ingest]
    incremental: true
    settings: {min-chars: 100}
  - {name: dedup, program: dedup, inputs: [clean]}
  - {name: tokenizer-docs, program: crawl-ingest, inputs: [tokenizer-crawl]}
  - name: bpe-train
    program: bpe-train
    inputs: [tokenizer-docs]
    settings: {vocab-size: 512}
  - name: shard
    program: shard
    inputs: [dedup]
    args: [-t, '\${bpe-train}/tokenizer.json']
    settings: {val-fraction: 0.1}
  - name: train
    program: train
    inputs: [shard]
    args: [--model-config, model.yaml$2]
    settings: {steps: $1, checkpoint-every: 10, eval-every: 0, batch-size: 4, seq-len: 32,
               seed: 1}
YAML
}

# part_stamps RUN: inode, size and modification time of every part file.
part_stamps() {
    find "$1/crawl-ingest/files" "$1/clean/files" -name 'part-*' -printf '%p %i %s %T@\n' | sort
}

# --- First run on two files ---------------------------------------------------------
# train already gets --continue-from: its folder contains no checkpoint yet, so the
# first run starts from scratch, and the same train arguments serve every rerun.
write_pipeline 20 ", --continue-from, '\${run-dir}/train'"
"$lmpipe" run p.yaml --run-dir run 2>first.log || { tail -n 30 first.log >&2; fail "first run failed"; }
part_stamps run >stamps-before.txt
[ "$(grep -c 'crawl-ingest/files' stamps-before.txt)" -eq 2 ] ||
    fail "the first run did not write one crawl-ingest part per crawl file"
first_step=$(python3 -c 'import json; print(json.load(open("run/train/final/trainer_state.json"))["step"])')
[ "$first_step" -eq 20 ] || fail "the first training run ended at step $first_step, expected 20"
grep -q 'no checkpoint there yet, so this first run starts from scratch' first.log ||
    fail "the first run's train did not say that it starts from scratch"

# --- Add a crawl file, train further, rerun ---------------------------------------------
cp "$warcs/wget-2024-sample-1.warc.gz" crawl/
write_pipeline 10 ", --continue-from, '\${run-dir}/train'"
"$lmpipe" run p.yaml --run-dir run --dry-run >plan.txt
grep -q '^# stage crawl-ingest: run: .*3 input files: 1 new, 0 changed, 2 reused' plan.txt ||
    { cat plan.txt >&2; fail "the dry run does not report one new and two reused input files"; }
[ "$(grep -c '^lmpipe crawl-ingest crawl/' plan.txt)" -eq 1 ] ||
    { cat plan.txt >&2; fail "the dry run does not run crawl-ingest on the new file alone"; }
grep -q '^# lmpipe crawl-ingest crawl/wget-2024-sample-0.warc.gz' plan.txt ||
    fail "the dry run does not show the reused file's command commented out"

"$lmpipe" run p.yaml --run-dir run 2>second.log || { tail -n 30 second.log >&2; fail "rerun failed"; }
grep -q 'stage crawl-ingest: 3 input files: 1 new, 0 changed, 2 reused' second.log ||
    fail "crawl-ingest did not reuse the parts of the two old files"
grep -q 'stage clean: 3 input files: 1 new, 0 changed, 2 reused' second.log ||
    fail "clean did not reuse the parts of the two old files"
[ "$(grep -c 'stage crawl-ingest (.*) input file' second.log)" -eq 1 ] ||
    fail "crawl-ingest ran on more than the new file"

# The old parts were not rewritten: same inode, size and modification time.
part_stamps run >stamps-after.txt
while read -r line; do
    grep -qxF -- "$line" stamps-after.txt || fail "an old part was rewritten: $line"
done <stamps-before.txt
[ "$(grep -c 'crawl-ingest/files' stamps-after.txt)" -eq 3 ] || fail "no part for the new crawl file"

# The new file's documents reach dedup's output: every text that only the new
# file's clean part has appears there.
zstdcat run/clean/files/wget-2024-sample-1*/part-*.jsonl.zst >new-docs.jsonl
zstdcat run/clean/files/wget-2024-sample-0*/part-*.jsonl.zst \
        run/clean/files/cc-2020-34-excerpt*/part-*.jsonl.zst >old-docs.jsonl
zstdcat run/dedup/part-*.jsonl.zst >dedup-docs.jsonl
python3 - <<'PY' || fail "documents of the new crawl file are missing from dedup's output"
import json
texts = lambda path: {json.loads(line)["text"] for line in open(path)}
only_new = texts("new-docs.jsonl") - texts("old-docs.jsonl")
assert only_new, "the new crawl file added no document of its own"
missing = only_new - texts("dedup-docs.jsonl")
assert not missing, f"{len(missing)} of {len(only_new)} new documents missing"
PY

# Training continued from the first run's last step on the new shards.
grep -q 'continuing from run/train/final at step 20 on a changed shard set' second.log ||
    fail "train did not continue from step 20 on the changed shards"
second_step=$(python3 -c 'import json; print(json.load(open("run/train/final/trainer_state.json"))["step"])')
[ "$second_step" -eq 30 ] || fail "the continued training ended at step $second_step, expected 30"

# --- A from-scratch run on all three files gives the same data outputs ------------
"$lmpipe" run p.yaml --run-dir scratch --only crawl-ingest 2>scratch.log &&
    "$lmpipe" run p.yaml --run-dir scratch --only clean 2>>scratch.log &&
    "$lmpipe" run p.yaml --run-dir scratch --only dedup 2>>scratch.log ||
    { tail -n 30 scratch.log >&2; fail "the from-scratch run failed"; }
for stage in crawl-ingest clean; do
    (cd "run/$stage" && find files -name 'part-*' | sort) >incremental-files.txt
    (cd "scratch/$stage" && find files -name 'part-*' | sort) >scratch-files.txt
    cmp -s incremental-files.txt scratch-files.txt || fail "$stage: the part files differ in name"
    while read -r name; do
        cmp -s "run/$stage/$name" "scratch/$stage/$name" ||
            fail "$stage: $name differs from the from-scratch run"
    done <scratch-files.txt
    # The manifests list the same files with the same sizes and checksums, apart
    # from stats.json, which records durations.
    listing="import json, sys; m = json.load(open(sys.argv[1])); print(m['records'], json.dumps([f for f in m['files'] if not f['name'].endswith('stats.json')]))"
    [ "$(python3 -c "$listing" "run/$stage/manifest.json")" = \
      "$(python3 -c "$listing" "scratch/$stage/manifest.json")" ] ||
        fail "$stage: the manifest lists other files or records than the from-scratch run"
done
for file in run/dedup/part-*.jsonl.zst; do
    cmp -s "$file" "scratch/dedup/$(basename "$file")" ||
        fail "dedup: $(basename "$file") differs from the from-scratch run"
done
echo "incremental rerun: old parts kept, training continued from step 20 to $second_step" >&2
