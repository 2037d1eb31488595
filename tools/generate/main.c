/*
 * generate: continues a prompt with a trained model and streams the text to
 * standard output.
 *
 * The checkpoint folder gives config.json, model.safetensors and
 * tokenizer.json. The prompt (from --prompt or standard input) is fed through
 * the KV-cache decode step token by token; then tokens are sampled and
 * printed as soon as they form whole UTF-8 characters, until <|endoftext|>,
 * --max-tokens or the model's context length.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint.h"
#include "cli.h"
#include "kernels.h"
#include "log.h"
#include "model.h"
#include "sampler.h"
#include "tokenizer.h"

typedef struct {
    char *model_path;
    char *prompt;
    int64_t max_tokens;
    double temperature;
    int64_t top_k;
    int64_t seed;
    int64_t threads;
    bool echo;
} generate_settings_t;

/* Reads all of standard input into a malloc'ed NUL-terminated string. */
static char *read_stdin(size_t *length)
{
    size_t capacity = 4096, n = 0, got;
    char *text = malloc(capacity);
    while (text && (got = fread(text + n, 1, capacity - n - 1, stdin)) > 0) {
        n += got;
        if (capacity - n < 2) {
            char *grown = realloc(text, capacity * 2);
            if (!grown) {
                free(text);
                return NULL;
            }
            text = grown;
            capacity *= 2;
        }
    }
    if (text)
        text[n] = '\0';
    *length = n;
    return text;
}

/* Writes bytes to standard output right away, so text appears as it is made. */
static int emit(const char *bytes, size_t length)
{
    if (length && fwrite(bytes, 1, length, stdout) != length)
        return -1;
    return fflush(stdout) == 0 ? 0 : -1;
}

/* Encodes the prompt; an empty prompt starts from <|endoftext|>. */
static int encode_prompt(const generate_settings_t *s, const tokenizer_t *tokenizer,
                         token_buffer_t *ids)
{
    size_t length = 0;
    char *owned = NULL;
    const char *text = s->prompt;
    if (text) {
        length = strlen(text);
    } else {
        owned = read_stdin(&length);
        if (!owned) {
            log_error("cannot read the prompt from standard input");
            return -1;
        }
        text = owned;
    }
    int status = tokenizer_encode(tokenizer, text, length, false, ids);
    if (status == 0 && s->echo)
        status = emit(text, length);
    free(owned);
    if (status == 0 && ids->count == 0) {
        int64_t eot = tokenizer_eot_id(tokenizer);
        if (eot < 0) {
            log_error("the prompt is empty and the tokenizer has no <|endoftext|> token to "
                      "start from; give a prompt");
            return -1;
        }
        status = token_buffer_push(ids, (uint32_t)eot);
    }
    return status;
}

static int generate(const generate_settings_t *s, const model_t *model,
                    const tokenizer_t *tokenizer)
{
    token_buffer_t ids = {0};
    model_kv_cache_t cache = {0};
    sampler_t sampler = {0};
    tokenizer_stream_t stream;
    tokenizer_stream_init(&stream, tokenizer);
    float *logits = malloc((size_t)model->config.padded_vocab_size * sizeof(float));
    int status = -1;
    int n_ctx = model->config.n_ctx;
    int64_t eot = tokenizer_eot_id(tokenizer);

    /* Only ids the tokenizer can decode are sampled; run() checked that the
     * model's vocabulary covers them, and any extra rows are never picked. */
    if (!logits || encode_prompt(s, tokenizer, &ids) != 0 ||
        model_kv_cache_init(model, &cache) != 0 ||
        sampler_init(&sampler, (int)tokenizer_vocab_size(tokenizer), s->temperature,
                     (int)s->top_k, (uint64_t)s->seed) != 0)
        goto done;

    size_t first = 0;
    if (ids.count >= (size_t)n_ctx) {
        first = ids.count - (size_t)(n_ctx - 1);
        log_warn("the prompt has %zu tokens; only its last %d fit the context of %d", ids.count,
                 n_ctx - 1, n_ctx);
    }
    for (size_t i = first; i < ids.count; i++)
        if (model_decode_step(model, &cache, (int32_t)ids.ids[i], logits) != 0)
            goto done;

    int64_t produced = 0;
    while (produced < s->max_tokens) {
        int token = sampler_sample(&sampler, logits);
        if (token == eot)
            break;
        size_t length;
        const char *bytes = tokenizer_stream_push(&stream, (uint32_t)token, &length);
        if (!bytes || emit(bytes, length) != 0)
            goto done;
        produced++;
        if (cache.length >= n_ctx) {
            log_info("stopped at the model's context length of %d tokens", n_ctx);
            break;
        }
        if (model_decode_step(model, &cache, token, logits) != 0)
            goto done;
    }
    size_t length;
    const char *rest = tokenizer_stream_flush(&stream, &length);
    if (rest && emit(rest, length) != 0)
        goto done;
    if (emit("\n", 1) != 0)
        goto done;
    status = 0;
done:
    tokenizer_stream_free(&stream);
    sampler_free(&sampler);
    model_kv_cache_free(&cache);
    token_buffer_free(&ids);
    free(logits);
    return status;
}

static int run(const generate_settings_t *s)
{
    model_t model = {0};
    if (checkpoint_load_model(s->model_path, &model) != 0)
        return -1;
    size_t size = strlen(s->model_path) + 32;
    char *path = malloc(size);
    snprintf(path, size, "%s/tokenizer.json", s->model_path);
    tokenizer_t *tokenizer = tokenizer_load(path);
    free(path);
    int status = -1;
    if (tokenizer) {
        if (tokenizer_vocab_size(tokenizer) > (uint32_t)model.config.vocab_size)
            log_error("%s: the tokenizer has %u tokens but the model only %d", s->model_path,
                      tokenizer_vocab_size(tokenizer), model.config.vocab_size);
        else
            status = generate(s, &model, tokenizer);
        tokenizer_free(tokenizer);
    }
    model_free(&model);
    return status;
}

int main(int argc, char **argv)
{
    log_init("generate");
    generate_settings_t settings = {
        .max_tokens = 128,
        .temperature = 0.8,
        .top_k = 40,
        .seed = 1337,
        .threads = sysconf(_SC_NPROCESSORS_ONLN),
    };
    cli_option_t options[] = {
        {"model", 'm', CLI_STRING, &settings.model_path, "FOLDER", NULL,
         "checkpoint folder with config.json, model.safetensors and tokenizer.json", 0, 0, 0},
        {"prompt", 'p', CLI_STRING, &settings.prompt, "TEXT", NULL,
         "text to continue; default: read standard input", 0, 0, 0},
        {"max-tokens", 'n', CLI_INT, &settings.max_tokens, "N", "tokens",
         "maximum tokens to generate", CLI_SETTING, 0, 1e9},
        {"temperature", 't', CLI_DOUBLE, &settings.temperature, "T", NULL,
         "softmax temperature; 0 picks the most likely token", CLI_SETTING, 0, 100},
        {"top-k", 'k', CLI_INT, &settings.top_k, "K", "tokens",
         "sample among the K most likely tokens; 0 means all", CLI_SETTING, 0, 1e9},
        {"seed", 's', CLI_INT, &settings.seed, "N", NULL, "seed of the sampler", CLI_SETTING, 0,
         9e18},
        {"threads", 0, CLI_INT, &settings.threads, "N", "threads",
         "compute threads (default: all cores)", 0, 1, 4096},
        {"echo", 0, CLI_FLAG, &settings.echo, NULL, NULL, "print the prompt before the output",
         0, 0, 0},
        {0},
    };
    cli_program_t program = {
        .name = "generate",
        .summary = "continue a prompt with a trained model",
        .usage = "-m CHECKPOINT [--prompt TEXT] [options]",
        .description = "Streams the generated text to standard output and stops at "
                       "<|endoftext|>, after --max-tokens tokens or at the model's context "
                       "length. Without --prompt the prompt is read from standard input.",
        .options = options,
    };
    int parsed = cli_parse(&program, argc, argv);
    if (parsed == CLI_CONTINUE && !settings.model_path) {
        log_error("missing -m FOLDER: a checkpoint folder written by train (e.g. OUT/final)");
        parsed = CLI_USAGE_ERROR;
    }
    if (parsed != CLI_CONTINUE) {
        cli_free(&program);
        return parsed == CLI_EXIT_OK ? 0 : 2;
    }
    kernels_set_threads((int)settings.threads);
    int status = run(&settings);
    cli_free(&program);
    return status == 0 ? 0 : 1;
}
