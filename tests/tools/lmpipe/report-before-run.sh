# lmpipe report before the first run exits 0 with a page that states nothing
# has run yet, creating the missing run folder and any parents of --output; after a
# run the same command reports the stages.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$(tool clean)" ] || skip "clean is not built"
command -v python3 >/dev/null || skip "python3 is not installed; it reads report.json"
cd "$WORK"

cat >docs.jsonl <<'JSONL'
{"id":"1","text":"Debian 是一个自由的操作系统，由志愿者共同开发和维护。","source":"t"}
{"id":"2","text":"The package manager installs, upgrades and removes software packages.","source":"t"}
JSONL
cat >p.yaml <<'YAML'
run-dir: runs/第一次
stages:
  - name: clean
    program: clean
    inputs: [docs.jsonl]
    settings: {min-chars: 5, min-words: 3}
YAML

expect_exit 0 "$lmpipe" report p.yaml
expect_grep "nothing has run yet in runs/第一次, and the report states that" "$WORK/err"
[ -s runs/第一次/report/report.html ] || fail "no report.html before the first run"
expect_grep 'Nothing has run yet' runs/第一次/report/report.html
expect_grep '<h1>Run runs/第一次</h1>' runs/第一次/report/report.html
expect_grep 'lmpipe run p\.yaml' runs/第一次/report/report.html
if grep -q 'Data funnel' runs/第一次/report/report.html; then
    fail "the page before the first run shows a data funnel"
fi
python3 - runs/第一次/report/report.json false <<'PY' || fail "report.json before the run is wrong"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["has_run"] is (sys.argv[2] == "true"), report["has_run"]
assert [entry["stage"] for entry in report["stages"]] == ["clean"], report["stages"]
PY

# --output names a folder whose parents are missing.
expect_exit 0 "$lmpipe" report p.yaml -o pages/before/run
[ -s pages/before/run/report.html ] || fail "--output with missing parents wrote no report.html"
[ -s pages/before/run/report.json ] || fail "--output with missing parents wrote no report.json"

expect_exit 0 "$lmpipe" run p.yaml
expect_exit 0 "$lmpipe" report p.yaml
if grep -q 'nothing has run yet' "$WORK/err"; then fail "the report after a run says nothing ran"; fi
expect_grep 'Data funnel' runs/第一次/report/report.html
python3 - runs/第一次/report/report.json true <<'PY' || fail "report.json after the run is wrong"
import json, sys
report = json.load(open(sys.argv[1]))
assert report["has_run"] is (sys.argv[2] == "true"), report["has_run"]
assert report["funnel"][0]["records_in"] == 2, report["funnel"]
PY
