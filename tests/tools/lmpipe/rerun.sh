# Stages skip when their output is up to date; --only and --from force reruns.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
for program in clean dedup; do
    [ -x "$(tool $program)" ] || skip "$program is not built"
done
cd "$WORK"

# Chinese and English documents; the third repeats the first, so dedup drops one.
cat >docs.jsonl <<'JSONL'
{"id":"1","text":"Debian 是一个自由的操作系统，由志愿者共同开发和维护。","source":"t"}
{"id":"2","text":"The package manager installs, upgrades and removes software packages.","source":"t"}
{"id":"3","text":"Debian 是一个自由的操作系统，由志愿者共同开发和维护。","source":"t"}
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

stamp() { stat -c '%n %i %y' run/clean/manifest.json run/dedup/manifest.json; }

expect_exit 0 "$lmpipe" run p.yaml
expect_grep 'stage clean \(1/2\) started: lmpipe clean docs.jsonl -o run/clean' "$WORK/err"
expect_grep 'stage dedup finished in' "$WORK/err"
[ -f run/clean/manifest.json ] || fail "clean wrote no manifest"
[ -f run/dedup/manifest.json ] || fail "dedup wrote no manifest"
[ -f run/dedup.stats.json ] || fail "dedup wrote no stats file"
first=$(stamp)

# A rerun changes nothing, and lmpipe logs each stage as up to date.
expect_exit 0 "$lmpipe" run p.yaml
[ "$(grep -c 'was up to date' "$WORK/err")" -eq 2 ] || fail "rerun did not skip both stages"
[ "$(stamp)" = "$first" ] || fail "rerun rewrote an output"

# --only dedup reruns dedup alone, with --force.
expect_exit 0 "$lmpipe" run p.yaml --only dedup
expect_grep 'stage dedup \(1/1\) started: lmpipe dedup run/clean .*--force' "$WORK/err"
if grep -q 'stage clean' "$WORK/err"; then fail "--only dedup ran clean"; fi
second=$(stamp)
[ "$(echo "$second" | head -n 1)" = "$(echo "$first" | head -n 1)" ] ||
    fail "--only dedup rewrote the clean output"
[ "$(echo "$second" | tail -n 1)" != "$(echo "$first" | tail -n 1)" ] ||
    fail "--only dedup left the dedup output as it was"

# --from clean forces both stages.
expect_exit 0 "$lmpipe" run p.yaml --from clean
[ "$(grep -c 'started: .*--force' "$WORK/err")" -eq 2 ] || fail "--from clean forced fewer than 2"

# An output made by another program version is rebuilt, and so is the stage
# after it, because its input manifest changed.
python3 - run/clean/manifest.json <<'PY' || fail "python3 could not edit the manifest"
import json, sys
manifest = json.load(open(sys.argv[1]))
manifest["program_version"] = "0.0.0-older"
json.dump(manifest, open(sys.argv[1], "w"), indent=2)
PY
expect_exit 0 "$lmpipe" run p.yaml --dry-run
expect_grep '^# stage clean: run: output run/clean: the program version changed$' "$WORK/out"
expect_grep '^# stage dedup: run: input stage clean runs first$' "$WORK/out"
before=$(stamp)
expect_exit 0 "$lmpipe" run p.yaml
[ "$(grep -c 'was up to date' "$WORK/err")" -eq 0 ] || fail "a stage skipped after the version changed"
after=$(stamp)
[ "$(echo "$after" | tail -n 1)" != "$(echo "$before" | tail -n 1)" ] ||
    fail "dedup was not rebuilt after its input manifest changed"

# A changed setting reruns that stage and the one after it.
sed -i 's/min-words: 3/min-words: 4/' p.yaml
expect_exit 0 "$lmpipe" run p.yaml
expect_grep 'run/clean will be built: the settings changed' "$WORK/err"
expect_grep 'run/dedup will be built: the inputs changed' "$WORK/err"
