# Crash safety: SIGKILL a stage (or lmpipe with all its stages) at random
# points of a pipeline run, rerun, and require the outputs to be byte-identical
# to an uninterrupted run, with the same record counts. After each kill, every
# folder that has a manifest must hold exactly the files it lists.
# LMPIPE_CRASH_ROUNDS sets the number of kills (default 6), LMPIPE_CRASH_SEED
# the random seed (default: from the clock, printed for a rerun).
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit 77; }

lmpipe="$LMPIPE_BUILD/tools/lmpipe/lmpipe"
for program in clean dedup bpe-train shard train; do
    [ -x "$LMPIPE_BUILD/tools/$program/$program" ] || skip "$program is not built"
done
command -v python3 >/dev/null || skip "python3 is not installed; it reads the manifests"
rounds=${LMPIPE_CRASH_ROUNDS:-6}
seed=${LMPIPE_CRASH_SEED:-$(date +%s)}
echo "seed $seed (rerun with LMPIPE_CRASH_SEED=$seed)" >&2
RANDOM=$seed

work=$(mktemp -d "${TMPDIR:-/tmp}/lmpipe-crash.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

# 3000 documents of English and Chinese words; every tenth repeats the one
# before, so dedup has work.
awk 'BEGIN {
    srand(7)
    split("the a package system release stable debian kernel module driver network file " \
          "user group mirror archive update security testing unstable build source binary " \
          "library shell script process memory disk", en, " ")
    split("系统 软件 包 发行 版本 稳定 内核 驱动 网络 文件 用户 镜像 更新 安全 测试 构建 " \
          "源码 程序 内存 磁盘", zh, " ")
    for (i = 1; i <= 3000; i++) {
        text = ""
        n = 40 + int(rand() * 80)
        for (j = 0; j < n; j++)
            text = text (i % 3 == 0 ? zh[1 + int(rand() * 20)] : en[1 + int(rand() * 28)] " ")
        if (i % 10 == 0)
            text = previous
        previous = text
        printf "{\"id\":\"d%d\",\"text\":\"%s\",\"source\":\"synthetic\"}\n", i, text
    }
}' >docs.jsonl

cat >p.yaml <<YAML
run-dir: run
stages:
  - name: clean
    program: clean
    inputs: [docs.jsonl]
    settings: {min-chars: 50, min-words: 5}
    tasks: 2
  - name: dedup
    program: dedup
    inputs: [clean]
  - name: bpe-train
    program: bpe-train
    inputs: [dedup]
    settings: {vocab-size: 400}
  - name: shard
    program: shard
    inputs: [dedup]
    args: [-t, '\${bpe-train}/tokenizer.json']
    settings: {val-fraction: 0.1}
  - name: train
    program: train
    inputs: [shard]
    args: [--model-config, $LMPIPE_SOURCE/pipelines/models/demo-small.yaml]
    settings: {steps: 20, batch-size: 4, seed: 1, eval-every: 10, checkpoint-every: 10}
YAML

# content RUN: one line per file listed in a manifest of RUN with its SHA-256
# and record count, and one per manifest with its total. Files that record
# durations (stats, step logs, metrics, trainer state) are left out.
content() {
    python3 - "$1" <<'PY'
import hashlib, json, os, re, sys
run = sys.argv[1]
timing = re.compile(r"(^|/)(stats(-\d+)?\.json|train_log\.jsonl|metrics\.json|trainer_state\.json)$")
for stage in sorted(os.listdir(run)):
    path = os.path.join(run, stage, "manifest.json")
    if not os.path.isfile(path):
        continue
    manifest = json.load(open(path))
    print(stage, "records", manifest["records"])
    for entry in sorted(manifest["files"], key=lambda e: e["name"]):
        if timing.search(entry["name"]):
            continue
        data = open(os.path.join(run, stage, entry["name"]), "rb").read()
        print(stage, entry["name"], hashlib.sha256(data).hexdigest(), entry["records"])
PY
}

# check_complete RUN: every manifest's files exist with the listed sizes.
check_complete() {
    python3 - "$1" <<'PY'
import json, os, sys
run = sys.argv[1]
for stage in sorted(os.listdir(run)):
    path = os.path.join(run, stage, "manifest.json")
    if not os.path.isfile(path):
        continue
    for entry in json.load(open(path))["files"]:
        file = os.path.join(run, stage, entry["name"])
        if not os.path.isfile(file) or os.path.getsize(file) != entry["bytes"]:
            sys.exit(f"{file}: listed in {path} but missing or of another size")
PY
}

start=$(date +%s%N)
"$lmpipe" run p.yaml --jobs 2 2>reference.log || { tail -n 30 reference.log >&2; fail "reference run failed"; }
reference_ms=$(( ($(date +%s%N) - start) / 1000000 ))
content run >reference.txt
[ "$(grep -c . reference.txt)" -ge 12 ] || fail "the reference run listed too few files"
rm -rf run
echo "reference run: $reference_ms ms" >&2

# state PID: the process state letter (R, S, T, Z...), empty when it is gone.
state() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1; }

# The kill falls within the first 60 % of a run. A run that ends before its
# kill (the machine got less busy than during the reference run) sets the
# span to its own length, and the round is repeated, up to twice the rounds.
killed=0
span_ms=$reference_ms
round=0
while [ "$killed" -lt "$rounds" ] && [ "$round" -lt $((rounds * 2)) ]; do
    round=$((round + 1))
    delay_ms=$(( 200 + RANDOM % (span_ms * 6 / 10 + 1) ))
    round_start=$(date +%s%N)
    # Odd rounds kill one stage process; even rounds kill lmpipe alone with
    # SIGKILL, and the kernel must end its stages at once (they ask for a
    # death signal), as on a crashed node, so nothing writes into run/ after.
    "$lmpipe" run p.yaml --jobs 2 2>"round-$round.log" &
    runner=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    victim=""
    orphans=""
    for _ in $(seq 1 50); do
        if [ $((round % 2)) -eq 0 ]; then
            if kill -0 "$runner" 2>/dev/null; then
                victim="lmpipe alone"
                # kill -STOP returns before the signal takes effect; wait
                # until lmpipe is stopped, so the list of its stages is final.
                kill -STOP "$runner"
                for _ in $(seq 1 100); do
                    case "$(state "$runner")" in T | Z | "") break ;; esac
                    sleep 0.02
                done
                orphans=$(pgrep -P "$runner" || true)
                kill -KILL "$runner"
            fi
        else
            children=$(pgrep -P "$runner" || true)
            if [ -n "$children" ]; then
                pid=$(echo "$children" | shuf -n 1 --random-source=<(yes "$round$seed"))
                # The stage may end before ps reads it; kill then finds no victim.
                # A zombie has finished its work, so killing it kills nothing.
                case "$(state "$pid")" in
                Z | "") ;;
                *)
                    victim="$(ps -o args= -p "$pid" | cut -c1-60 || true) (pid $pid)"
                    kill -KILL "$pid" 2>/dev/null || victim=""
                    ;;
                esac
            fi
        fi
        [ -n "$victim" ] && break
        kill -0 "$runner" 2>/dev/null || break
        sleep 0.05
    done
    status=0
    wait "$runner" || status=$?
    if [ -n "$orphans" ]; then
        for _ in $(seq 1 100); do
            alive=$(for pid in $orphans; do case "$(state "$pid")" in Z | "") ;; *) echo "$pid" ;; esac; done)
            [ -z "$alive" ] && break
            sleep 0.05
        done
        [ -z "$alive" ] ||
            fail "round $round: stage processes $(echo $alive) outlived the killed lmpipe"
    fi
    if [ -z "$victim" ]; then
        [ "$status" -eq 0 ] ||
            { tail -n 20 "round-$round.log" >&2; fail "round $round: the run failed without a kill"; }
        span_ms=$(( ($(date +%s%N) - round_start) / 1000000 ))
        echo "round $round: the run ended before a kill at $delay_ms ms, after $span_ms ms" >&2
    else
        echo "round $round: killed $victim at $delay_ms ms; lmpipe exited with $status" >&2
        if [ "$status" -eq 0 ]; then
            # A stage that exits between the state check and the signal is
            # not killed; lmpipe must then succeed and must not log a kill.
            ! grep -q 'was killed by signal' "round-$round.log" ||
                fail "round $round: lmpipe reported success after a stage was killed"
            echo "round $round: the stage ended before the signal reached it" >&2
        else
            killed=$((killed + 1))
        fi
        check_complete run || fail "round $round: a folder with a manifest is incomplete"
    fi

    "$lmpipe" run p.yaml --jobs 2 2>"rerun-$round.log" ||
        { tail -n 30 "rerun-$round.log" >&2; fail "round $round: the rerun failed"; }
    content run >"round-$round.txt"
    diff reference.txt "round-$round.txt" >&2 ||
        fail "round $round: outputs differ from the uninterrupted run (seed $seed)"
    leftovers=$(find run -maxdepth 2 -name '*.tmp-*' | head -n 3)
    [ -z "$leftovers" ] || fail "round $round: temporary files left after the rerun: $leftovers"
    rm -rf run
done
[ "$killed" -ge $((rounds / 2)) ] || fail "only $killed of $rounds rounds killed something"
echo "ok: $killed kills, every rerun byte-identical to the uninterrupted run" >&2
