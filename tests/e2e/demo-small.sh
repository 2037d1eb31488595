# Runs pipelines/demo-small.yaml on the small demo corpus (crawled from
# 127.0.0.1 by scripts/make-demo-corpus.sh), then checks the results, that a
# rerun skips every stage, and that --only reruns one stage.
# Exit status 77 (skipped) when wget or the documentation packages are missing.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

source_root=$LMPIPE_SOURCE
lmpipe="$LMPIPE_BUILD/tools/lmpipe/lmpipe"

command -v wget >/dev/null || skip "wget is not installed (apt-get install wget)"
for package in debian-reference-en debian-reference-zh-cn; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' ||
        skip "$package is not installed; run scripts/make-demo-corpus.sh once, or" \
             "apt-get install debian-reference-en debian-reference-zh-cn"
done
command -v python3 >/dev/null || skip "python3 is not installed; it reads metrics.json"

# The corpus is kept in the build folder and reused by later runs.
corpus="$LMPIPE_BUILD/demo-corpus-small"
"$source_root/scripts/make-demo-corpus.sh" "$corpus" --small --no-install

work=$(mktemp -d "${TMPDIR:-/tmp}/lmpipe-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
# The pipeline names its paths relative to the repository root.
mkdir data
ln -s "$corpus" data/demo-corpus-small
ln -s "$source_root/configs" configs
ln -s "$source_root/pipelines" pipelines
pipeline="$source_root/pipelines/demo-small.yaml"
run="$work/run"

# Output folders of the stages, from the command lines lmpipe would run.
"$lmpipe" run "$pipeline" --run-dir "$run" --dry-run >commands.txt
outputs=$(sed -n 's/.* -o \([^ ]*\).*/\1/p' commands.txt)
[ -n "$outputs" ] || fail "no stage with an output folder in the dry run"

# stamp: one line per manifest with its inode and modification time.
stamp() {
    for folder in $outputs; do
        stat -c '%n %i %y' "$folder/manifest.json"
    done
}

# --- First run ---------------------------------------------------------------
start=$(date +%s)
"$lmpipe" run "$pipeline" --run-dir "$run" >summary.txt 2>first.log ||
    { tail -n 40 first.log >&2; fail "first run failed"; }
first_seconds=$(( $(date +%s) - start ))
echo "first run: $first_seconds s" >&2
cat summary.txt >&2

for folder in $outputs; do
    [ -f "$folder/manifest.json" ] || fail "stage output $folder has no manifest.json"
done
[ -s "$run/sample.txt" ] || fail "the generated sample $run/sample.txt is empty"

python3 - "$run/train/metrics.json" <<'PY' || fail "validation loss is not below the unigram entropy"
import json, sys
metrics = json.load(open(sys.argv[1]))
loss, entropy = metrics["final_val_loss"], metrics["unigram_entropy"]
print(f"final_val_loss {loss:.4f} nats, unigram entropy {entropy:.4f} nats", file=sys.stderr)
sys.exit(0 if loss < entropy else 1)
PY

# --- A rerun skips every stage -----------------------------------------------
before=$(stamp)
start=$(date +%s)
"$lmpipe" run "$pipeline" --run-dir "$run" >/dev/null 2>second.log ||
    { tail -n 40 second.log >&2; fail "second run failed"; }
second_seconds=$(( $(date +%s) - start ))
echo "rerun: $second_seconds s" >&2
[ "$(stamp)" = "$before" ] || fail "a rerun rewrote a stage output: $(diff <(echo "$before") <(stamp))"
up_to_date=$(grep -c 'was up to date' second.log || true)
[ "$up_to_date" -eq "$(echo "$outputs" | wc -w)" ] ||
    fail "$up_to_date stages reported up to date on rerun, expected $(echo "$outputs" | wc -w)"
# The generate step has no output folder and always runs; everything else is skipped.
[ "$second_seconds" -le $(( first_seconds / 2 + 10 )) ] ||
    fail "the rerun took $second_seconds s, the first run $first_seconds s"

# --- --only reruns one stage -------------------------------------------------
"$lmpipe" run "$pipeline" --run-dir "$run" --only clean >/dev/null 2>only.log ||
    { tail -n 40 only.log >&2; fail "--only clean failed"; }
grep -q 'stage clean (1/1) started: lmpipe clean .* --force' only.log ||
    fail "--only clean did not run clean with --force"
[ "$(grep -c 'stage .* started' only.log)" -eq 1 ] || fail "--only clean ran more than one stage"
# diff exits 1 when the stamps differ, which is expected here.
difference=$(diff <(echo "$before") <(stamp) || true)
changed=$(grep -c '^>' <<<"$difference" || true)
[ "$changed" -eq 1 ] || fail "--only clean changed $changed manifests, expected 1: $difference"
grep -q "^> $run/clean/manifest.json" <<<"$difference" ||
    fail "--only clean did not rewrite the clean output: $difference"
echo "ok: first run $first_seconds s, rerun $second_seconds s" >&2
