/* Step log, trainer state and metrics files of a training run; see train_log.h. */
#include "train_log.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Copies the lines of `from` whose step is at most keep_through to `to`. */
static int copy_kept_lines(const char *from, FILE *to, int64_t keep_through)
{
    FILE *in = fopen(from, "r");
    if (!in)
        return errno == ENOENT ? 0 : -1;
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, in) > 0) {
        json_t *entry = json_loads(line, 0, NULL);
        json_t *step = entry ? json_object_get(entry, "step") : NULL;
        if (json_is_integer(step) && json_integer_value(step) <= keep_through)
            fputs(line, to);
        json_decref(entry);
    }
    free(line);
    fclose(in);
    return 0;
}

int train_log_set_aside(const char *folder)
{
    size_t size = strlen(folder) + 40;
    char *path = malloc(size), *aside = malloc(size);
    int status = 0;
    snprintf(path, size, "%s/train_log.jsonl", folder);
    snprintf(aside, size, "%s/train_log.jsonl.previous", folder);
    if (rename(path, aside) != 0 && errno != ENOENT) {
        log_error("%s: cannot set the step log aside: %s", path, strerror(errno));
        status = -1;
    }
    free(path);
    free(aside);
    return status;
}

int train_log_open(train_log_t *log, const char *folder, int64_t keep_through)
{
    size_t size = strlen(folder) + 40;
    log->path = malloc(size);
    snprintf(log->path, size, "%s/train_log.jsonl", folder);
    log->file = fopen(log->path, "w");
    if (!log->file) {
        log_error("%s: cannot open the step log: %s", log->path, strerror(errno));
        return -1;
    }
    if (keep_through < 0)
        return 0;
    char *aside = malloc(size);
    snprintf(aside, size, "%s/train_log.jsonl.previous", folder);
    int status = copy_kept_lines(aside, log->file, keep_through);
    if (status == 0)
        unlink(aside);
    else
        log_error("%s: cannot read the earlier step log: %s", aside, strerror(errno));
    free(aside);
    fflush(log->file);
    return status;
}

void train_log_step(train_log_t *log, const train_log_step_t *e)
{
    fprintf(log->file,
            "{\"step\": %lld, \"loss\": %.6f, \"lr\": %.6e, \"grad_norm\": %.6f, "
            "\"tokens_per_second\": %.1f, \"elapsed\": %.3f, \"mfu\": %.4f%s}\n",
            (long long)e->step, e->loss, e->learning_rate, e->grad_norm, e->tokens_per_second,
            e->elapsed_seconds, isfinite(e->mfu) ? e->mfu : 0.0,
            e->skipped ? ", \"skipped\": true" : "");
    fflush(log->file);
}

void train_log_eval(train_log_t *log, int64_t step, double val_loss)
{
    fprintf(log->file, "{\"step\": %lld, \"val_loss\": %.6f}\n", (long long)step, val_loss);
    fflush(log->file);
}

void train_log_close(train_log_t *log)
{
    if (log->file)
        fclose(log->file);
    free(log->path);
    log->file = NULL;
    log->path = NULL;
}

char *trainer_state_to_json(const trainer_state_t *state, const char *settings_json)
{
    const dataloader_state_t *d = &state->train_loader;
    json_t *settings = settings_json ? json_loads(settings_json, 0, NULL) : NULL;
    json_t *root = json_pack(
        "{s:I, s:f, s:I, s:s, s:{s:I, s:I, s:I, s:i, s:i, s:i, s:i}}", "step",
        (json_int_t)state->step, "elapsed_seconds", state->elapsed_seconds, "init_seed",
        (json_int_t)state->init_seed, "tokenizer_hash", state->tokenizer_hash, "train_loader",
        "seed", (json_int_t)d->seed, "epoch", (json_int_t)d->epoch, "position",
        (json_int_t)d->position, "rank", (int)d->rank, "world_size", (int)d->world_size,
        "batch", (int)d->batch, "seq_len", (int)d->seq_len);
    if (!root) {
        json_decref(settings);
        return NULL;
    }
    json_object_set_new(root, "optimizer_step", json_integer(state->optimizer_step));
    json_object_set_new(root, "world_size", json_integer(state->world_size));
    json_object_set_new(root, "batch_per_rank", json_integer(state->batch_per_rank));
    json_object_set_new(root, "grad_accum", json_integer(state->grad_accum));
    json_object_set_new(root, "global_batch_sequences",
                        json_integer((json_int_t)state->world_size * state->batch_per_rank *
                                     state->grad_accum));
    json_object_set_new(root, "segment_start_step", json_integer(state->segment_start));
    json_object_set_new(root, "data_hash", json_string(state->data_hash));
    json_t *losses = json_array(), *norms = json_array();
    for (int i = 0; i < state->history.count; i++) {
        json_array_append_new(losses, json_real(state->history.loss[i]));
        json_array_append_new(norms, json_real(state->history.grad_norm[i]));
    }
    json_object_set_new(root, "outlier_history",
                        json_pack("{s:o, s:o}", "loss", losses, "grad_norm", norms));
    if (settings)
        json_object_set_new(root, "settings", settings);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    char *with_newline = realloc(text, n + 2);
    if (!with_newline) {
        free(text);
        return NULL;
    }
    with_newline[n] = '\n';
    with_newline[n + 1] = '\0';
    return with_newline;
}

int trainer_state_from_json(const char *text, const char *origin, trainer_state_t *state)
{
    json_error_t error;
    json_t *root = json_loads(text, 0, &error);
    memset(state, 0, sizeof *state);
    json_int_t step = -1, seed = 0, epoch = 0, position = 0, loader_seed = 0;
    int rank = 0, world_size = 0, batch = 0, seq_len = 0;
    double elapsed = 0.0;
    const char *hash = "";
    if (!root || json_unpack_ex(root, &error, 0,
                                "{s:I, s?F, s:I, s?s, s:{s:I, s:I, s:I, s:i, s:i, s:i, s:i}}",
                                "step", &step, "elapsed_seconds", &elapsed, "init_seed", &seed,
                                "tokenizer_hash", &hash, "train_loader", "seed", &loader_seed,
                                "epoch", &epoch, "position", &position, "rank", &rank,
                                "world_size", &world_size, "batch", &batch, "seq_len",
                                &seq_len) != 0) {
        log_error("%s: invalid trainer state: %s", origin, error.text);
        json_decref(root);
        return -1;
    }
    state->step = step;
    json_t *optimizer_step = json_object_get(root, "optimizer_step");
    state->optimizer_step = json_is_integer(optimizer_step) ? json_integer_value(optimizer_step)
                                                            : step;
    json_t *history = json_object_get(root, "outlier_history");
    json_t *losses = json_object_get(history, "loss"), *norms = json_object_get(history, "grad_norm");
    size_t count = json_array_size(losses);
    if (count > TRAIN_OUTLIER_WINDOW || count != json_array_size(norms)) {
        log_error("%s: invalid trainer state: outlier_history needs two arrays of at most %d "
                  "equal-length entries",
                  origin, TRAIN_OUTLIER_WINDOW);
        json_decref(root);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        /* %.17g in JSON reals keeps every bit, so a resumed run decides alike. */
        state->history.loss[i] = json_number_value(json_array_get(losses, i));
        state->history.grad_norm[i] = json_number_value(json_array_get(norms, i));
    }
    state->history.count = (int)count;
    json_t *world = json_object_get(root, "world_size");
    json_t *batch_per_rank = json_object_get(root, "batch_per_rank");
    json_t *grad_accum = json_object_get(root, "grad_accum");
    json_t *segment = json_object_get(root, "segment_start_step");
    json_t *data_hash = json_object_get(root, "data_hash");
    state->world_size = json_is_integer(world) ? (int)json_integer_value(world) : world_size;
    state->batch_per_rank =
        json_is_integer(batch_per_rank) ? (int)json_integer_value(batch_per_rank) : batch;
    state->grad_accum = json_is_integer(grad_accum) ? (int)json_integer_value(grad_accum) : 0;
    state->segment_start = json_is_integer(segment) ? json_integer_value(segment) : 0;
    snprintf(state->data_hash, sizeof state->data_hash, "%s",
             json_is_string(data_hash) ? json_string_value(data_hash) : "");
    state->elapsed_seconds = elapsed;
    state->init_seed = (uint64_t)seed;
    snprintf(state->tokenizer_hash, sizeof state->tokenizer_hash, "%s", hash);
    state->train_loader = (dataloader_state_t){
        .seed = (uint64_t)loader_seed, .epoch = (uint64_t)epoch,
        .position = (uint64_t)position, .rank = rank, .world_size = world_size,
        .batch = batch, .seq_len = seq_len,
    };
    json_decref(root);
    return 0;
}

int train_metrics_write(const char *folder, const train_metrics_t *m)
{
    json_t *root = json_pack(
        "{s:I, s:f, s:f, s:f, s:I, s:I, s:f, s:f, s:f}", "steps", (json_int_t)m->steps,
        "final_train_loss", m->final_train_loss, "final_val_loss", m->final_val_loss,
        "unigram_entropy", m->unigram_entropy, "val_tokens", (json_int_t)m->val_tokens,
        "parameters", (json_int_t)m->parameters, "ms_per_step", m->ms_per_step,
        "tokens_per_second", m->tokens_per_second, "gflops_per_second", m->gflops_per_second);
    if (!root)
        return -1;
    size_t size = strlen(folder) + 32;
    char *path = malloc(size), *temp = malloc(size + 32);
    snprintf(path, size, "%s/metrics.json", folder);
    snprintf(temp, size + 32, "%s.tmp-%ld", path, (long)getpid());
    int status = json_dump_file(root, temp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (status == 0)
        status = rename(temp, path);
    if (status != 0) {
        log_error("%s: cannot write the metrics: %s", path, strerror(errno));
        unlink(temp);
    }
    json_decref(root);
    free(path);
    free(temp);
    return status == 0 ? 0 : -1;
}
