# lmpipe report writes report.json with the funnel and training numbers and a
# self-contained report.html; headless Chromium renders it to a screenshot.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
for program in clean dedup bpe-train shard train; do
    [ -x "$(tool $program)" ] || skip "$program is not built"
done
command -v python3 >/dev/null || skip "python3 is not installed; it reads report.json"
cd "$WORK"

# 1200 documents; every fourth repeats the one before, so dedup drops 300.
awk 'BEGIN { srand(5)
    split("the package system release stable kernel module network file archive", en, " ")
    for (i = 1; i <= 1200; i++) {
        text = ""
        for (j = 0; j < 60; j++)
            text = text (i % 2 ? en[1 + int(rand() * 10)] " " : "软件包" int(rand() * 9))
        if (i % 4 == 0)
            text = previous
        previous = text
        printf "{\"id\":\"d%d\",\"text\":\"%s\",\"source\":\"t\"}\n", i, text
    }
}' >docs.jsonl
cat >p.yaml <<YAML
run-dir: run
stages:
  - {name: clean, program: clean, inputs: [docs.jsonl], settings: {min-chars: 50, min-words: 5}}
  - {name: dedup, program: dedup, inputs: [clean]}
  - {name: bpe-train, program: bpe-train, inputs: [dedup], settings: {vocab-size: 300}}
  - name: shard
    program: shard
    inputs: [dedup]
    args: [-t, '\${bpe-train}/tokenizer.json']
    settings: {val-fraction: 0.1}
  - name: train
    program: train
    inputs: [shard]
    args: [--model-config, $LMPIPE_SOURCE/pipelines/models/demo-small.yaml]
    settings: {steps: 12, batch-size: 2, seed: 1, eval-every: 4}
YAML
expect_exit 0 "$lmpipe" run p.yaml
expect_exit 0 "$lmpipe" report run
[ -s run/report/report.html ] || fail "no report.html"
[ -s run/report/report.json ] || fail "no report.json"

python3 - run/report/report.json <<'PY' || fail "report.json does not match the run"
import json, sys
report = json.load(open(sys.argv[1]))
funnel = {row["stage"]: row for row in report["funnel"]}
assert funnel["clean"]["records_in"] == 1200, funnel["clean"]
assert funnel["dedup"]["records_dropped"] == 300, funnel["dedup"]
assert funnel["dedup"]["records_kept"] == funnel["dedup"]["records_in"] - 300
stages = {entry["stage"]: entry for entry in report["stages"]}
assert stages["dedup"]["stats"]["dropped_by_reason"]["exact_duplicate"] == 300
training = stages["train"]["training"]
assert training["loss"]["step"] == list(range(1, 13)), training["loss"]["step"]
assert len(training["lr"]["value"]) == 12
assert len(training["tokens_per_second"]["value"]) == 12
assert training["val_loss"]["step"] == [4, 8, 12], training["val_loss"]["step"]
assert all(state["state"] == "done" for state in report["stages"])
PY
html=run/report/report.html
[ "$(grep -c '<polyline class="series"' "$html")" -eq 4 ] ||
    fail "expected 4 curves (loss, validation loss, learning rate, tokens/s)"
[ "$(grep -c '<rect class="kept"' "$html")" -eq 8 ] || fail "expected 8 funnel bars (4 stages x 2)"
expect_grep 'exact_duplicate</td><td>300</td>' "$html"
if grep -Eq '<script|src="http|href="http' "$html"; then fail "the report is not self-contained"; fi

# -o writes elsewhere, relative to the current directory.
expect_exit 0 "$lmpipe" report p.yaml -o elsewhere
[ -s elsewhere/report.html ] || fail "-o elsewhere wrote no report.html"
expect_exit 2 "$lmpipe" report no-such-run
expect_grep 'no-such-run: not found' "$WORK/err"

browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || skip "chromium is not installed (apt-get install chromium); the report was not rendered"
timeout 120 "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size=800,2200 --screenshot="$WORK/report.png" "file://$WORK/$html" \
    >"$WORK/browser.log" 2>&1 || { cat "$WORK/browser.log" >&2; fail "chromium failed"; }
python3 - "$WORK/report.png" <<'PY' || fail "the screenshot is not an 800x2200 PNG with content"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
width, height = struct.unpack(">II", data[16:24])
assert (width, height) == (800, 2200), (width, height)
# Sum the compressed image data: a blank page compresses to a few kilobytes.
size = 0
offset = 8
while offset < len(data):
    length, kind = struct.unpack(">I4s", data[offset:offset + 8])
    if kind == b"IDAT":
        size += length
    offset += 12 + length
assert size > 30000, size
PY
if [ -n "${LMPIPE_REPORT_SCREENSHOT:-}" ]; then cp "$WORK/report.png" "$LMPIPE_REPORT_SCREENSHOT"; fi
