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
expect_grep 'forward.yaml:4: input "dedup" is a stage that comes later \(line 5\)' "$WORK/err"

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

# Nothing ran, so no run folder appeared.
[ ! -e runs ] || fail "an invalid pipeline created the run folder"
