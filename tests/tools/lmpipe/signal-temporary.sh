# SIGINT, SIGTERM and SIGHUP sent to a stage that writes a single file remove
# its temporary file (NAME.tmp-PID); no output appears under the final name.
. "$(dirname "$0")/../lib.sh"
clean=$(tool clean)
[ -x "$clean" ] || skip "clean is not built"
cd "$WORK"

printf '{"id":"a","text":"%s","source":"t"}\n' \
    "a document long enough to pass every filter of clean with its default settings" >doc.jsonl

for signal in INT TERM HUP; do
    rm -f input out.jsonl*
    mkfifo input
    # The writer keeps the pipe open after one document, so clean waits for more.
    { cat doc.jsonl; exec sleep 30; } >input &
    writer=$!
    # A shell starts background commands with SIGINT ignored; restore the default.
    env --default-signal=INT,TERM,HUP "$clean" input -o out.jsonl 2>"err-$signal" &
    stage=$!
    for _ in $(seq 1 100); do
        ls out.jsonl.tmp-* >/dev/null 2>&1 && break
        sleep 0.1
    done
    ls out.jsonl.tmp-"$stage" >/dev/null 2>&1 || fail "SIG$signal: no temporary file appeared"
    kill -"$signal" "$stage"
    status=0
    wait "$stage" || status=$?
    kill "$writer" 2>/dev/null || true
    wait "$writer" 2>/dev/null || true
    [ "$status" -gt 128 ] || fail "SIG$signal: clean exited with $status, expected death by the signal"
    if ls out.jsonl.tmp-* >/dev/null 2>&1; then fail "SIG$signal: the temporary file was left behind"; fi
    [ ! -e out.jsonl ] || fail "SIG$signal: an interrupted run left out.jsonl under its final name"
done
