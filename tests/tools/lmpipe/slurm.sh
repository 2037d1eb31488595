# lmpipe run --executor slurm against a real one-node Slurm cluster started
# in a temporary folder (slurm-cluster.sh). A stage of three tasks runs as a
# job array, and train with --nproc 2 as two srun ranks. One task fails on
# purpose: lmpipe names its log and cancels the later stages, and the rerun
# resubmits only that task and the stages after it. The outputs equal a local
# run's file for file. --no-wait returns after submitting, lmpipe status
# shows the job, and SIGINT stops the waiting but not the jobs. Skipped when
# not root or when slurm-wlm or munge is missing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/slurm-cluster.sh"
lmpipe=$(tool lmpipe)
for program in clean dedup bpe-train shard train; do
    [ -x "$(tool "$program")" ] || skip "$program is not built"
done
slurm_cluster_check || exit $?
cd "$WORK"
cleanup() {
    slurm_cluster_stop "$WORK/cluster"
    rm -rf "$WORK"
}
trap cleanup EXIT
# A test timeout sends SIGTERM; the daemons must stop then too.
trap 'exit 143' TERM INT
slurm_cluster_start "$WORK/cluster" $$ || { [ $? -eq 77 ] && exit 77; fail "the Slurm cluster did not start"; }

# Three document files, so that each task of clean reads one; English and Chinese.
mkdir docs
awk 'BEGIN {
    srand(3)
    split("the package system release stable kernel module driver network file user " \
          "mirror archive update security build source library shell process", en, " ")
    split("系统 软件 发行 版本 稳定 内核 驱动 网络 文件 用户 镜像 更新 安全 构建 源码", zh, " ")
    for (i = 1; i <= 600; i++) {
        text = ""
        for (j = 0; j < 30 + int(rand() * 40); j++)
            text = text (i % 3 == 0 ? zh[1 + int(rand() * 15)] : en[1 + int(rand() * 20)] " ")
        file = sprintf("docs/part-%d.jsonl", i % 3)
        printf "{\"id\":\"d%d\",\"text\":\"%s\",\"source\":\"synthetic\"}\n", i, text > file
    }
}'

cat >p.yaml <<YAML
run-dir: run
stages:
  - name: clean
    program: clean
    inputs: [docs]
    settings: {min-chars: 20, min-words: 3}
    tasks: 3
    resources: {cpus: 1, memory: 256M, time: "10"}
  - name: dedup
    program: dedup
    inputs: [clean]
  - name: bpe-train
    program: bpe-train
    inputs: [dedup]
    settings: {vocab-size: 300}
  - name: shard
    program: shard
    inputs: [dedup]
    args: [-t, '\${bpe-train}/tokenizer.json']
    settings: {val-fraction: 0.1}
  - name: train
    program: train
    inputs: [shard]
    threads: 2
    args: [--model-config, $LMPIPE_SOURCE/pipelines/models/demo-small.yaml, --nproc, 2]
    settings: {steps: 6, batch-size: 4, seed: 1, eval-every: 3, checkpoint-every: 6}
    resources: {cpus: 1, memory: 512M}
YAML

# content RUN: per stage its record count, and each file its manifest lists
# with the SHA-256 of its bytes, leaving out files that record durations.
content() {
    python3 - "$1" <<'PY'
import hashlib, json, os, re, sys
run = sys.argv[1]
timing = re.compile(r"(^|/)(stats(-\d+)?\.json|train_log\.jsonl|metrics\.json|trainer_state\.json)$")
for stage in ["clean", "dedup", "bpe-train", "shard", "train"]:
    manifest = json.load(open(os.path.join(run, stage, "manifest.json")))
    print(stage, "records", manifest["records"])
    for entry in sorted(manifest["files"], key=lambda e: e["name"]):
        if not timing.search(entry["name"]):
            data = open(os.path.join(run, stage, entry["name"]), "rb").read()
            print(stage, entry["name"], hashlib.sha256(data).hexdigest(), entry["records"])
PY
}

run_slurm() {
    "$lmpipe" run p.yaml --executor slurm --slurm-poll 0.3 "$@"
}

# The reference: the same pipeline with the local executor.
expect_exit 0 "$lmpipe" run p.yaml --run-dir local
content local >local.txt || fail "the local run left an incomplete manifest"

# First Slurm run: task 1 of clean fails to rename its part into place,
# because a folder already has that name.
mkdir -p run/clean/part-00001-00000.jsonl.zst/blocker
expect_exit 1 run_slurm
cp "$WORK/err" first.err
expect_grep 'stage clean submitted as job [0-9]+ \(tasks 0-2 of 3\)' first.err
expect_grep 'stage train submitted as job [0-9]+ \(2 ranks through srun\)' first.err
expect_grep "stage clean task 1/3 \(job [0-9]+_1\) FAILED, exit code 1; log $WORK/run/logs/clean.1.err" \
    first.err
expect_grep 'stage dedup \(job [0-9]+\) cancelled: input stage clean failed' first.err
expect_grep 'cannot rename into place' run/logs/clean.1.err
for stage in dedup bpe-train shard train; do
    [ ! -e "run/logs/$stage.0.out" ] || fail "stage $stage ran after its input failed"
done
expect_grep '^#SBATCH --cpus-per-task=1$' run/slurm/clean.sbatch
expect_grep '^#SBATCH --mem=256M$' run/slurm/clean.sbatch
expect_grep '^#SBATCH --time=10$' run/slurm/clean.sbatch
expect_grep '^#SBATCH --job-name=lmpipe-run-clean$' run/slurm/clean.sbatch
expect_grep '^# Submitted with: sbatch --array=0-2 ' run/slurm/clean.sbatch
expect_grep '--task "\$SLURM_ARRAY_TASK_ID/3"$' run/slurm/clean.sbatch
expect_grep '^#SBATCH --ntasks=2$' run/slurm/train.sbatch
expect_grep '^#SBATCH --mem-per-cpu=512M$' run/slurm/train.sbatch
expect_grep '^srun .*--rank "\$SLURM_PROCID" --world-size "\$SLURM_NTASKS"' run/slurm/train.sbatch
expect_grep '^# Submitted with: sbatch --dependency=afterok:[0-9]+ --kill-on-invalid-dep=yes ' \
    run/slurm/train.sbatch

# lmpipe status shows the failed task with its log, and the stages that never ran.
expect_exit 0 "$lmpipe" status run
expect_grep '^clean +failed ' "$WORK/out"
expect_grep '^clean +[0-9]+ +0,1,2 +.*FAILED 1' "$WORK/out"
expect_grep "exit status 1, log $WORK/run/logs/clean.1.err" "$WORK/out"
expect_grep '^dedup +[0-9]+ +0 +CANCELLED 1 +never ran: input stage clean failed' "$WORK/out"

# The rerun resubmits only task 1 of clean, and the stages after it.
touch -d '2001-01-01' run/logs/clean.0.err run/logs/clean.2.err
rm -rf run/clean/part-00001-00000.jsonl.zst
expect_exit 0 run_slurm
cp "$WORK/err" second.err
expect_grep 'stage clean submitted as job [0-9]+ \(tasks 1 of 3\)' second.err
expect_grep '^# Submitted with: sbatch --array=1 ' run/slurm/clean.sbatch
for task in 0 2; do
    [ "$(stat -c %Y "run/logs/clean.$task.err")" -lt 1000000000 ] ||
        fail "task $task of clean ran again although it had finished"
done
expect_grep 'stage train \(job [0-9]+\): COMPLETED 1' second.err
expect_grep '2 data-parallel ranks joined' run/logs/train.0.err
content run >slurm.txt || fail "the Slurm run left an incomplete manifest"
diff local.txt slurm.txt >&2 || fail "the Slurm run's outputs differ from the local run's"
[ "$(grep -c . slurm.txt)" -ge 12 ] || fail "the comparison covered too few files"

# A third run finds everything up to date and submits nothing.
expect_exit 0 run_slurm
expect_grep 'stage train not submitted: output run/train is up to date' "$WORK/err"
if grep -q 'submitted as job' "$WORK/err"; then fail "an up-to-date stage was submitted"; fi

# --no-wait returns after submitting; a held job stays pending, so a second
# submission is rejected until it has ended.
expect_exit 0 run_slurm --only dedup --no-wait --slurm-arg=--hold
expect_grep 'stage dedup submitted as job [0-9]+' "$WORK/err"
job=$(sed -n 's/.*stage dedup submitted as job \([0-9]*\).*/\1/p' "$WORK/err")
expect_exit 0 "$lmpipe" status run
expect_grep "^dedup +$job +0 +PENDING 1 " "$WORK/out"
expect_exit 1 run_slurm --only dedup
expect_grep "job $job of an earlier submission is still PENDING" "$WORK/err"
scontrol release "$job"
for _ in $(seq 1 100); do
    "$lmpipe" status run >status.txt 2>/dev/null
    grep -Eq "^dedup +$job +0 +COMPLETED 1" status.txt && break
    sleep 0.2
done
expect_grep "^dedup +$job +0 +COMPLETED 1" status.txt

# SIGINT stops the waiting and names the jobs, which keep running.
"$lmpipe" run p.yaml --executor slurm --slurm-poll 0.3 --only dedup --slurm-arg=--hold \
    2>interrupted.err &
runner=$!
for _ in $(seq 1 100); do
    grep -q 'submitted as job' interrupted.err && break
    sleep 0.1
done
kill -INT "$runner"
for _ in $(seq 1 100); do
    kill -0 "$runner" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$runner" 2>/dev/null; then
    kill -9 "$runner"
    fail "lmpipe kept waiting 10 s after SIGINT"
fi
status=0
wait "$runner" || status=$?
[ "$status" -eq 1 ] || fail "lmpipe exited with $status after SIGINT, expected 1"
expect_grep 'interrupted by signal 2: lmpipe stops waiting, but the jobs keep running' \
    interrupted.err
job=$(sed -n 's/.*stage dedup submitted as job \([0-9]*\).*/\1/p' interrupted.err)
[ "$(squeue -h -j "$job" -o %T)" = PENDING ] || fail "job $job did not keep waiting after SIGINT"
scancel "$job"
