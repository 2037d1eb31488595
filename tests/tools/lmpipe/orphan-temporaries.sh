# A rerun removes temporary files (NAME.tmp-PID) whose process no longer runs,
# both the state file's in RUN-DIR/.lmpipe and a stage's in its output folder,
# and keeps those of a process that still runs.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
for program in clean dedup; do
    [ -x "$(tool $program)" ] || skip "$program is not built"
done
cd "$WORK"

cat >docs.jsonl <<'JSONL'
{"id":"1","text":"Debian 是一个自由的操作系统，由志愿者共同开发和维护。","source":"t"}
{"id":"2","text":"The package manager installs, upgrades and removes software packages.","source":"t"}
JSONL
cat >p.yaml <<'YAML'
run-dir: run
stages:
  - name: clean
    program: clean
    inputs: [docs.jsonl]
    settings: {min-chars: 5, min-words: 3}
  - name: dedup
    program: dedup
    inputs: [clean]
YAML
expect_exit 0 "$lmpipe" run p.yaml

# Process ids: one of a process that has ended and been reaped, one of a
# process that still runs.
sh -c : &
dead=$!
wait "$dead"
sleep 30 &
alive=$!
trap 'kill "$alive" 2>/dev/null; rm -rf "$WORK"' EXIT

echo '{}' >"run/.lmpipe/state.json.tmp-$dead"
echo '{}' >"run/.lmpipe/state.json.tmp-$alive"
echo partial >"run/clean/part.jsonl.tmp-$dead"
echo partial >"run/clean/part.jsonl.tmp-$alive"
echo '{}' >"run/clean.stats.json.tmp-$dead"

expect_exit 0 "$lmpipe" run p.yaml --force
[ ! -e "run/.lmpipe/state.json.tmp-$dead" ] ||
    fail "the state file's temporary of ended process $dead stayed after the rerun"
[ ! -e "run/clean/part.jsonl.tmp-$dead" ] ||
    fail "the clean temporary of ended process $dead stayed after the rerun"
[ ! -e "run/clean.stats.json.tmp-$dead" ] ||
    fail "the stats temporary of ended process $dead in the run folder stayed after the rerun"
expect_grep "run/\.lmpipe/state\.json\.tmp-$dead: removed a temporary file" "$WORK/err"
[ -e "run/.lmpipe/state.json.tmp-$alive" ] ||
    fail "the state file's temporary of running process $alive was removed"
[ -e "run/clean/part.jsonl.tmp-$alive" ] ||
    fail "the clean temporary of running process $alive was removed"
[ -f run/.lmpipe/state.json ] || fail "the rerun left no state file"
