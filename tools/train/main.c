/*
 * train: trains a GPT-2 or Llama model on token shards and writes Hugging Face layout
 * checkpoints, a step log and final metrics. See docs/model.md.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "comm.h"
#include "kernels.h"
#include "log.h"
#include "optimizer.h"
#include "precision.h"
#include "trainer.h"

/* How this process takes part in a data-parallel run. */
typedef struct {
    int64_t nproc;             /* local workers that --nproc starts */
    int64_t rank;              /* -1: not given */
    int64_t world_size;        /* a setting: ranks of the run, 1 when not data-parallel */
    char *rendezvous;
    double heartbeat_seconds;
    pid_t *children;           /* --nproc: ranks 1..nproc-1 */
} workers_t;

/*
 * Checks the data-parallel options and settles world_size, which enters the
 * settings hash: N for --nproc N, --world-size for ranks started by hand.
 */
static int check_workers(workers_t *w)
{
    bool by_hand = w->rank >= 0 || w->rendezvous;
    if (w->nproc > 1 && (by_hand || (w->world_size != 1 && w->world_size != w->nproc))) {
        log_error("--nproc starts its own ranks; drop --rank, --world-size and --rendezvous");
        return CLI_USAGE_ERROR;
    }
    if (w->nproc > 1)
        w->world_size = w->nproc;
    if (!by_hand && w->nproc <= 1 && w->world_size != 1) {
        log_error("--world-size %lld needs --rank R and --rendezvous ADDRESS on every rank, "
                  "or use --nproc %lld to start the ranks on this machine",
                  (long long)w->world_size, (long long)w->world_size);
        return CLI_USAGE_ERROR;
    }
    if (by_hand && (w->rank < 0 || !w->rendezvous)) {
        log_error("a rank started by hand needs --rank R, --world-size N and --rendezvous "
                  "ADDRESS (tcp://HOST:PORT or ipc://PATH), all three");
        return CLI_USAGE_ERROR;
    }
    if (by_hand && w->rank >= w->world_size) {
        log_error("--rank %lld is outside --world-size %lld; ranks run from 0 to N-1",
                  (long long)w->rank, (long long)w->world_size);
        return CLI_USAGE_ERROR;
    }
    return CLI_CONTINUE;
}

/*
 * Joins the ranks of this run. With --nproc N this process forks ranks
 * 1..N-1 (before any compute thread starts) and stays rank 0; every rank
 * then gets a share of --threads. Returns NULL after logging.
 */
static comm_t *join_workers(workers_t *w, int64_t *threads)
{
    if (w->nproc <= 1 && !w->rendezvous)
        return comm_single();
    char address[64];
    int rank = (int)w->rank, world = (int)w->world_size;
    if (w->nproc > 1) {
        /* A Linux abstract socket named after this process: unlike a probed
         * TCP port, nothing else can take it between choosing and binding it,
         * and it leaves no file behind. */
        snprintf(address, sizeof address, "ipc://@lmpipe-train-%ld", (long)getpid());
        pid_t parent = getpid();
        world = (int)w->nproc;
        rank = 0;
        w->children = calloc((size_t)world, sizeof *w->children);
        fflush(NULL);
        for (int r = 1; r < world && rank == 0; r++) {
            pid_t pid = fork();
            if (pid < 0) {
                log_error("cannot start rank %d: fork failed", r);
                return NULL;
            }
            if (pid == 0) {
                /* A rank must not outlive rank 0, even when it is killed with
                 * SIGKILL and cannot stop the others itself. */
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
                    _exit(1);
                rank = r;
                free(w->children);
                w->children = NULL;
            } else {
                w->children[r] = pid;
            }
        }
        *threads = *threads / world > 0 ? *threads / world : 1;
    } else {
        snprintf(address, sizeof address, "%s", w->rendezvous);
    }
    if (rank != 0)
        log_set_level(log_get_level() < LOG_LEVEL_WARN ? log_get_level() : LOG_LEVEL_WARN);
    rendezvous_options_t options = {.address = w->nproc > 1 ? address : w->rendezvous,
                                    .rank = rank, .world_size = world,
                                    .heartbeat_seconds = w->heartbeat_seconds};
    rendezvous_t *group = rendezvous_join(&options);
    if (!group)
        return NULL;
    if (rank == 0)
        log_info("%d data-parallel ranks joined at %s", world, options.address);
    return comm_from_rendezvous(group);
}

/*
 * --nproc after a failed run: sends ranks 1..N-1 SIGTERM (and SIGCONT, so that
 * a frozen rank receives it) and kills those still running after
 * `grace_seconds`, so that waiting for them cannot hang.
 */
static void stop_workers(const workers_t *w, double grace_seconds)
{
    for (int r = 1; w->children && r < w->nproc; r++) {
        if (w->children[r] > 0) {
            kill(w->children[r], SIGTERM);
            kill(w->children[r], SIGCONT);
        }
    }
    double deadline = time_now_seconds() + grace_seconds;
    for (int r = 1; w->children && r < w->nproc; r++) {
        if (w->children[r] <= 0)
            continue;
        siginfo_t info = {0};
        int waited;
        /* WNOWAIT leaves the exit status for wait_workers to report. */
        while ((waited = waitid(P_PID, (id_t)w->children[r], &info,
                                WEXITED | WNOHANG | WNOWAIT)) == 0 &&
               info.si_pid == 0 && time_now_seconds() < deadline)
            usleep(50000);
        if (waited == 0 && info.si_pid == 0) {
            log_warn("rank %d (pid %d) did not end within %.0f s of SIGTERM; killing it", r,
                     (int)w->children[r], grace_seconds);
            kill(w->children[r], SIGKILL);
        }
    }
}

/* --nproc: waits for ranks 1..N-1. Returns 0 when all ended well. */
static int wait_workers(const workers_t *w)
{
    int failed = 0;
    for (int r = 1; w->children && r < w->nproc; r++) {
        int status;
        if (!w->children[r] || waitpid(w->children[r], &status, 0) < 0)
            continue;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
            continue;
        if (WIFSIGNALED(status))
            log_error("rank %d (pid %d) was killed by signal %d", r, (int)w->children[r],
                      WTERMSIG(status));
        else
            log_error("rank %d (pid %d) failed with exit status %d", r, (int)w->children[r],
                      WEXITSTATUS(status));
        failed = 1;
    }
    return failed;
}

static int check_settings(const cli_program_t *program, const train_settings_t *settings)
{
    const cli_stage_t *stage = program->stage;
    if (stage->inputs.count != 1) {
        log_error("expected one input, the token shard folder written by shard; got %zu",
                  stage->inputs.count);
        return CLI_USAGE_ERROR;
    }
    if (!stage->output) {
        log_error("missing -o FOLDER: the output folder for checkpoints and metrics");
        return CLI_USAGE_ERROR;
    }
    if (!settings->model_config_path && !settings->init_from && !settings->continue_from) {
        log_error("missing --model-config FILE (a YAML file such as configs/models/tiny.yaml), "
                  "--init-from FOLDER (a Hugging Face checkpoint) or --continue-from FOLDER "
                  "(an earlier train output)");
        return CLI_USAGE_ERROR;
    }
    if (settings->continue_from && (settings->init_from || settings->resume)) {
        log_error("--continue-from resumes or continues by itself; drop --init-from and "
                  "--resume");
        return CLI_USAGE_ERROR;
    }
    if (settings->model_config_path && settings->init_from) {
        log_error("--init-from takes the model config from the checkpoint; drop --model-config");
        return CLI_USAGE_ERROR;
    }
    schedule_kind_t kind;
    if (optimizer_parse_schedule(settings->schedule, &kind) != 0) {
        log_error("--set schedule=%s: expected cosine, linear or wsd", settings->schedule);
        return CLI_USAGE_ERROR;
    }
    if (settings->decay_fraction <= 0.0) {
        log_error("--set decay-fraction must be above 0 (the share of steps that decay)");
        return CLI_USAGE_ERROR;
    }
    if (stage->task_count != 1) {
        log_error("train does not split into tasks; drop --task");
        return CLI_USAGE_ERROR;
    }
    return CLI_CONTINUE;
}

int main(int argc, char **argv)
{
    log_init("train");
    train_settings_t settings = {
        .batch_size = 8,
        .grad_accum = 1,
        .seq_len = 0,
        .steps = 1000,
        .learning_rate = 6e-4,
        .min_lr_ratio = 0.1,
        .warmup_steps = 100,
        .weight_decay = 0.1,
        .beta1 = 0.9,
        .beta2 = 0.95,
        .eps = 1e-8,
        .grad_clip = 1.0,
        .eval_every = 100,
        .eval_batches = 10,
        .checkpoint_every = 500,
        .seed = 1337,
        .schedule = "cosine",
        .decay_fraction = 0.2,
        .matmul_precision = "auto",
    };
    workers_t workers = {.nproc = 1, .rank = -1, .world_size = 1, .heartbeat_seconds = 60};
    cli_option_t options[] = {
        {"model-config", 0, CLI_STRING, &settings.model_config_path, "FILE", NULL,
         "YAML model config: n_layer, n_head, n_embd, n_ctx (see configs/models/)", 0, 0, 0},
        {"tokenizer", 0, CLI_STRING, &settings.tokenizer_path, "FILE", NULL,
         "tokenizer.json copied into checkpoints; default: the one in the shard folder", 0, 0,
         0},
        {"resume", 0, CLI_FLAG, &settings.resume, NULL, NULL,
         "continue from the newest checkpoint of OUTPUT: final/ or the latest in "
         "OUTPUT/checkpoints", 0, 0, 0},
        {"batch-size", 0, CLI_INT, &settings.batch_size, "N", "sequences",
         "sequences per micro-batch on each rank", CLI_SETTING, 1, 1 << 20},
        {"grad-accum", 0, CLI_INT, &settings.grad_accum, "N", "micro-batches",
         "micro-batches per step; the gradient averages over all their tokens", CLI_SETTING, 1,
         1 << 20},
        {"seq-len", 0, CLI_INT, &settings.seq_len, "N", "tokens",
         "tokens per sequence; 0 means the model's n_ctx", CLI_SETTING, 0, 1 << 20},
        {"steps", 0, CLI_INT, &settings.steps, "N", "steps", "optimizer steps in total",
         CLI_SETTING, 1, 1e12},
        {"learning-rate", 0, CLI_DOUBLE, &settings.learning_rate, "LR", NULL,
         "peak learning rate after warmup", CLI_SETTING, 0, 10},
        {"min-lr-ratio", 0, CLI_DOUBLE, &settings.min_lr_ratio, "R", NULL,
         "final learning rate as a fraction of the peak (cosine decay)", CLI_SETTING, 0, 1},
        {"warmup-steps", 0, CLI_INT, &settings.warmup_steps, "N", "steps",
         "linear warmup steps", CLI_SETTING, 0, 1e12},
        {"weight-decay", 0, CLI_DOUBLE, &settings.weight_decay, "WD", NULL,
         "AdamW decoupled weight decay, applied to matrices only", CLI_SETTING, 0, 10},
        {"beta1", 0, CLI_DOUBLE, &settings.beta1, "B", NULL, "AdamW first-moment decay",
         CLI_SETTING, 0, 1},
        {"beta2", 0, CLI_DOUBLE, &settings.beta2, "B", NULL, "AdamW second-moment decay",
         CLI_SETTING, 0, 1},
        {"eps", 0, CLI_DOUBLE, &settings.eps, "E", NULL, "AdamW epsilon", CLI_SETTING, 0, 1},
        {"grad-clip", 0, CLI_DOUBLE, &settings.grad_clip, "NORM", NULL,
         "clip the global gradient norm to this value; 0 disables clipping", CLI_SETTING, 0,
         1e9},
        {"eval-every", 0, CLI_INT, &settings.eval_every, "N", "steps",
         "validation loss every N steps; 0 evaluates only at the end", CLI_SETTING, 0, 1e12},
        {"eval-batches", 0, CLI_INT, &settings.eval_batches, "N", "batches",
         "validation batches per evaluation", CLI_SETTING, 1, 1e9},
        {"checkpoint-every", 0, CLI_INT, &settings.checkpoint_every, "N", "steps",
         "write OUTPUT/checkpoints/step-NNNNNN every N steps; 0 writes only final/",
         CLI_SETTING, 0, 1e12},
        {"seed", 0, CLI_INT, &settings.seed, "N", NULL,
         "seed of the weight initialization and the data order", CLI_SETTING, 0, 9e18},
        {"schedule", 0, CLI_STRING, &settings.schedule, "NAME", NULL,
         "learning rate after warmup: cosine, linear or wsd (warmup-stable-decay)",
         CLI_SETTING, 0, 0},
        {"decay-fraction", 0, CLI_DOUBLE, &settings.decay_fraction, "F", NULL,
         "wsd: share of the steps at the end that decay to the floor", CLI_SETTING, 0, 1},
        {"keep-checkpoints", 0, CLI_INT, &settings.keep_checkpoints, "K", "folders",
         "keep only the last K step folders (0 keeps all)", CLI_SETTING, 0, 1e9},
        {"keep-every", 0, CLI_INT, &settings.keep_every, "N", "steps",
         "also keep the step folders at multiples of N (0: none)", CLI_SETTING, 0, 1e12},
        {"skip-outliers", 0, CLI_DOUBLE, &settings.skip_outliers, "Z", NULL,
         "skip the update of a step whose loss or gradient norm lies more than Z standard "
         "deviations above the last 64 accepted steps (0: never)",
         CLI_SETTING, 0, 1000},
        {"matmul-precision", 0, CLI_STRING, &settings.matmul_precision, "NAME", NULL,
         MATMUL_PRECISION_HELP, CLI_SETTING, 0, 0},
        {"init-from", 0, CLI_STRING, &settings.init_from, "FOLDER", NULL,
         "start from a Hugging Face checkpoint (GPT-2, Llama or Qwen2; single or sharded "
         "safetensors) instead of random weights",
         0, 0, 0},
        {"continue-from", 0, CLI_STRING, &settings.continue_from, "FOLDER", NULL,
         "continue an earlier run from its last checkpoint (FOLDER is its output folder or a "
         "checkpoint folder): with the same shards it resumes exactly; with changed shards "
         "it keeps weights, optimizer state and the step count and trains --steps more "
         "steps on the new shards. --model-config, if given, must match the checkpoint. "
         "When FOLDER has no checkpoint yet, the run starts from scratch with --model-config",
         0, 0, 0},
        {"peak-gflops", 0, CLI_DOUBLE, &settings.peak_gflops, "G", NULL,
         "peak of all ranks together for the MFU in the step log; 0 measures, at start, the "
         "rate of the matrix products in the chosen matmul-precision", 0, 0, 1e9},
        {"nproc", 0, CLI_INT, &workers.nproc, "N", "processes",
         "start N data-parallel ranks on this machine (rendezvous on a local socket); --threads "
         "is shared among them",
         0, 1, 4096},
        {"rank", 0, CLI_INT, &workers.rank, "R", NULL,
         "this process's rank in a run started by hand or by srun (with --world-size and "
         "--rendezvous)",
         0, 0, 1e6},
        {"world-size", 0, CLI_INT, &workers.world_size, "N", "ranks",
         "ranks in a run started by hand or by srun; --nproc N sets it to N. It enters the "
         "settings hash, because the global batch is world-size x batch-size",
         CLI_SETTING, 1, 1e6},
        {"rendezvous", 0, CLI_STRING, &workers.rendezvous, "ADDRESS", NULL,
         "rank 0 binds it, the others connect: tcp://HOST:PORT (rank 0's machine) or "
         "ipc://PATH", 0, 0, 0},
        {"heartbeat-timeout", 0, CLI_DOUBLE, &workers.heartbeat_seconds, "SECONDS", NULL,
         "seconds without a heartbeat after which a rank is lost; the run then stops with an "
         "error that names it", 0, 1,
         3600},
        {0},
    };
    cli_stage_t stage = {.threads = sysconf(_SC_NPROCESSORS_ONLN)};
    cli_program_t program = {
        .name = "train",
        .summary = "train a GPT-2 or Llama family model on token shards",
        .usage = "[options] --model-config FILE SHARD_FOLDER -o OUTPUT",
        .description =
            "Reads the train and val splits of a shard folder (written by shard) and writes "
            "OUTPUT/checkpoints/step-NNNNNN/ and OUTPUT/final/ in the Hugging Face layout "
            "(config.json, model.safetensors, tokenizer.json, optimizer.safetensors, "
            "trainer_state.json), a JSON Lines step log OUTPUT/train_log.jsonl and "
            "OUTPUT/metrics.json with the final validation loss and the unigram entropy of "
            "the validation tokens. --threads sets the compute threads (default: all cores).",
        .options = options,
        .stage = &stage,
    };
    int parsed = cli_parse(&program, argc, argv);
    /* Settled before the settings hash is taken, so that it records what runs. */
    if (parsed == CLI_CONTINUE && matmul_precision_apply("train", &settings.matmul_precision) != 0)
        parsed = CLI_USAGE_ERROR;
    if (parsed == CLI_CONTINUE)
        parsed = check_settings(&program, &settings);
    if (parsed == CLI_CONTINUE)
        parsed = check_workers(&workers);
    if (parsed != CLI_CONTINUE) {
        cli_free(&program);
        return cli_exit_status(parsed);
    }

    comm_t *comm = join_workers(&workers, &stage.threads);
    int status = -1;
    if (comm) {
        kernels_set_threads((int)stage.threads);
        settings.threads = stage.threads;
        status = trainer_run(&program, &settings, stage.inputs.items[0], stage.output, comm);
    }
    comm_close(comm);
    /* Ranks forked for a group that never formed would wait out the join time,
     * and a frozen rank would never end. */
    if (status != 0)
        stop_workers(&workers, 5.0);
    if (wait_workers(&workers) != 0)
        status = -1;
    free(workers.children);
    cli_free(&program);
    return status == 0 ? 0 : 1;
}
