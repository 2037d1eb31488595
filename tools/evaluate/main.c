/*
 * evaluate: the loss, perplexity and bits per byte of a checkpoint on a split
 * of token shards (by default the validation split), for both model families.
 *
 * The split is read in file order as consecutive windows of seq-len + 1
 * tokens that overlap by one token, so every token after the first is
 * predicted exactly once, from the context of its own window. The result is
 * one JSON object on standard output:
 *
 *   {"split": "val", "tokens": N, "bytes": N, "loss": nats per token,
 *    "perplexity": exp(loss), "bits_per_byte": total nats / ln 2 / bytes}
 *
 * Bytes are those of the UTF-8 text the scored tokens decode to (special
 * tokens such as <|endoftext|> count none), so bits per byte compares models
 * with different tokenizers; Chinese characters count their 3 UTF-8 bytes.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "dataloader.h"
#include "kernels.h"
#include "precision.h"
#include "log.h"
#include "model.h"
#include "tokenizer.h"

typedef struct {
    char *model_path;
    char *split;
    int64_t seq_len;    /* 0: the model's n_ctx */
    int64_t batch_size;
    int64_t max_tokens; /* 0: the whole split */
    const char *output; /* NULL: standard output */
    char *matmul_precision;
} evaluate_settings_t;

typedef struct {
    uint64_t tokens;
    uint64_t bytes;
    double nats;
} totals_t;

/* Scores `windows` windows of t + 1 tokens starting at token `start`. */
static int score_batch(model_t *model, dataloader_t *loader, const tokenizer_t *tokenizer,
                       uint64_t start, int windows, int t, int32_t *window, int32_t *inputs,
                       int32_t *targets, float *logprobs, totals_t *totals)
{
    for (int w = 0; w < windows; w++) {
        if (dataloader_read_tokens(loader, start + (uint64_t)w * t, (uint64_t)t + 1, window) != 0)
            return -1;
        memcpy(inputs + (size_t)w * t, window, (size_t)t * sizeof(int32_t));
        memcpy(targets + (size_t)w * t, window + 1, (size_t)t * sizeof(int32_t));
    }
    if (model_forward(model, inputs, targets, windows, t) != 0)
        return -1;
    model_target_logprobs(model, logprobs);
    for (int64_t i = 0; i < (int64_t)windows * t; i++) {
        totals->nats -= logprobs[i];
        totals->tokens++;
        size_t length = 0;
        if (!tokenizer_is_special(tokenizer, (uint32_t)targets[i]) &&
            tokenizer_token_bytes(tokenizer, (uint32_t)targets[i], &length))
            totals->bytes += length;
    }
    return 0;
}

static int evaluate(const evaluate_settings_t *s, const char *shard_folder)
{
    model_t model = {0};
    tokenizer_t *tokenizer = NULL;
    dataloader_t *loader = NULL;
    int32_t *window = NULL, *inputs = NULL, *targets = NULL;
    float *logprobs = NULL;
    int status = -1;
    if (checkpoint_load_model(s->model_path, &model) != 0)
        return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", s->model_path);
    tokenizer = tokenizer_load(path);
    if (!tokenizer)
        goto done;
    int t = s->seq_len > 0 ? (int)s->seq_len : model.config.n_ctx;
    if (t > model.config.n_ctx) {
        log_error("seq-len %d exceeds the model's n_ctx %d", t, model.config.n_ctx);
        goto done;
    }
    loader = dataloader_open(shard_folder, s->split, 1, t, 0, 0, 1);
    if (!loader)
        goto done;
    char hash[33];
    tokenizer_hash(tokenizer, hash);
    if (dataloader_check_tokenizer(loader, hash) != 0)
        goto done;
    if (dataloader_vocab_size(loader) > (uint32_t)model.config.vocab_size) {
        log_error("%s: the shards use %u tokens but the model has only %d; evaluate a model trained with this tokenizer", shard_folder,
                  dataloader_vocab_size(loader), model.config.vocab_size);
        goto done;
    }

    uint64_t total = dataloader_token_count(loader);
    if (s->max_tokens > 0 && (uint64_t)s->max_tokens + 1 < total)
        total = (uint64_t)s->max_tokens + 1;
    uint64_t windows = total > 1 ? (total - 1) / (uint64_t)t : 0;
    if (windows == 0) {
        log_error("%s: the %s split has fewer than %d tokens; lower --seq-len", shard_folder,
                  s->split, t + 1);
        goto done;
    }
    int b = (int)s->batch_size;
    window = malloc(((size_t)t + 1) * sizeof(int32_t));
    inputs = malloc((size_t)b * t * sizeof(int32_t));
    targets = malloc((size_t)b * t * sizeof(int32_t));
    logprobs = malloc((size_t)b * t * sizeof(float));
    if (!window || !inputs || !targets || !logprobs) {
        log_error("out of memory for batches of %d x %d tokens", b, t);
        goto done;
    }
    totals_t totals = {0};
    for (uint64_t done_windows = 0; done_windows < windows;) {
        int n = windows - done_windows < (uint64_t)b ? (int)(windows - done_windows) : b;
        if (score_batch(&model, loader, tokenizer, done_windows * (uint64_t)t, n, t, window,
                        inputs, targets, logprobs, &totals) != 0)
            goto done;
        done_windows += (uint64_t)n;
    }
    double loss = totals.nats / (double)totals.tokens;
    double bpb = totals.bytes ? totals.nats / log(2.0) / (double)totals.bytes : NAN;
    FILE *out = s->output ? fopen(s->output, "w") : stdout;
    if (!out) {
        log_error("%s: cannot create the result file", s->output);
        goto done;
    }
    fprintf(out, "{\"split\": \"%s\", \"tokens\": %llu, \"bytes\": %llu, \"loss\": %.6f, "
            "\"perplexity\": %.4f, \"bits_per_byte\": %.6f}\n",
            s->split, (unsigned long long)totals.tokens, (unsigned long long)totals.bytes, loss,
            exp(loss), isfinite(bpb) ? bpb : 0.0);
    log_info("%s split: %llu tokens, loss %.4f nats/token, perplexity %.3f, %.4f bits/byte",
             s->split, (unsigned long long)totals.tokens, loss, exp(loss), bpb);
    status = (out == stdout ? fflush(out) : fclose(out)) == 0 ? 0 : -1;
    if (status != 0)
        log_error("%s: cannot write the result", s->output ? s->output : "standard output");
done:
    free(window), free(inputs), free(targets), free(logprobs);
    if (loader)
        dataloader_close(loader);
    tokenizer_free(tokenizer);
    model_free(&model);
    return status;
}

int main(int argc, char **argv)
{
    log_init("evaluate");
    evaluate_settings_t settings = {
        .split = "val",
        .batch_size = 8,
        .matmul_precision = "auto",
    };
    cli_stage_t stage = {0};
    cli_option_t options[] = {
        {"model", 'm', CLI_STRING, &settings.model_path, "FOLDER", NULL,
         "checkpoint folder with config.json, model.safetensors and tokenizer.json", 0, 0, 0},
        {"split", 0, CLI_STRING, &settings.split, "NAME", NULL,
         "split of the shard folder to score (val or train)", CLI_SETTING, 0, 0},
        {"seq-len", 0, CLI_INT, &settings.seq_len, "N", "tokens",
         "tokens per window; 0 means the model's n_ctx", CLI_SETTING, 0, 1 << 20},
        {"batch-size", 0, CLI_INT, &settings.batch_size, "N", "windows",
         "windows per forward pass", 0, 1, 1 << 20},
        {"max-tokens", 'n', CLI_INT, &settings.max_tokens, "N", "tokens",
         "score at most N tokens from the start of the split; 0 scores all", CLI_SETTING, 0,
         1e15},
        {"matmul-precision", 0, CLI_STRING, &settings.matmul_precision, "NAME", NULL,
         MATMUL_PRECISION_HELP, CLI_SETTING, 0, 0},
        {0},
    };
    cli_program_t program = {
        .name = "evaluate",
        .summary = "loss, perplexity and bits per byte of a checkpoint on token shards",
        .usage = "SHARD_FOLDER -m CHECKPOINT [options]",
        .description = "Scores every token of a split once, in file order, and prints one JSON "
                       "object (to standard output, or to -o FILE): tokens, bytes, loss "
                       "(nats/token), perplexity and bits per byte of UTF-8 text.",
        .options = options,
        .stage = &stage,
    };
    int parsed = cli_parse(&program, argc, argv);
    if (parsed == CLI_CONTINUE && !settings.model_path) {
        log_error("missing -m FOLDER: a checkpoint folder written by train (e.g. OUT/final)");
        parsed = CLI_USAGE_ERROR;
    }
    if (parsed == CLI_CONTINUE && stage.inputs.count != 1) {
        log_error("expected one input, the token shard folder written by shard; got %zu",
                  stage.inputs.count);
        parsed = CLI_USAGE_ERROR;
    }
    if (parsed == CLI_CONTINUE &&
        matmul_precision_apply("evaluate", &settings.matmul_precision) != 0)
        parsed = CLI_USAGE_ERROR;
    if (parsed != CLI_CONTINUE) {
        cli_free(&program);
        return cli_exit_status(parsed);
    }
    kernels_set_threads((int)stage.threads);
    settings.output = stage.output;
    int status = evaluate(&settings, stage.inputs.items[0]);
    cli_free(&program);
    return status == 0 ? 0 : 1;
}
