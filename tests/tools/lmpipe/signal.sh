# SIGTERM sent to lmpipe alone reaches the running stage, and lmpipe reports it.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$(tool clean)" ] || skip "clean is not built"
cd "$WORK"

# clean reads standard input, which stays open, so the stage waits until killed.
# The run folder is absolute so that the process check below cannot match a
# stage of another test running at the same time.
cat >p.yaml <<YAML
run-dir: $WORK/run
stages:
  - {name: waiting, program: clean, inputs: ['-']}
YAML
mkfifo input
sleep 60 >input &
writer=$!
"$lmpipe" run p.yaml <input 2>err &
runner=$!

for _ in $(seq 1 100); do
    grep -q 'stage waiting (1/1) started' err && break
    sleep 0.1
done
grep -q 'stage waiting (1/1) started' err || fail "the stage did not start"
sleep 0.2
kill -TERM "$runner"
status=0
wait "$runner" || status=$?
kill "$writer" 2>/dev/null || true

[ "$status" -eq 1 ] || { cat err >&2; fail "lmpipe exited with $status, expected 1"; }
expect_grep 'stage waiting failed: clean was killed by signal 15' err
if pgrep -f "clean - -o $WORK/run/waiting" >/dev/null; then fail "the stage outlived lmpipe"; fi
