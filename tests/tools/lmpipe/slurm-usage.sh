# lmpipe run --executor slurm without a cluster: option and stage checks, a
# missing sbatch, and the submit-and-wait logic against stand-in sbatch and
# squeue scripts that record their arguments and report a chosen job state.
. "$(dirname "$0")/../lib.sh"
lmpipe=$(tool lmpipe)
[ -x "$(tool clean)" ] || skip "clean is not built"
cd "$WORK"

printf '{"id":"1","text":"Debian 是一个自由的操作系统，由志愿者共同开发和维护。","source":"t"}\n' \
    >docs.jsonl
cat >p.yaml <<'YAML'
run-dir: run
stages:
  - name: clean
    program: clean
    inputs: [docs.jsonl]
    settings: {min-chars: 5}
    resources: {cpus: 2, memory: 1G, gpus: 1, time: "1:00:00"}
YAML

# Options that only the Slurm executor takes, and unknown executors.
expect_exit 2 "$lmpipe" run p.yaml --no-wait
expect_grep '--no-wait needs --executor slurm' "$WORK/err"
expect_exit 2 "$lmpipe" run p.yaml --slurm-partition gpu
expect_grep '--slurm-partition needs --executor slurm' "$WORK/err"
expect_exit 2 "$lmpipe" run p.yaml --executor pbs
expect_grep '--executor "pbs" is not known; use local or slurm' "$WORK/err"

# Stages the Slurm executor cannot run are rejected with their line.
cat >both.yaml <<'YAML'
run-dir: run-both
stages:
  - {name: train, program: train, inputs: [docs.jsonl], tasks: 2, args: [--nproc, 2]}
YAML
expect_exit 2 "$lmpipe" run both.yaml --executor slurm
expect_grep 'both.yaml:3: stage train has both tasks and --nproc' "$WORK/err"
cat >incremental.yaml <<'YAML'
run-dir: run-incremental
stages:
  - {name: clean, program: clean, inputs: [docs.jsonl], incremental: true}
YAML
expect_exit 2 "$lmpipe" run incremental.yaml --executor slurm
expect_grep 'incremental.yaml:3: stage clean is incremental, which only the local executor runs' \
    "$WORK/err"

cat >stream.yaml <<'YAML'
run-dir: run-stream
stages:
  - {name: produce, program: clean, inputs: [docs.jsonl]}
  - {name: filter, program: clean, inputs: [produce], stream: true}
YAML
expect_exit 2 "$lmpipe" run stream.yaml --executor slurm
expect_grep 'stream.yaml:3: stage produce is part of a ZeroMQ stream' "$WORK/err"
expect_grep 'stream.yaml:4: stage filter is part of a ZeroMQ stream' "$WORK/err"

# Without the Slurm clients on PATH the run fails and names the package.
expect_exit 1 env PATH=/nonexistent "$lmpipe" run p.yaml --executor slurm
expect_grep 'sbatch not found on PATH; .*slurm-client' "$WORK/err"

# Stand-in clients: sbatch records its arguments and prints job id 42;
# squeue reports job 42 in the state and wait status given by $FAKE_STATE.
mkdir bin
cat >bin/sbatch <<'SH'
#!/bin/sh
echo "$@" >>"$FAKE_LOG"
echo 42
SH
cat >bin/squeue <<'SH'
#!/bin/sh
echo "squeue $*" >>"$FAKE_LOG"
echo "42 $FAKE_STATE None"
SH
cat >bin/sacct <<'SH'
#!/bin/sh
exit 1
SH
chmod +x bin/*
export FAKE_LOG="$WORK/calls.log"
run_fake() {
    FAKE_STATE=$1 PATH="$WORK/bin:$PATH" "$lmpipe" run p.yaml --executor slurm \
        --slurm-poll 0.1 --slurm-partition gpu --slurm-account nlp --slurm-arg=--qos=high
}

expect_exit 0 run_fake "COMPLETED 0"
expect_grep '^--parsable --qos=high .*/run/slurm/clean.sbatch$' calls.log
expect_grep 'squeue --noheader --array --states=all .* --jobs 42$' calls.log
expect_grep 'stage clean submitted as job 42: output run/clean: it has no manifest' "$WORK/err"
expect_grep 'stage clean \(job 42\): COMPLETED 1' "$WORK/err"
script=run/slurm/clean.sbatch
for line in '--job-name=lmpipe-run-clean' '--cpus-per-task=2' '--mem=1G' '--gres=gpu:1' \
            '--time=1:00:00' '--partition=gpu' '--account=nlp' \
            "--output=$WORK/run/logs/clean.0.out" "--error=$WORK/run/logs/clean.0.err"; do
    grep -qxF -- "#SBATCH $line" "$script" || fail "$script has no line #SBATCH $line"
done
expect_grep "^exec $(tool lmpipe) clean docs.jsonl -o run/clean --set min-chars=5 " "$script"
if grep -q -- '--task' "$script"; then fail "a stage without tasks got --task"; fi
python3 - run/.lmpipe/state.json <<'PY' || fail "the state file lacks the Slurm job"
import json, sys
state = json.load(open(sys.argv[1]))
assert state["executor"] == "slurm", state
clean = state["stages"]["clean"]
assert clean["slurm_job"] == "42" and clean["slurm_tasks"] == {"0": "COMPLETED"}, clean
PY

# A failed job names its exit code (wait status 512 is exit status 2) and log.
expect_exit 1 run_fake "FAILED 512"
expect_grep "stage clean task 0/1 \(job 42\) FAILED, exit code 2; log $WORK/run/logs/clean.0.err" \
    "$WORK/err"
expect_grep 'resubmits only the tasks that did not finish' "$WORK/err"
