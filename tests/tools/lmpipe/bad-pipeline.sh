# Invalid pipeline files are rejected before any stage runs, with FILE:LINE.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
cd "$WORK"

cat >unknown-program.yaml <<'YAML'
stages:
  - name: ingest
    program: crawl-ingest
    inputs: [corpus/]
  - name: tidy
    program: tidy-up
    inputs: [ingest]
YAML
expect_exit 2 "$lmpipe" run unknown-program.yaml
expect_grep '^.*unknown-program.yaml:6: unknown program "tidy-up"' "$WORK/err"

cat >forward.yaml <<'YAML'
stages:
  - name: clean
    program: clean
    inputs: [dedup]
  - name: dedup
    program: dedup
    inputs: [clean]
YAML
expect_exit 2 "$lmpipe" run forward.yaml
expect_grep 'forward.yaml:2: stages form a dependency cycle: clean \(line 2\) -> dedup \(line 5\) -> clean' "$WORK/err"

cat >missing-input.yaml <<'YAML'
stages:
  - name: clean
    program: clean
    inputs: [crawl/part-*.jsonl]
  - name: dedup
    program: dedup
    inputs: [clean, extra/docs.jsonl]
YAML
expect_exit 2 "$lmpipe" run missing-input.yaml --dry-run
expect_grep 'missing-input.yaml:4: input glob "crawl/part-\*.jsonl" matches no file' "$WORK/err"
expect_grep 'missing-input.yaml:7: input "extra/docs.jsonl" does not exist' "$WORK/err"
[ ! -s "$WORK/out" ] || fail "an invalid pipeline printed a plan"

# Settings are checked against the program's own table before anything runs.
if [ -x "$(tool clean)" ]; then
    mkdir -p corpus
    cat >unknown-setting.yaml <<'YAML'
stages:
  - name: clean
    program: clean
    inputs: [corpus/]
    settings:
      min-chars: 10
      min_words: 3
      min-charz: 10
YAML
    expect_exit 2 "$lmpipe" run unknown-setting.yaml
    expect_grep 'unknown-setting.yaml:8: unknown setting "min-charz" for program clean; its settings are: .*min-chars' "$WORK/err"
    if grep -q 'min_words' "$WORK/err"; then fail "min_words (min-words) was reported unknown"; fi
    rmdir corpus
fi

cat >self.yaml <<'YAML'
stages:
  - {name: loop, program: clean, inputs: [loop]}
YAML
expect_exit 2 "$lmpipe" run self.yaml
expect_grep 'self.yaml:2: stage "loop" lists itself as an input' "$WORK/err"

cat >unknown-reference.yaml <<'YAML'
stages:
  - name: shard
    program: shard
    inputs: [corpus/]
    args: [-t, '${bpe}/tokenizer.json']
YAML
expect_exit 2 "$lmpipe" run unknown-reference.yaml
expect_grep 'unknown-reference.yaml:5: "\$\{bpe\}" names no stage' "$WORK/err"

cat >duplicate.yaml <<'YAML'
stages:
  - {name: a, program: clean, inputs: [corpus/]}
  - {name: a, program: dedup, inputs: [corpus/]}
YAML
expect_exit 2 "$lmpipe" run duplicate.yaml
expect_grep 'duplicate.yaml:3: duplicate stage name "a" \(first used on line 2\)' "$WORK/err"

printf 'stages:\n  - name: a\n   program: [clean\n' >syntax.yaml
expect_exit 2 "$lmpipe" run syntax.yaml
expect_grep 'syntax.yaml:3:[0-9]+: invalid YAML' "$WORK/err"

expect_exit 2 "$lmpipe" run missing.yaml
expect_grep 'missing.yaml: failed to open the pipeline file' "$WORK/err"

# Only per-file programs run incrementally, as one process per input file.
mkdir -p crawl
cat >incremental.yaml <<'YAML'
stages:
  - {name: ingest, program: crawl-ingest, inputs: [crawl], incremental: true}
  - {name: dedup, program: dedup, inputs: [ingest], incremental: true}
  - {name: clean, program: clean, inputs: [ingest], tasks: 2, incremental: true}
  - {name: tidy, program: clean, inputs: [ingest], incremental: maybe}
YAML
expect_exit 2 "$lmpipe" run incremental.yaml
expect_grep 'incremental.yaml:3: program dedup cannot run incrementally: it needs the whole corpus' "$WORK/err"
expect_grep 'incremental.yaml:4: an incremental stage runs one process per input file; remove "tasks: 2"' "$WORK/err"
expect_grep 'incremental.yaml:5: incremental must be true or false, not "maybe"' "$WORK/err"
if grep -q 'incremental.yaml:2:' "$WORK/err"; then fail "crawl-ingest was rejected as incremental"; fi
rmdir crawl

# Nothing ran, so no run folder appeared.
[ ! -e runs ] || fail "an invalid pipeline created the run folder"
