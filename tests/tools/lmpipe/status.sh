# lmpipe status and the --dry-run plan agree with what a run would skip:
# done, stale after a settings change (and everything after it), missing.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
for program in clean dedup; do
    [ -x "$(tool $program)" ] || skip "$program is not built"
done
cd "$WORK"

cat >docs.jsonl <<'JSONL'
{"id":"1","text":"Debian 是一个自由的操作系统，由志愿者共同开发和维护。","source":"t"}
{"id":"2","text":"The package manager installs, upgrades and removes software packages.","source":"t"}
{"id":"3","text":"Debian 是一个自由的操作系统，由志愿者共同开发和维护。","source":"t"}
{"id":"4","text":"short","source":"t"}
JSONL
write_pipeline() {
    cat >p.yaml <<YAML
run-dir: run
stages:
  - name: clean
    program: clean
    inputs: [docs.jsonl]
    settings: {min-chars: $1, min-words: 3}
  - name: dedup
    program: dedup
    inputs: [clean]
YAML
}
write_pipeline 5

expect_exit 0 "$lmpipe" status p.yaml
expect_grep '^clean +missing .*run/clean has no manifest' "$WORK/out"
expect_grep '^dedup +missing ' "$WORK/out"

expect_exit 0 "$lmpipe" run p.yaml
[ -f run/.lmpipe/state.json ] || fail "lmpipe run wrote no state file"
expect_exit 0 "$lmpipe" status run
expect_grep '^run run \(pipeline p.yaml\)$' "$WORK/out"
# clean: 4 in, 3 kept, 1 dropped; dedup drops the repeated document.
expect_grep '^clean +done +3 +4 +3 +1 ' "$WORK/out"
expect_grep '^dedup +done +2 +3 +2 +1 ' "$WORK/out"
# status works from another directory too: the state file records where the run started.
mkdir elsewhere
(cd elsewhere && "$lmpipe" status ../run >../out2 2>../err2) || fail "status from elsewhere failed"
expect_grep '^dedup +done ' out2

expect_exit 0 "$lmpipe" run p.yaml --dry-run
expect_grep '^# stage clean: skip: output run/clean is up to date$' "$WORK/out"
expect_grep '^# stage dedup: skip: output run/dedup is up to date$' "$WORK/out"
expect_grep '^# lmpipe clean docs.jsonl -o run/clean' "$WORK/out"

# A changed setting makes clean stale, and dedup with it.
write_pipeline 6
expect_exit 0 "$lmpipe" status p.yaml
expect_grep '^clean +stale .*the settings changed' "$WORK/out"
expect_grep '^dedup +stale .*input stage clean is stale' "$WORK/out"
expect_exit 0 "$lmpipe" run p.yaml --dry-run
expect_grep '^# stage clean: run: output run/clean: the settings changed$' "$WORK/out"
expect_grep '^# stage dedup: run: input stage clean runs first$' "$WORK/out"
expect_grep '^lmpipe clean docs.jsonl' "$WORK/out"

# New input data makes the first stage stale for that reason.
write_pipeline 5
echo '{"id":"5","text":"Stable releases are supported for about three years.","source":"t"}' \
    >>docs.jsonl
expect_exit 0 "$lmpipe" run p.yaml --dry-run
expect_grep '^# stage clean: run: output run/clean: the inputs changed$' "$WORK/out"

# A removed manifest makes the output missing; a failed run is shown as failed.
rm run/dedup/manifest.json
expect_exit 0 "$lmpipe" status run
expect_grep '^dedup +missing .*run/dedup has no manifest' "$WORK/out"
cat >>p.yaml <<'YAML'
    args: [--no-such-option]
YAML
expect_exit 1 "$lmpipe" run p.yaml --only dedup
expect_exit 0 "$lmpipe" status run
expect_grep '^dedup +failed .*exit status 2' "$WORK/out"
expect_exit 2 "$lmpipe" status no-such-run
expect_grep 'no-such-run: not found' "$WORK/err"
expect_exit 2 "$lmpipe" status elsewhere
expect_grep 'elsewhere has no readable .lmpipe/state.json' "$WORK/err"

# A long-running stage shows as running, with its tasks finished and its time.
mkfifo input
sleep 30 >input &
writer=$!
cat >waiting.yaml <<YAML
run-dir: $WORK/run-waiting
stages:
  - {name: waiting, program: clean, inputs: ['-']}
YAML
"$lmpipe" run waiting.yaml <input 2>waiting.log &
runner=$!
for _ in $(seq 1 100); do
    grep -q 'stage waiting (1/1) started' waiting.log && break
    sleep 0.1
done
sleep 1.2
expect_exit 0 "$lmpipe" status "$WORK/run-waiting"
kill "$writer"
wait "$runner" || true
expect_grep '^waiting +running .*0 of 1 tasks finished, running for [1-9][0-9]* s' "$WORK/out"
