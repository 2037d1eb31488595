# Independent stages run at the same time, and --jobs 1 runs one at a time.
# The tasks of a split stage run as --task I/N and together write one output.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$(tool clean)" ] || skip "clean is not built"
cd "$WORK"

cat >docs.jsonl <<'JSONL'
{"id":"1","text":"Debian 是一个自由的操作系统，由志愿者共同开发和维护。","source":"t"}
{"id":"2","text":"The package manager installs, upgrades and removes software packages.","source":"t"}
{"id":"3","text":"Debian 的软件包由维护者打包，并经过测试后进入稳定版本。","source":"t"}
{"id":"4","text":"Security updates reach the stable release through a separate archive.","source":"t"}
JSONL
# "waiting" reads lmpipe's standard input, which stays open until the writer
# ends, so it runs until then; "files" needs only docs.jsonl.
cat >p.yaml <<'YAML'
run-dir: run
stages:
  - {name: waiting, program: clean, inputs: ['-'], settings: {min-chars: 5, min-words: 3}}
  - {name: files, program: clean, inputs: [docs.jsonl], settings: {min-chars: 5, min-words: 3}}
YAML

# run_with_open_input JOBS: starts lmpipe with standard input held open and
# leaves its pid in $runner and the writer's in $writer.
run_with_open_input() {
    rm -f input && mkfifo input
    sleep 60 >input &
    writer=$!
    "$lmpipe" run p.yaml --jobs "$1" <input 2>err &
    runner=$!
}

run_with_open_input 2
for _ in $(seq 1 100); do
    grep -q 'stage files finished' err && break
    sleep 0.1
done
grep -q 'stage files finished' err || { cat err >&2; fail "files did not finish while waiting ran"; }
kill -0 "$runner" 2>/dev/null || fail "lmpipe ended before the waiting stage did"
# lmpipe status shows the running stage next to the finished one.
expect_exit 0 "$lmpipe" status run
expect_grep '^waiting +running .*running for' "$WORK/out"
expect_grep '^files +done +4 +4 +4 +0 ' "$WORK/out"
kill "$writer"
status=0
wait "$runner" || status=$?
[ "$status" -eq 0 ] || { cat err >&2; fail "lmpipe exited with $status"; }
expect_grep 'stage waiting finished' err

# With --jobs 1 the second stage waits for the first.
rm -rf run
run_with_open_input 1
sleep 1.5
if grep -q 'stage files' err; then fail "--jobs 1 started a second stage"; fi
kill "$writer"
wait "$runner" || fail "lmpipe --jobs 1 failed"
expect_grep 'stage files \(2/2\) started' err

# A stage with tasks: 3 runs three processes that fill one output folder.
cat >tasks.yaml <<'YAML'
run-dir: run-tasks
stages:
  - name: clean
    program: clean
    inputs: [docs.jsonl]
    settings: {min-chars: 5, min-words: 3}
    tasks: 3
YAML
expect_exit 0 "$lmpipe" run tasks.yaml --jobs 3
for task in 0 1 2; do
    expect_grep "stage clean \(1/1\) task $task/3 started: lmpipe clean .* --task $task/3\$" "$WORK/err"
done
[ -f run-tasks/clean/manifest.json ] || fail "the split stage wrote no manifest"
records=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["records"])' \
          run-tasks/clean/manifest.json)
[ "$records" -eq 4 ] || fail "the three tasks kept $records records, expected 4"
expect_exit 0 "$lmpipe" run tasks.yaml --dry-run
expect_grep '^# stage clean: skip: output run-tasks/clean is up to date$' "$WORK/out"
[ "$(grep -c '^# lmpipe clean .* --task [0-2]/3$' "$WORK/out")" -eq 3 ] ||
    fail "the plan lists other than 3 tasks"
