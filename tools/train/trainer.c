/*
 * The training loop of `train`: data, model, AdamW, evaluation, checkpoints.
 *
 * One step reads a batch from the train split, runs forward and backward,
 * and applies AdamW with the scheduled learning rate. Evaluation always
 * reads the same first eval-batches batches of the val split, so validation
 * losses of different steps compare. A checkpoint stores everything a resume
 * needs: weights, AdamW moments and trainer_state.json with the data position.
 * After initialization no random numbers are drawn (no dropout), so the data
 * position is the only state a resume has to restore.
 *
 * With several ranks (comm.h) each rank reads its own windows of the train
 * split, the gradients are summed across the ranks before clipping and the
 * step, and every rank applies the same update. Rank 0 alone evaluates,
 * writes the step log, the checkpoints, the metrics and the manifest.
 */
#include "trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "comm.h"
#include "dataloader.h"
#include "kernels.h"
#include "log.h"
#include "model.h"
#include "optimizer.h"
#include "outdir.h"
#include "peak.h"
#include "stage.h"
#include "stats.h"
#include "tokenizer.h"
#include "train_log.h"

typedef struct {
    const train_settings_t *settings;
    const cli_program_t *program;
    const char *shard_folder;
    const char *output;
    comm_t *comm;
    bool is_root;                /* rank 0: evaluates and writes the outputs */
    char *tokenizer_path;        /* NULL when there is none */
    int64_t eot_id;
    char tokenizer_hash[33];
    model_config_t config;
    dataloader_t *train;
    dataloader_t *val;
    dataloader_state_t val_start;
    model_t model;
    optimizer_t opt;
    int b, t;
    int32_t *inputs;
    int32_t *targets;
    int64_t start_step;          /* steps already done (resume) */
    int64_t segment_start;       /* step at which the current shard set started */
    int64_t end_step;            /* segment_start + --steps */
    char data_hash[33];          /* hash of the shard folder's manifest */
    char *continue_path;         /* checkpoint chosen by --continue-from */
    bool progress_tty;           /* rank 0 redraws one progress line on stderr */
    bool progress_open;          /* a progress line without its newline is on screen */
    bool new_segment;            /* --continue-from with changed shards */
    double elapsed_before;       /* seconds of earlier runs (resume) */
    train_log_t log;
    outdir_t *outdir;
    schedule_kind_t schedule;
    double peak_gflops;          /* the denominator of the MFU */
    outlier_history_t history;   /* accepted steps, for skip-outliers */
} trainer_t;

/* Returns true when `value` lies more than z standard deviations above the
 * mean of values[0..count). Needs 16 values before it judges. */
static bool is_outlier(const double *values, int count, double value, double z)
{
    if (count < 16)
        return false;
    double mean = 0.0, var = 0.0;
    for (int i = 0; i < count; i++)
        mean += values[i];
    mean /= count;
    for (int i = 0; i < count; i++)
        var += (values[i] - mean) * (values[i] - mean);
    return value > mean + z * sqrt(var / count);
}

/* Appends an accepted step to the history, dropping the oldest when full. */
static void history_push(outlier_history_t *h, double loss, double grad_norm)
{
    if (h->count == TRAIN_OUTLIER_WINDOW) {
        memmove(h->loss, h->loss + 1, sizeof(double) * (TRAIN_OUTLIER_WINDOW - 1));
        memmove(h->grad_norm, h->grad_norm + 1, sizeof(double) * (TRAIN_OUTLIER_WINDOW - 1));
        h->count--;
    }
    h->loss[h->count] = loss;
    h->grad_norm[h->count] = grad_norm;
    h->count++;
}

/* Finds the tokenizer, checks it against the shards and records its hash. */
static int load_tokenizer(trainer_t *tr)
{
    const char *tokenizer_option = tr->settings->tokenizer_path;
    char *path;
    if (tokenizer_option) {
        path = strdup(tokenizer_option);
    } else {
        size_t size = strlen(tr->shard_folder) + 32;
        path = malloc(size);
        snprintf(path, size, "%s/tokenizer.json", tr->shard_folder);
        if (access(path, R_OK) != 0) {
            log_warn("%s not found and --tokenizer not given; checkpoints will lack "
                     "tokenizer.json, so generate cannot read them",
                     path);
            free(path);
            tr->eot_id = -1;
            return 0;
        }
    }
    tokenizer_t *tokenizer = tokenizer_load(path);
    if (!tokenizer) {
        free(path);
        return -1;
    }
    tokenizer_hash(tokenizer, tr->tokenizer_hash);
    tr->eot_id = tokenizer_eot_id(tokenizer);
    uint32_t vocab = tokenizer_vocab_size(tokenizer);
    tokenizer_free(tokenizer);
    tr->tokenizer_path = path;
    if (dataloader_check_tokenizer(tr->train, tr->tokenizer_hash) != 0)
        return -1;
    if (vocab > (uint32_t)tr->config.vocab_size)
        tr->config.vocab_size = (int)vocab;
    return 0;
}

/* Loads the model config, opens both splits and settles the vocabulary size. */
static int open_data(trainer_t *tr)
{
    const train_settings_t *s = tr->settings;
    /* With --init-from or --continue-from without --model-config, the
     * checkpoint's config.json is the model config. */
    const char *checkpoint = s->init_from ? s->init_from : tr->continue_path;
    const char *origin = s->model_config_path ? s->model_config_path : checkpoint;
    model_config_defaults(&tr->config);
    if (s->model_config_path ? model_config_load(s->model_config_path, &tr->config) != 0
                             : checkpoint_load_config(checkpoint, &tr->config) != 0)
        return -1;
    int configured_vocab = tr->config.vocab_size;
    tr->t = s->seq_len > 0 ? (int)s->seq_len : tr->config.n_ctx;
    tr->b = (int)s->batch_size;
    if (tr->t > tr->config.n_ctx || tr->t <= 0) {
        log_error("seq-len %d exceeds the model's n_ctx %d; lower seq-len or raise n_ctx in %s",
                  tr->t, tr->config.n_ctx, origin);
        return -1;
    }
    uint64_t seed = (uint64_t)s->seed;
    tr->train = dataloader_open(tr->shard_folder, "train", tr->b, tr->t, seed,
                                comm_rank(tr->comm), comm_world_size(tr->comm));
    tr->val = tr->train ? dataloader_open(tr->shard_folder, "val", tr->b, tr->t, seed, 0, 1)
                        : NULL;
    if (!tr->train || !tr->val)
        return -1;
    dataloader_get_state(tr->val, &tr->val_start);

    uint32_t data_vocab = dataloader_vocab_size(tr->train);
    if (configured_vocab == 0)
        tr->config.vocab_size = (int)data_vocab;
    if (load_tokenizer(tr) != 0)
        return -1;
    if (configured_vocab != 0 && (uint32_t)configured_vocab < data_vocab) {
        log_error("%s: vocab_size %d is smaller than the shards' vocabulary of %u tokens; "
                  "remove vocab_size from the config to take it from the data",
                  origin, configured_vocab, data_vocab);
        return -1;
    }
    if (configured_vocab != 0 && configured_vocab < tr->config.vocab_size) {
        log_error("%s: vocab_size %d is smaller than the tokenizer's %d tokens",
                  origin, configured_vocab, tr->config.vocab_size);
        return -1;
    }
    return model_config_finish(&tr->config, origin);
}

static optimizer_settings_t optimizer_settings(const train_settings_t *s)
{
    return (optimizer_settings_t){
        .beta1 = (float)s->beta1,
        .beta2 = (float)s->beta2,
        .eps = (float)s->eps,
        .weight_decay = (float)s->weight_decay,
        .grad_clip = (float)s->grad_clip,
    };
}

/* Returns 0 when the checkpoint's model has the shapes of the config. */
static int check_same_shapes(const model_config_t *a, const model_config_t *b, const char *path)
{
    if (a->family != b->family || a->n_layer != b->n_layer || a->n_head != b->n_head ||
        a->n_embd != b->n_embd || a->n_ctx != b->n_ctx || a->vocab_size != b->vocab_size ||
        a->n_kv_head != b->n_kv_head || a->intermediate_size != b->intermediate_size ||
        a->tie_word_embeddings != b->tie_word_embeddings ||
        a->attention_bias != b->attention_bias) {
        log_error("%s: the checkpoint's model (%s, n_layer %d, n_head %d, n_kv_head %d, n_embd "
                  "%d, n_ctx %d, vocab %d) differs from the model config; resume with the same "
                  "config",
                  path, model_family_name(b->family), b->n_layer, b->n_head, b->n_kv_head,
                  b->n_embd, b->n_ctx, b->vocab_size);
        return -1;
    }
    return 0;
}

/*
 * Checks that the checkpoint's data layout (ranks, batch per rank, sequence
 * length) matches this run, which an exact resume needs: the windows each
 * rank reads depend on all three. Grad-accum may change, because it only
 * sets how many batches a step takes from the same sequence.
 */
static int check_same_layout(const trainer_t *tr, const trainer_state_t *state, const char *path)
{
    int world = comm_world_size(tr->comm);
    if (state->world_size == world && state->batch_per_rank == tr->b &&
        state->train_loader.seq_len == tr->t)
        return 0;
    log_error("%s: the checkpoint was written by %d rank(s) x batch-size %d with sequence "
              "length %d, but this run has %d rank(s) x batch-size %d with sequence length %d. "
              "Each rank's data position depends on these, so the run cannot resume exactly; "
              "resume with --nproc %d (or --world-size %d) --set batch-size=%d --set "
              "seq-len=%d",
              path, state->world_size, state->batch_per_rank, state->train_loader.seq_len,
              world, tr->b, tr->t, state->world_size, state->world_size,
              state->batch_per_rank, state->train_loader.seq_len);
    return -1;
}

/*
 * Loads weights, AdamW moments and trainer_state.json from the checkpoint
 * folder `path`. When the shard folder is the one the checkpoint trained on
 * (same manifest hash), the data position is restored exactly. When it
 * changed and `may_change_data` is set, the loader starts the new shard set
 * at its first window, and a new segment begins at the checkpoint's step.
 * Returns 0 or -1 after logging.
 */
static int restore_checkpoint(trainer_t *tr, const char *path, bool may_change_data)
{
    int status = -1;
    char *text = NULL;
    trainer_state_t state;
    optimizer_settings_t os = optimizer_settings(tr->settings);
    if (checkpoint_load_model(path, &tr->model) != 0 ||
        check_same_shapes(&tr->config, &tr->model.config, path) != 0 ||
        optimizer_init(&tr->opt, &tr->model, &os) != 0 ||
        checkpoint_load_optimizer(path, &tr->model, &tr->opt) != 0)
        goto done;
    text = checkpoint_read_trainer_state(path);
    if (!text || trainer_state_from_json(text, path, &state) != 0)
        goto done;
    if (state.tokenizer_hash[0] && strcmp(state.tokenizer_hash, tr->tokenizer_hash) != 0) {
        log_error("%s: the checkpoint was trained with tokenizer %s but the shards use %s",
                  path, state.tokenizer_hash, tr->tokenizer_hash);
        goto done;
    }
    /* Checkpoints written before the data hash was recorded count as the same data. */
    bool same_data = !state.data_hash[0] || strcmp(state.data_hash, tr->data_hash) == 0;
    if (!same_data && !may_change_data) {
        log_error("%s: the shard folder %s changed since this checkpoint (data hash %s, now "
                  "%s), so its data position no longer applies; use --continue-from %s to "
                  "continue training on the new shards",
                  path, tr->shard_folder, state.data_hash, tr->data_hash, tr->output);
        goto done;
    }
    /* The settings in trainer_state.json record the precision that ran
     * (checkpoints written before the setting existed record none). */
    const char *recorded = strstr(text, "\"matmul-precision\": \"bf16\"")   ? "bf16"
                           : strstr(text, "\"matmul-precision\": \"fp32\"") ? "fp32"
                                                                              : NULL;
    if (recorded && strcmp(recorded, tr->settings->matmul_precision) != 0)
        log_warn("%s was trained with %s matrix products but this run uses %s, so the result "
                 "will differ from an uninterrupted run; add --set matmul-precision=%s to "
                 "match it bit for bit",
                 path, recorded, tr->settings->matmul_precision, recorded);
    tr->start_step = state.step;
    tr->opt.step = state.optimizer_step;
    tr->elapsed_before = state.elapsed_seconds;
    tr->new_segment = !same_data;
    if (same_data) {
        if (check_same_layout(tr, &state, path) != 0)
            goto done;
        /* The checkpoint contains rank 0's position; every rank is at the same one. */
        state.train_loader.rank = comm_rank(tr->comm);
        if (dataloader_set_state(tr->train, &state.train_loader) != 0)
            goto done;
        tr->segment_start = state.segment_start;
        tr->history = state.history;
        log_info("resuming from %s at step %lld", path, (long long)state.step);
    } else {
        /* The outlier history describes the losses of the old data, so it starts over. */
        tr->segment_start = state.step;
        tr->history.count = 0;
        log_info("continuing from %s at step %lld on a changed shard set (data hash %s, was "
                 "%s): weights and optimizer state carry over, the data order starts at the "
                 "beginning of the new shards, and steps %lld to %lld follow",
                 path, (long long)state.step, tr->data_hash, state.data_hash,
                 (long long)state.step + 1, (long long)state.step + tr->settings->steps);
    }
    status = 0;
done:
    free(text);
    return status;
}

/* Returns the step recorded in `folder`/trainer_state.json, or -1 after logging. */
static int64_t checkpoint_step(const char *folder)
{
    char *text = checkpoint_read_trainer_state(folder);
    trainer_state_t state;
    int64_t step = text && trainer_state_from_json(text, folder, &state) == 0 ? state.step : -1;
    free(text);
    return step;
}

/*
 * Finds the newest checkpoint of the train output folder `folder`: the later
 * of FOLDER/final and the latest FOLDER/checkpoints/step-NNNNNN (final/ on a
 * tie, since a finished run writes it last). Returns 1 and a malloc'ed *path,
 * 0 when the folder contains neither (or does not exist), -1 after logging.
 */
static int find_newest_checkpoint(const char *folder, char **path)
{
    size_t size = strlen(folder) + 64;
    char *final = malloc(size), *latest = NULL;
    if (!final)
        return -1;
    snprintf(final, size, "%s/checkpoints", folder);
    int64_t latest_step = -1;
    if (checkpoint_find_latest(final, &latest, &latest_step) < 0) {
        free(final);
        return -1;
    }
    snprintf(final, size, "%s/final/trainer_state.json", folder);
    int64_t final_step = -1;
    if (access(final, R_OK) == 0) {
        snprintf(final, size, "%s/final", folder);
        if ((final_step = checkpoint_step(final)) < 0) {
            free(final);
            free(latest);
            return -1;
        }
    }
    if (final_step >= 0 && final_step >= latest_step) {
        free(latest);
        *path = final;
        return 1;
    }
    free(final);
    *path = latest;
    return latest ? 1 : 0;
}

/* Restores the newest checkpoint of the output folder: OUTPUT/final when a
 * finished run wrote it, else the latest OUTPUT/checkpoints/step-NNNNNN.
 * Returns 1 when resumed, 0 when there is no checkpoint, -1 on error. */
static int resume(trainer_t *tr)
{
    char *path = NULL;
    int found = find_newest_checkpoint(tr->output, &path);
    if (found <= 0)
        return found;
    int status = restore_checkpoint(tr, path, false);
    free(path);
    return status == 0 ? 1 : -1;
}

static int init_model(trainer_t *tr)
{
    if (tr->continue_path)
        return restore_checkpoint(tr, tr->continue_path, true);
    if (tr->settings->resume) {
        int resumed = resume(tr);
        if (resumed != 0)
            return resumed < 0 ? -1 : 0;
        log_info("no checkpoint in %s (final/ or checkpoints/); starting from step 0",
                 tr->output);
    }
    optimizer_settings_t os = optimizer_settings(tr->settings);
    if (tr->settings->init_from) {
        if (checkpoint_load_model(tr->settings->init_from, &tr->model) != 0)
            return -1;
        /* The data may use more tokens than the checkpoint lists: open_data
         * rejected that, so the shapes agree here. */
        if (check_same_shapes(&tr->config, &tr->model.config, tr->settings->init_from) != 0)
            return -1;
        log_info("starting from the weights of %s", tr->settings->init_from);
        return optimizer_init(&tr->opt, &tr->model, &os);
    }
    if (model_init(&tr->model, &tr->config) != 0 ||
        optimizer_init(&tr->opt, &tr->model, &os) != 0)
        return -1;
    model_init_random(&tr->model, (uint64_t)tr->settings->seed);
    return 0;
}

/* Returns the mean loss over the first eval-batches batches of the val split. */
static double evaluate(trainer_t *tr)
{
    if (dataloader_set_state(tr->val, &tr->val_start) != 0)
        return NAN;
    double sum = 0.0;
    for (int64_t i = 0; i < tr->settings->eval_batches; i++) {
        if (dataloader_next(tr->val, tr->inputs, tr->targets) != 0 ||
            model_forward(&tr->model, tr->inputs, tr->targets, tr->b, tr->t) != 0)
            return NAN;
        sum += tr->model.mean_loss;
    }
    return sum / (double)tr->settings->eval_batches;
}

/* Returns the entropy in nats of the token frequencies of the whole val split. */
static double unigram_entropy(trainer_t *tr, uint64_t *token_count)
{
    uint64_t total = dataloader_token_count(tr->val);
    uint64_t *counts = calloc((size_t)tr->config.vocab_size, sizeof *counts);
    enum { CHUNK = 1 << 16 };
    int32_t *chunk = malloc(CHUNK * sizeof *chunk);
    double entropy = NAN;
    if (!counts || !chunk)
        goto done;
    for (uint64_t start = 0; start < total; start += CHUNK) {
        uint64_t n = total - start < CHUNK ? total - start : CHUNK;
        if (dataloader_read_tokens(tr->val, start, n, chunk) != 0)
            goto done;
        for (uint64_t i = 0; i < n; i++)
            if (chunk[i] >= 0 && chunk[i] < tr->config.vocab_size)
                counts[chunk[i]]++;
    }
    entropy = 0.0;
    for (int i = 0; i < tr->config.vocab_size; i++) {
        if (counts[i]) {
            double p = (double)counts[i] / (double)total;
            entropy -= p * log(p);
        }
    }
    *token_count = total;
done:
    free(counts);
    free(chunk);
    return entropy;
}

static int save_checkpoint(trainer_t *tr, const char *folder, int64_t step, double elapsed)
{
    trainer_state_t state = {.step = step, .elapsed_seconds = elapsed,
                             .init_seed = (uint64_t)tr->settings->seed,
                             .optimizer_step = tr->opt.step, .history = tr->history,
                             .world_size = comm_world_size(tr->comm), .batch_per_rank = tr->b,
                             .grad_accum = (int)tr->settings->grad_accum,
                             .segment_start = tr->segment_start};
    snprintf(state.data_hash, sizeof state.data_hash, "%s", tr->data_hash);
    dataloader_get_state(tr->train, &state.train_loader);
    snprintf(state.tokenizer_hash, sizeof state.tokenizer_hash, "%s", tr->tokenizer_hash);
    char *settings_json = cli_settings_json(tr->program);
    char *state_json = trainer_state_to_json(&state, settings_json);
    free(settings_json);
    if (!state_json) {
        log_error("cannot build trainer_state.json");
        return -1;
    }
    checkpoint_extras_t extras = {
        .optimizer = &tr->opt,
        .tokenizer_path = tr->tokenizer_path,
        .trainer_state_json = state_json,
        .eos_token_id = tr->eot_id,
    };
    int status = checkpoint_save(folder, &tr->model, &extras);
    free(state_json);
    if (status == 0)
        log_info("step %lld: wrote checkpoint %s", (long long)step, folder);
    return status;
}

/*
 * Sets the denominator of the MFU: --peak-gflops, or the measured rate of
 * this rank's threads in the matmul precision that runs, times the ranks
 * (they run alike), since the step log counts the tokens of all of them.
 */
static void set_peak(trainer_t *tr)
{
    const train_settings_t *s = tr->settings;
    int ranks = comm_world_size(tr->comm);
    if (s->peak_gflops > 0) {
        tr->peak_gflops = s->peak_gflops;
        log_info("MFU against %.1f GFLOP/s (--peak-gflops)", tr->peak_gflops);
        return;
    }
    double rank_peak = peak_measure_gflops((int)s->threads);
    tr->peak_gflops = rank_peak > 0 ? rank_peak * ranks : NAN;
    log_info("MFU against %.1f GFLOP/s (measured %s products: %lld thread(s) x %d rank(s) x "
             "%.1f GFLOP/s per thread)",
             tr->peak_gflops, s->matmul_precision, (long long)s->threads, ranks,
             rank_peak / (double)s->threads);
}

/* Model FLOPs per token of a training step: 6 per parameter (forward and
 * backward) plus the attention products, 6 * L * C * T (causal, so half of
 * the dense 12 * L * C * T). Embedding lookups are counted in N, which
 * slightly overstates them. */
static double flops_per_token(const trainer_t *tr)
{
    const model_config_t *c = &tr->config;
    return 6.0 * (double)tr->model.param_count + 6.0 * c->n_layer * c->n_embd * tr->t;
}

/*
 * Loads grad-accum micro-batches, then runs forward and backward on each with
 * the loss weighted by 1 / (scored tokens of all of them), so the summed
 * gradient is that of the mean over tokens. Stores that mean in *mean_loss.
 */
static int accumulate_gradients(trainer_t *tr, double *mean_loss)
{
    int64_t k = tr->settings->grad_accum, n = (int64_t)tr->b * tr->t, scored = 0;
    for (int64_t i = 0; i < k; i++)
        if (dataloader_next(tr->train, tr->inputs + i * n, tr->targets + i * n) != 0)
            return -1;
    for (int64_t i = 0; i < k * n; i++)
        scored += tr->targets[i] >= 0;
    /* The weight is one over the scored tokens of all ranks, so the sum of
     * the ranks' gradients is the gradient of the mean over all tokens. */
    double all_scored = (double)scored;
    if (comm_all_reduce(tr->comm, &all_scored, 1, COMM_FLOAT64, COMM_SUM) != 0)
        return -1;
    scored = (int64_t)all_scored;
    float weight = scored ? 1.0f / (float)scored : 0.0f;
    double total = 0.0;
    model_zero_grads(&tr->model);
    for (int64_t i = 0; i < k; i++) {
        if (model_forward(&tr->model, tr->inputs + i * n, tr->targets + i * n, tr->b, tr->t) != 0)
            return -1;
        total += (double)tr->model.mean_loss * (double)model_scored_count(&tr->model);
        if (model_backward_weighted(&tr->model, weight) != 0)
            return -1;
    }
    if (comm_all_reduce(tr->comm, tr->model.grads, (size_t)tr->model.param_count, COMM_FLOAT32,
                        COMM_SUM) != 0 ||
        comm_all_reduce(tr->comm, &total, 1, COMM_FLOAT64, COMM_SUM) != 0)
        return -1;
    *mean_loss = scored ? total / (double)scored : 0.0;
    return 0;
}

/* Formats a duration as 1h02m, 3m05s or 42s. */
static void format_duration(double seconds, char *out, size_t size)
{
    long total = seconds > 0 && seconds < 1e9 ? (long)(seconds + 0.5) : 0;
    if (total >= 3600)
        snprintf(out, size, "%ldh%02ldm", total / 3600, total / 60 % 60);
    else if (total >= 60)
        snprintf(out, size, "%ldm%02lds", total / 60, total % 60);
    else
        snprintf(out, size, "%lds", total);
}

/* Ends an open progress line, so that the next message starts on its own line. */
static void end_progress_line(trainer_t *tr)
{
    if (tr->progress_open) {
        fputc('\n', stderr);
        tr->progress_open = false;
    }
}

/*
 * Shows the progress after a step: on a terminal one line redrawn in place
 * with \r (step/total, loss, tokens/s, ETA), otherwise a log line per step
 * with the learning rate, gradient norm, step time and MFU as well.
 */
static void show_progress(trainer_t *tr, const train_log_step_t *entry, double seconds,
                          double eta_seconds)
{
    char eta[32];
    format_duration(eta_seconds, eta, sizeof eta);
    long long done = (long long)entry->step, total = (long long)tr->end_step;
    if (!tr->progress_tty) {
        log_info("step %lld/%lld | loss %.4f | lr %.2e | grad norm %.3f | %.1f ms | %.0f tok/s "
                 "| MFU %.1f%% | ETA %s",
                 done, total, entry->loss, entry->learning_rate, entry->grad_norm,
                 seconds * 1000.0, entry->tokens_per_second, 100.0 * entry->mfu, eta);
        return;
    }
    /* \033[K clears what a longer earlier line left to the right. */
    fprintf(stderr, "\rstep %lld/%lld | loss %.4f | %.0f tok/s | ETA %s\033[K", done, total,
            entry->loss, entry->tokens_per_second, eta);
    fflush(stderr);
    tr->progress_open = true;
}

/* Evaluates and writes a checkpoint after step `done` when they are due. */
static int run_periodic_work(trainer_t *tr, int64_t done, double elapsed)
{
    const train_settings_t *s = tr->settings;
    char folder[4096];
    if (s->eval_every > 0 && done % s->eval_every == 0 && done < tr->end_step) {
        double val = evaluate(tr);
        if (isnan(val))
            return -1;
        train_log_eval(&tr->log, done, val);
        end_progress_line(tr);
        log_info("step %lld | val loss %.4f", (long long)done, val);
    }
    if (s->checkpoint_every > 0 && done % s->checkpoint_every == 0 && done < tr->end_step) {
        snprintf(folder, sizeof folder, "%s/checkpoints/step-%06lld", tr->output,
                 (long long)done);
        end_progress_line(tr);
        if (save_checkpoint(tr, folder, done, elapsed) != 0)
            return -1;
        snprintf(folder, sizeof folder, "%s/checkpoints", tr->output);
        if (checkpoint_prune(folder, s->keep_checkpoints, s->keep_every) != 0)
            return -1;
    }
    return 0;
}

static int train_steps(trainer_t *tr, double *mean_step_seconds, double *last_loss)
{
    const train_settings_t *s = tr->settings;
    double run_start = time_now_seconds(), step_seconds = 0.0;
    int64_t steps_here = 0;
    *last_loss = NAN;
    comm_set_step(tr->comm, tr->start_step);
    for (int64_t step = tr->start_step; step < tr->end_step; step++) {
        double start = time_now_seconds();
        /* The schedule runs over the steps of the current shard set. */
        double lr = optimizer_schedule_rate(tr->schedule, step - tr->segment_start, s->steps,
                                            s->warmup_steps, s->learning_rate,
                                            s->min_lr_ratio, s->decay_fraction);
        double norm = 0.0, loss_sum = 0.0;
        if (accumulate_gradients(tr, &loss_sum) != 0)
            return -1;
        norm = optimizer_grad_norm(&tr->model);
        int skipped = s->skip_outliers > 0 &&
                      (is_outlier(tr->history.loss, tr->history.count, loss_sum, s->skip_outliers) ||
                       is_outlier(tr->history.grad_norm, tr->history.count, norm,
                                  s->skip_outliers));
        if (skipped) {
            end_progress_line(tr);
            log_warn("step %lld: loss %.4f or gradient norm %.3f is an outlier (more than %g "
                     "standard deviations above the last %d steps); skipping its update",
                     (long long)step + 1, loss_sum, norm, s->skip_outliers, tr->history.count);
        } else {
            if (optimizer_step(&tr->opt, &tr->model, lr, &norm) != 0)
                return -1;
            history_push(&tr->history, loss_sum, norm);
        }
        tr->model.mean_loss = (float)loss_sum;
        double seconds = time_now_seconds() - start;
        step_seconds += seconds;
        steps_here++;

        int64_t done = step + 1;
        comm_set_step(tr->comm, done);
        double elapsed = tr->elapsed_before + time_now_seconds() - run_start;
        double tokens_per_second =
            (double)s->grad_accum * tr->b * tr->t * comm_world_size(tr->comm) / seconds;
        *last_loss = tr->model.mean_loss;
        double mfu = tokens_per_second * flops_per_token(tr) / (tr->peak_gflops * 1e9);
        train_log_step_t entry = {done, tr->model.mean_loss, lr, norm, tokens_per_second, elapsed,
                                  mfu, skipped};
        if (!tr->is_root)
            continue;
        train_log_step(&tr->log, &entry);
        double eta = step_seconds / (double)steps_here * (double)(tr->end_step - done);
        show_progress(tr, &entry, seconds, eta);
        if (run_periodic_work(tr, done, elapsed) != 0)
            return -1;
    }
    end_progress_line(tr);
    *mean_step_seconds = steps_here ? step_seconds / (double)steps_here : 0.0;
    tr->elapsed_before += time_now_seconds() - run_start;
    return 0;
}

/* Logs that training stopped, with the --resume hint only when the output
 * folder contains a checkpoint to resume from. */
static void log_stopped(const char *output)
{
    char *path = NULL;
    if (find_newest_checkpoint(output, &path) == 1)
        log_error("training stopped; its last checkpoint %s resumes with --resume (same shards "
                  "and settings)",
                  path);
    else
        log_error("training stopped before its first checkpoint, so nothing in %s resumes; "
                  "fix the error above and train again",
                  output);
    free(path);
}

/* Lists the files of the finished run in the manifest. */
static int record_outputs(trainer_t *tr)
{
    static const char *const final_files[] = {
        "final/config.json", "final/model.safetensors", "final/optimizer.safetensors",
        "final/trainer_state.json", "final/tokenizer.json",
    };
    for (size_t i = 0; i < sizeof final_files / sizeof final_files[0]; i++) {
        if (i == 4 && !tr->tokenizer_path)
            continue;
        if (outdir_add_file(tr->outdir, final_files[i], 0) != 0)
            return -1;
    }
    if (outdir_add_file(tr->outdir, "metrics.json", 1) != 0 ||
        outdir_add_file(tr->outdir, "train_log.jsonl", 0) != 0)
        return -1;
    return 0;
}

static int finish_run(trainer_t *tr, double mean_step_seconds, double last_loss)
{
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/final", tr->output);
    if (save_checkpoint(tr, folder, tr->end_step, tr->elapsed_before) != 0)
        return -1;

    train_metrics_t metrics = {.steps = tr->end_step, .final_train_loss = last_loss,
                               .parameters = tr->model.param_count};
    metrics.final_val_loss = evaluate(tr);
    metrics.unigram_entropy = unigram_entropy(tr, &metrics.val_tokens);
    if (isnan(metrics.final_val_loss) || isnan(metrics.unigram_entropy))
        return -1;
    if (mean_step_seconds > 0) {
        metrics.ms_per_step = mean_step_seconds * 1000.0;
        metrics.tokens_per_second =
            (double)tr->settings->grad_accum * tr->b * tr->t / mean_step_seconds;
        metrics.gflops_per_second = metrics.tokens_per_second * flops_per_token(tr) / 1e9;
    }
    train_log_eval(&tr->log, tr->end_step, metrics.final_val_loss);
    log_info("final val loss %.4f nats/token; unigram entropy of the val tokens %.4f "
             "nats/token (%llu tokens)",
             metrics.final_val_loss, metrics.unigram_entropy,
             (unsigned long long)metrics.val_tokens);
    if (mean_step_seconds > 0)
        log_info("%.1f ms/step, %.0f tokens/s, %.2f GFLOP/s", metrics.ms_per_step,
                 metrics.tokens_per_second, metrics.gflops_per_second);
    if (train_metrics_write(tr->output, &metrics) != 0)
        return -1;
    train_log_close(&tr->log);
    if (record_outputs(tr) != 0)
        return -1;

    /* Training keeps or drops no records; the stats carry the token counts
     * of the steps on the current shard set. */
    stats_t stats;
    stats_init(&stats, "train");
    stats_count(&stats, "steps", (uint64_t)tr->settings->steps);
    stats_count(&stats, "train_tokens",
                (uint64_t)tr->settings->steps * tr->settings->grad_accum * tr->b * tr->t *
                    (uint64_t)comm_world_size(tr->comm));
    stats_count(&stats, "val_tokens", metrics.val_tokens);
    int status = stage_write_stats(tr->program, &stats, tr->outdir);
    stats_free(&stats);
    return status;
}

/* Returns true when `path` lies inside the folder `folder` (both resolved). */
static bool is_inside(const char *path, const char *folder)
{
    char *real_path = realpath(path, NULL), *real_folder = realpath(folder, NULL);
    bool inside = false;
    if (real_path && real_folder) {
        size_t n = strlen(real_folder);
        inside = strncmp(real_path, real_folder, n) == 0 &&
                 (real_path[n] == '/' || real_path[n] == '\0');
    }
    free(real_path);
    free(real_folder);
    return inside;
}

/* Builds the identity of the run: settings plus the hashes of the shard
 * folder, the model config, the tokenizer and the starting checkpoint, and
 * stores the shard folder's own hash in tr->data_hash. Returns 1 when the
 * output is already up to date, 0 to run, -1 on error. */
static int prepare_identity(trainer_t *tr, outdir_identity_t *identity)
{
    if (outdir_identity_from_cli(identity, tr->program) != 0)
        return -1;
    cli_string_list_t inputs = {0};
    cli_string_list_push(&inputs, tr->shard_folder);
    int status = outdir_hash_inputs(&inputs, tr->data_hash);
    if (tr->settings->model_config_path)
        cli_string_list_push(&inputs, tr->settings->model_config_path);
    if (tr->settings->init_from)
        cli_string_list_push(&inputs, tr->settings->init_from);
    /* A checkpoint inside the output folder changes with every run, so only
     * one from elsewhere is an input. */
    if (tr->continue_path && !is_inside(tr->continue_path, tr->output))
        cli_string_list_push(&inputs, tr->continue_path);
    if (tr->settings->tokenizer_path)
        cli_string_list_push(&inputs, tr->settings->tokenizer_path);
    if (status == 0)
        status = outdir_hash_inputs(&inputs, identity->inputs_hash);
    cli_string_list_free(&inputs);
    if (status != 0)
        return -1;
    if (tr->program->stage->force || tr->settings->resume)
        return 0;
    /* Rank 0's view of the output folder decides for every rank. */
    double current = tr->is_root && outdir_is_current(tr->output, identity) ? 1.0 : 0.0;
    if (comm_broadcast(tr->comm, &current, sizeof current, 0) != 0)
        return -1;
    return current == 1.0 ? 1 : 0;
}

/*
 * Picks the checkpoint that --continue-from FOLDER names: FOLDER itself when
 * it contains trainer_state.json, else the newest checkpoint of the train
 * output FOLDER. Returns 1 and a malloc'ed *path, 0 when FOLDER contains no
 * checkpoint yet (the first run of a pipeline, which then starts from
 * scratch), or -1 after logging.
 */
static int find_continue_checkpoint(const char *folder, char **path)
{
    size_t size = strlen(folder) + 32;
    char *own = malloc(size);
    if (!own)
        return -1;
    snprintf(own, size, "%s/trainer_state.json", folder);
    if (access(own, R_OK) == 0) {
        snprintf(own, size, "%s", folder);
        *path = own;
        return 1;
    }
    free(own);
    return find_newest_checkpoint(folder, path);
}

static void trainer_free(trainer_t *tr)
{
    train_log_close(&tr->log);
    if (tr->outdir)
        outdir_abort(tr->outdir);
    if (tr->train)
        dataloader_close(tr->train);
    if (tr->val)
        dataloader_close(tr->val);
    model_free(&tr->model);
    optimizer_free(&tr->opt);
    free(tr->inputs);
    free(tr->targets);
    free(tr->tokenizer_path);
    free(tr->continue_path);
}

int trainer_run(const cli_program_t *program, const train_settings_t *settings,
                const char *shard_folder, const char *output, comm_t *comm)
{
    trainer_t tr = {.settings = settings, .program = program, .shard_folder = shard_folder,
                    .output = output, .comm = comm, .is_root = comm_rank(comm) == 0};
    tr.progress_tty = tr.is_root && isatty(STDERR_FILENO) && log_get_level() >= LOG_LEVEL_INFO;
    outdir_identity_t identity = {0};
    int status = -1;
    if (settings->continue_from) {
        int found = find_continue_checkpoint(settings->continue_from, &tr.continue_path);
        if (found < 0)
            return -1;
        if (found == 0 && !settings->model_config_path) {
            log_error("--continue-from %s: no checkpoint there yet (no trainer_state.json, "
                      "final/ or checkpoints/step-NNNNNN/), and no --model-config to start "
                      "from scratch; add --model-config FILE for the first run",
                      settings->continue_from);
            return -1;
        }
        if (found == 0)
            log_info("--continue-from %s: no checkpoint there yet, so this first run starts "
                     "from scratch with %s",
                     settings->continue_from, settings->model_config_path);
    }
    int prepared = prepare_identity(&tr, &identity);
    if (prepared != 0) {
        if (prepared == 1)
            log_info("%s is up to date; use --force to train again", output);
        outdir_identity_free(&identity);
        free(tr.continue_path);
        return prepared == 1 ? 0 : -1;
    }
    if (open_data(&tr) != 0)
        goto done;
    optimizer_parse_schedule(settings->schedule, &tr.schedule); /* checked by main */
    set_peak(&tr);
    /* The model loads before the output folder opens, because opening it
     * removes the files of an earlier run there, final/ included. */
    if (init_model(&tr) != 0 || model_alloc_grads(&tr.model) != 0)
        goto done;
    /* Checked before the output folder opens, which would remove final/. */
    tr.end_step = tr.segment_start + settings->steps;
    if (tr.start_step >= tr.end_step) {
        log_error("the checkpoint is at step %lld, which is not before the end of its shard "
                  "set's steps (%lld + --steps %lld); raise --steps to train further, or add "
                  "shards and use --continue-from",
                  (long long)tr.start_step, (long long)tr.segment_start,
                  (long long)settings->steps);
        goto done;
    }
    bool continues = settings->resume || tr.continue_path;
    if (tr.is_root && continues && train_log_set_aside(output) != 0)
        goto done;
    tr.outdir = tr.is_root ? outdir_open(output, &identity) : NULL;
    if (tr.is_root && !tr.outdir)
        goto done;
    /* One micro-batch per --grad-accum step, all loaded before the first backward. */
    tr.inputs = malloc((size_t)settings->grad_accum * tr.b * tr.t * sizeof(int32_t));
    tr.targets = malloc((size_t)settings->grad_accum * tr.b * tr.t * sizeof(int32_t));
    if (!tr.inputs || !tr.targets ||
        (tr.is_root && train_log_open(&tr.log, output, continues ? tr.start_step : -1) != 0))
        goto done;
    /* A continued run into its own output folder has just removed final/, so
     * the starting point is written as a checkpoint that --resume can use. */
    if (tr.is_root && tr.new_segment) {
        char folder[4096];
        snprintf(folder, sizeof folder, "%s/checkpoints/step-%06lld", output,
                 (long long)tr.start_step);
        if (save_checkpoint(&tr, folder, tr.start_step, tr.elapsed_before) != 0)
            goto done;
    }
    log_info("model: %s, %d layers, %d heads, %d channels, context %d, vocabulary %d (padded "
             "%d), %.2fM parameters; %d rank(s) x batch %d x %d tokens",
             model_family_name(tr.config.family), tr.config.n_layer, tr.config.n_head,
             tr.config.n_embd, tr.config.n_ctx,
             tr.config.vocab_size, tr.config.padded_vocab_size, tr.model.param_count / 1e6,
             comm_world_size(comm), tr.b, tr.t);

    double mean_step_seconds = 0.0, last_loss = NAN;
    if (train_steps(&tr, &mean_step_seconds, &last_loss) != 0) {
        end_progress_line(&tr);
        if (tr.is_root)
            log_stopped(output);
        goto done;
    }
    if (!tr.is_root) {
        status = 0;
        goto done;
    }
    if (finish_run(&tr, mean_step_seconds, last_loss) != 0)
        goto done;
    status = outdir_finish(tr.outdir);
    tr.outdir = NULL;
done:
    if (status != 0 && tr.is_root)
        comm_abort(comm, "rank 0 failed; see its log for the error");
    trainer_free(&tr);
    outdir_identity_free(&identity);
    return status;
}
