# lmpipe --help lists the stage programs that exist; the --help of run, status
# and report lists their options and no settings options, which they reject.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
cd "$WORK"

expect_exit 0 "$lmpipe" --help
expect_grep '^Usage: lmpipe run PIPELINE.yaml' "$WORK/out"
for program in crawl-ingest clean dedup bpe-train shard train generate; do
    expect_grep "^  $program " "$WORK/out"
done

if grep -q 'not built' "$WORK/out"; then fail "lmpipe --help lists a program that is not built"; fi
# Every program listed has an executable at the path shown.
sed -n '/^Programs/,/^$/p' "$WORK/out" | awk 'NF == 2 { print $2 }' >"$WORK/listed"
[ -s "$WORK/listed" ] || fail "lmpipe --help lists no program path"
while read -r path; do
    [ -x "$path" ] || fail "lmpipe --help lists $path, which is not an executable"
done <"$WORK/listed"

# A copy of lmpipe alone finds only the programs on PATH.
mkdir "$WORK/alone" "$WORK/bin"
cp "$lmpipe" "$WORK/alone/lmpipe"
printf '#!/bin/sh\nexit 0\n' >"$WORK/bin/clean"
chmod +x "$WORK/bin/clean"
expect_exit 0 env PATH="$WORK/bin" "$WORK/alone/lmpipe" --help
expect_grep "^  clean +$WORK/bin/clean\$" "$WORK/out"
if grep -Eq '^  (dedup|train|reward-model|ppo) ' "$WORK/out"; then
    fail "lmpipe alone lists a program that is not on PATH"
fi
expect_exit 0 env PATH="$WORK/empty" "$WORK/alone/lmpipe" --help
expect_grep '^  none; build them' "$WORK/out"

expect_exit 0 "$lmpipe" run --help
for option in --run-dir --from --only --force --dry-run --jobs --executor; do
    expect_grep " $option" "$WORK/out"
done
expect_grep '^  -j, --jobs N ' "$WORK/out"
expect_grep '\[default: local\]' "$WORK/out"

# run, status and report have no settings: no --config, --set or --list-settings.
for command in run status report; do
    expect_exit 0 "$lmpipe" $command --help
    expect_grep "^Usage: lmpipe $command " "$WORK/out"
    expect_grep ' --run-dir DIR ' "$WORK/out"
    expect_grep ' -h, --help ' "$WORK/out"
    for option in --config --set --list-settings; do
        if grep -q -- "$option" "$WORK/out"; then
            fail "lmpipe $command --help lists $option"
        fi
    done
    for option in --list-settings '--set min-chars=5' '--set=min-chars=5' '--config c.yaml'; do
        expect_exit 2 "$lmpipe" $command p.yaml $option
        expect_grep "option --[a-z-]+: lmpipe $command has no settings" "$WORK/err"
    done
done

expect_exit 0 "$lmpipe" --version
expect_grep '^lmpipe [0-9]+\.[0-9]+' "$WORK/out"

# Usage errors: no command, an unknown command, run without a pipeline file.
expect_exit 2 "$lmpipe"
expect_exit 2 "$lmpipe" no-such-program
expect_grep 'unknown command "no-such-program"' "$WORK/err"
expect_exit 2 "$lmpipe" run
expect_grep 'missing the pipeline file' "$WORK/err"
expect_exit 2 "$lmpipe" run a.yaml --from x --only y
expect_grep 'exclude each other' "$WORK/err"
