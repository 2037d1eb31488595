# A failing stage stops the run: lmpipe names it, exits 1, and runs no later stage.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$(tool clean)" ] || skip "clean is not built"
cd "$WORK"

printf '{"id":"1","text":"one two three four five six","source":"t"}\n' >docs.jsonl
cat >p.yaml <<'YAML'
run-dir: run
stages:
  - name: broken
    program: clean
    inputs: [docs.jsonl]
    args: [--no-such-option]
  - name: after
    program: clean
    inputs: [broken]
YAML
expect_exit 1 "$lmpipe" run p.yaml
expect_grep 'stage broken failed: clean exited with status 2' "$WORK/err"
expect_grep 'later stages were not run' "$WORK/err"
[ ! -e run/after ] || fail "the stage after the failure ran"
