# --dry-run prints the stage command lines, shell-quoted, and runs nothing.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
cd "$WORK"

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
lmpipe crawl-ingest corpus/ -o run/ingest --stats run/ingest.stats.json
lmpipe clean run/ingest -o run/clean --set min-chars=20 --set normalization=nfkc --stats run/clean.stats.json
lmpipe generate --model run/clean/final --prompt 'Debian 是一个' > run/sample.txt
TEXT
diff expected "$WORK/out" || fail "dry-run output differs from the expected commands"
[ ! -e run ] || fail "--dry-run created the run folder"

# --only forces one stage; --from forces that stage and the later ones.
expect_exit 0 "$lmpipe" run p.yaml -n --only clean --run-dir elsewhere
[ "$(wc -l <"$WORK/out")" -eq 1 ] || fail "--only printed more than one command"
expect_grep '^lmpipe clean elsewhere/ingest -o elsewhere/clean .* --force$' "$WORK/out"

expect_exit 0 "$lmpipe" run p.yaml -n --from clean
[ "$(wc -l <"$WORK/out")" -eq 2 ] || fail "--from clean printed other than 2 commands"
expect_grep '^lmpipe clean .* --force$' "$WORK/out"
expect_grep "^lmpipe generate --force --model" "$WORK/out"

expect_exit 0 "$lmpipe" run p.yaml -n --force
[ "$(grep -c -- '--force' "$WORK/out")" -eq 3 ] || fail "--force missing from some commands"

expect_exit 2 "$lmpipe" run p.yaml -n --only nothing
expect_grep 'no stage named "nothing"' "$WORK/err"

# The printed lines run unchanged in a shell: the quoting round-trips.
printf '#!/bin/sh\nfor a in "$@"; do echo "[$a]"; done\n' >generate
chmod +x generate
sed -n 3p expected | sed 's/^lmpipe generate/.\/generate/; s/ > .*//' >line.sh
sh line.sh >args
expect_grep '^\[Debian 是一个\]$' args
