# --dry-run prints the plan: each stage's reason and its command line, shell-quoted,
# and runs nothing.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$(tool crawl-ingest)" ] || skip "crawl-ingest is not built"
cd "$WORK"
mkdir corpus

cat >p.yaml <<'YAML'
run-dir: run
stages:
  - name: ingest
    program: crawl-ingest
    inputs: [corpus/]
  - name: clean
    program: clean
    inputs: [ingest]
    settings: {min-chars: 20, normalization: nfkc}
  - name: sample
    program: generate
    output: none
    stats: false
    args: [--model, '${clean}/final', --prompt, "Debian 是一个"]
    stdout: ${run-dir}/sample.txt
YAML

expect_exit 0 "$lmpipe" run p.yaml --dry-run
cat >expected <<'TEXT'
# stage ingest: run: output run/ingest: it has no manifest
lmpipe crawl-ingest corpus/ -o run/ingest --stats run/ingest.stats.json
# stage clean: run: input stage ingest runs first
lmpipe clean run/ingest -o run/clean --set min-chars=20 --set normalization=nfkc --stats run/clean.stats.json
# stage sample: run: input stage clean runs first
lmpipe generate --model run/clean/final --prompt 'Debian 是一个' > run/sample.txt
TEXT
diff expected "$WORK/out" || fail "dry-run output differs from the expected plan"
[ ! -e run ] || fail "--dry-run created the run folder"

# --only forces one stage; --from forces that stage and the later ones.
expect_exit 0 "$lmpipe" run p.yaml -n --only clean --run-dir elsewhere
[ "$(grep -vc '^#' "$WORK/out")" -eq 1 ] || fail "--only printed more than one command"
expect_grep '^# stage clean: run: --only reruns this stage$' "$WORK/out"
expect_grep '^lmpipe clean elsewhere/ingest -o elsewhere/clean .* --force$' "$WORK/out"

expect_exit 0 "$lmpipe" run p.yaml -n --from clean
[ "$(grep -vc '^#' "$WORK/out")" -eq 2 ] || fail "--from clean printed other than 2 commands"
expect_grep '^lmpipe clean .* --force$' "$WORK/out"
expect_grep "^lmpipe generate --force --model" "$WORK/out"

expect_exit 0 "$lmpipe" run p.yaml -n --force
[ "$(grep -v '^#' "$WORK/out" | grep -c -- '--force')" -eq 3 ] ||
    fail "--force missing from some commands"

expect_exit 2 "$lmpipe" run p.yaml -n --only nothing
expect_grep 'no stage named "nothing"' "$WORK/err"

# The printed lines run unchanged in a shell: the quoting round-trips.
printf '#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done\n' >generate
chmod +x generate
sed -n 6p expected | sed 's/^lmpipe generate/.\/generate/; s/ > .*//' >line.sh
sh line.sh >args
expect_grep '^\[Debian 是一个\]$' args
