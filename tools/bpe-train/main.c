/*
 * bpe-train: learns a byte-level BPE tokenizer from documents and writes it
 * as a Hugging Face tokenizer.json.
 *
 * Word counting and training are common/bpe_train.h; docs/tokenizer.md
 * describes the algorithm, the settings and the output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "bpe_train.h"
#include "cli.h"
#include "docio.h"
#include "log.h"
#include "outdir.h"
#include "pretokenize.h"
#include "stage.h"
#include "stats.h"
#include "tokenizer.h"

typedef struct {
    int64_t vocab_size;
    int64_t min_frequency;
    int64_t max_token_bytes;
    int64_t sample_bytes;
    double sample_rate;
    char *pattern;        /* a built-in pattern's name or a regex */
    const char *regex;    /* the pattern's regex */
    bool chat_tokens;
    bool tiktoken;
    char *special_tokens; /* comma-separated */
    char **special_list;  /* split form */
    size_t special_count;
} train_settings_t;

/* Splits the comma-separated special tokens; an empty string gives none. */
static int split_special_tokens(train_settings_t *settings)
{
    const char *text = settings->special_tokens ? settings->special_tokens : "";
    size_t capacity = 3;
    for (const char *c = text; *c; c++)
        capacity += *c == ',';
    settings->special_list = calloc(capacity, sizeof(char *));
    if (!settings->special_list)
        return -1;
    const char *start = text;
    while (*start) {
        const char *end = strchr(start, ',');
        size_t length = end ? (size_t)(end - start) : strlen(start);
        if (length == 0) {
            log_error("invalid special-tokens \"%s\": empty token; separate tokens with one "
                      "comma", text);
            return -1;
        }
        settings->special_list[settings->special_count] = strndup(start, length);
        if (!settings->special_list[settings->special_count++])
            return -1;
        start = end ? end + 1 : start + length;
    }
    if (settings->chat_tokens) {
        static const char *const chat[] = {TOKENIZER_IM_START_TOKEN, TOKENIZER_IM_END_TOKEN};
        for (size_t i = 0; i < 2; i++) {
            bool listed = false;
            for (size_t j = 0; j < settings->special_count; j++)
                listed |= strcmp(settings->special_list[j], chat[i]) == 0;
            if (listed)
                continue;
            settings->special_list[settings->special_count] = strdup(chat[i]);
            if (!settings->special_list[settings->special_count++])
                return -1;
        }
    }
    return 0;
}

static int parse_options(cli_program_t *program, train_settings_t *settings, int argc,
                         char **argv)
{
    int parsed = cli_parse(program, argc, argv);
    if (parsed != CLI_CONTINUE)
        return parsed;
    const cli_stage_t *stage = program->stage;
    if (stage->task_count > 1) {
        log_error("--task is not supported: training needs the word counts of the whole "
                  "input; run bpe-train once over all inputs");
        return CLI_USAGE_ERROR;
    }
    if (!stage->output) {
        log_error("missing output: give -o FOLDER or -o FILE.json");
        return CLI_USAGE_ERROR;
    }
    if (strcmp(stage->output, "-") == 0) {
        log_error("-o -: bpe-train writes a file; give -o FOLDER or -o FILE.json");
        return CLI_USAGE_ERROR;
    }
    if (stage->inputs.count == 0) {
        log_error("missing input: give one or more document files or folders, or - for "
                  "standard input");
        return CLI_USAGE_ERROR;
    }
    if (split_special_tokens(settings) != 0)
        return CLI_USAGE_ERROR;
    const char *pattern = settings->pattern && settings->pattern[0] ? settings->pattern : "gpt2";
    settings->regex = pretokenize_named_pattern(pattern);
    if (!settings->regex) {
        /* Not a built-in name: a regex, which must compile. */
        pretokenizer_t *check = pretokenizer_create(pattern);
        if (!check) {
            log_error("invalid pattern \"%s\": give gpt2, cl100k, llama3, o200k or a PCRE2 "
                      "regex", pattern);
            return CLI_USAGE_ERROR;
        }
        pretokenizer_free(check);
        settings->regex = pattern;
    }
    if (settings->tiktoken && !doc_output_is_folder(stage->output)) {
        log_error("--tiktoken needs a folder output: give -o FOLDER");
        return CLI_USAGE_ERROR;
    }
    if ((uint64_t)settings->vocab_size < 256 + settings->special_count) {
        log_error("vocab-size %lld is too small: it must hold the 256 byte tokens and %zu "
                  "special tokens", (long long)settings->vocab_size, settings->special_count);
        return CLI_USAGE_ERROR;
    }
    return CLI_CONTINUE;
}

/* Returns the longest prefix of `text`, at most `limit` bytes, that ends on a
 * UTF-8 character boundary, so a sample never ends inside a character. */
static size_t utf8_prefix_length(const char *text, size_t limit)
{
    size_t length = limit;
    while (length > 0 && ((unsigned char)text[length] & 0xc0) == 0x80)
        length--;
    return length;
}

/* Reads the documents and counts their words; returns the counts or NULL. */
static bpe_word_counts_t *count_words(const cli_program_t *program,
                                      const train_settings_t *settings, stats_t *stats,
                                      size_t *failed_inputs, size_t *input_count,
                                      uint64_t *valid_records)
{
    const cli_stage_t *stage = program->stage;
    doc_reader_t *reader = doc_reader_open(&stage->inputs, 0, 1);
    if (!reader)
        return NULL;
    bpe_counter_t *counter = bpe_counter_start_pattern((int)stage->threads,
                                                       (const char *const *)settings->special_list,
                                                       settings->special_count, settings->regex);
    if (!counter) {
        doc_reader_close(reader);
        return NULL;
    }

    uint64_t remaining = settings->sample_bytes > 0 ? (uint64_t)settings->sample_bytes : UINT64_MAX;
    /* A document is sampled when the hash of its text falls below the rate,
     * so the sample depends only on the texts, not on their order or files. */
    uint64_t rate_limit = settings->sample_rate >= 1.0
                              ? UINT64_MAX
                              : (uint64_t)(settings->sample_rate * 18446744073709551616.0);
    doc_t doc;
    doc_init(&doc);
    int status = 0;
    while (remaining > 0 && doc_reader_next(reader, &doc, stats) == 1) {
        (*valid_records)++;
        stats_record_in(stats, doc.text_length);
        if (rate_limit != UINT64_MAX && XXH3_64bits(doc.text, doc.text_length) >= rate_limit) {
            stats_record_dropped(stats, "not_sampled");
            continue;
        }
        size_t length = doc.text_length;
        if (length > remaining) {
            length = utf8_prefix_length(doc.text, (size_t)remaining);
            stats_count(stats, "documents_truncated_by_sample", 1);
        }
        remaining -= length < remaining ? length : remaining;
        if (length == 0 && doc.text_length > 0)
            remaining = 0;
        if (bpe_counter_add(counter, doc.text, length) != 0) {
            status = -1;
            break;
        }
        stats_record_kept(stats, length);
    }
    doc_clear(&doc);
    *failed_inputs = doc_reader_failed_files(reader);
    *input_count = doc_reader_file_count(reader);
    doc_reader_close(reader);

    bpe_word_counts_t *counts = bpe_counter_finish(counter);
    if (status != 0) {
        bpe_word_counts_free(counts);
        return NULL;
    }
    return counts;
}

/* Writes tokenizer.json, stats and the manifest into an output folder. */
static int write_folder(const cli_program_t *program, const train_settings_t *settings,
                        const outdir_identity_t *identity, const tokenizer_t *tokenizer,
                        const stats_t *stats)
{
    outdir_t *outdir = outdir_open(program->stage->output, identity);
    if (!outdir)
        return -1;
    char *json_text = tokenizer_to_json(tokenizer);
    text_writer_t *writer = json_text ? outdir_create_text(outdir, "tokenizer.json", TEXT_PLAIN)
                                      : NULL;
    if (!writer || text_writer_write(writer, json_text, strlen(json_text)) != 0 ||
        text_writer_write(writer, "\n", 1) != 0) {
        log_error("%s: writing tokenizer.json failed", program->stage->output);
        if (writer)
            text_writer_abort(writer);
        free(json_text);
        outdir_abort(outdir);
        return -1;
    }
    free(json_text);
    if (outdir_commit_text(outdir, writer, "tokenizer.json", tokenizer_vocab_size(tokenizer))) {
        outdir_abort(outdir);
        return -1;
    }
    if (settings->tiktoken) {
        char *ranks = tokenizer_to_tiktoken(tokenizer);
        writer = ranks ? outdir_create_text(outdir, "tokenizer.tiktoken", TEXT_PLAIN) : NULL;
        if (!writer || text_writer_write(writer, ranks, strlen(ranks)) != 0 ||
            outdir_commit_text(outdir, writer, "tokenizer.tiktoken",
                               tokenizer_vocab_size(tokenizer)) != 0) {
            log_error("%s: writing tokenizer.tiktoken failed", program->stage->output);
            if (writer)
                text_writer_abort(writer);
            free(ranks);
            outdir_abort(outdir);
            return -1;
        }
        free(ranks);
    }

    char value[64];
    snprintf(value, sizeof(value), "%u", tokenizer_vocab_size(tokenizer));
    outdir_set_extra(outdir, "vocab_size", value);
    char hash[33];
    tokenizer_hash(tokenizer, hash);
    snprintf(value, sizeof(value), "\"%s\"", hash);
    outdir_set_extra(outdir, "tokenizer_hash", value);
    if (stage_write_stats(program, stats, outdir) != 0) {
        outdir_abort(outdir);
        return -1;
    }
    return outdir_finish(outdir);
}

static int run_training(const cli_program_t *program, const train_settings_t *settings,
                        const outdir_identity_t *identity)
{
    stats_t stats;
    stats_init(&stats, "bpe-train");
    double start = time_now_seconds();
    size_t failed_inputs = 0, input_count = 0;
    uint64_t valid_records = 0;
    bpe_word_counts_t *counts = count_words(program, settings, &stats, &failed_inputs,
                                            &input_count, &valid_records);
    bool all_invalid = counts && valid_records == 0 && stats.records_in > 0;
    if (all_invalid)
        log_error("no valid document in the input; every record was invalid");
    if (!counts || all_invalid || stage_exit_status(failed_inputs, input_count) != 0) {
        bpe_word_counts_free(counts);
        stats_free(&stats);
        return 1;
    }
    double counted = time_now_seconds();
    log_info("counted %zu distinct words (%llu in all) in %.1f s",
             bpe_word_counts_distinct(counts),
             (unsigned long long)bpe_word_counts_total(counts), counted - start);

    bpe_train_options_t options = {
        .vocab_size = (uint32_t)settings->vocab_size,
        .min_frequency = (uint64_t)settings->min_frequency,
        .max_token_bytes = (uint32_t)settings->max_token_bytes,
        .special_tokens = (const char *const *)settings->special_list,
        .special_count = settings->special_count,
        .pattern = settings->regex,
    };
    tokenizer_t *tokenizer = bpe_train(counts, &options);
    bpe_word_counts_free(counts);
    int status = 1;
    if (tokenizer) {
        log_info("trained %u tokens in %.1f s", tokenizer_vocab_size(tokenizer),
                 time_now_seconds() - counted);
        stats_count(&stats, "vocab_size", tokenizer_vocab_size(tokenizer));
        const char *output = program->stage->output;
        if (doc_output_is_folder(output))
            status = write_folder(program, settings, identity, tokenizer, &stats) == 0 ? 0 : 1;
        else if (tokenizer_save(tokenizer, output) == 0 &&
                 stage_write_stats(program, &stats, NULL) == 0)
            status = 0;
        if (status == 0)
            stats_log_summary(&stats);
    }
    tokenizer_free(tokenizer);
    stats_free(&stats);
    return status;
}

int main(int argc, char **argv)
{
    log_init("bpe-train");
    train_settings_t settings = {
        .vocab_size = 8192, .min_frequency = 2, .max_token_bytes = 0, .sample_bytes = 0,
        .sample_rate = 1.0, .pattern = "gpt2", .special_tokens = TOKENIZER_EOT_TOKEN,
    };
    cli_option_t options[] = {
        {"vocab-size", 0, CLI_INT, &settings.vocab_size, "N", "tokens",
         "vocabulary size including the 256 byte tokens and the special tokens", CLI_SETTING,
         1, 1 << 30},
        {"min-frequency", 0, CLI_INT, &settings.min_frequency, "N", "occurrences",
         "stop merging when the most frequent pair occurs fewer times", CLI_SETTING, 1, 1e18},
        {"special-tokens", 0, CLI_STRING, &settings.special_tokens, "LIST", NULL,
         "comma-separated special tokens, given the ids after the merges; empty for none",
         CLI_SETTING, 0, 0},
        {"max-token-bytes", 0, CLI_INT, &settings.max_token_bytes, "N", "bytes",
         "longest token a merge may create; 0 means no limit", CLI_SETTING, 0, 1 << 20},
        {"sample-bytes", 0, CLI_INT, &settings.sample_bytes, "N", "bytes",
         "train on the first N bytes of document text in input order; 0 means all",
         CLI_SETTING, 0, 1e18},
        {"sample-rate", 0, CLI_DOUBLE, &settings.sample_rate, "R", NULL,
         "train on the documents whose text hash falls in the first R of the range "
         "(deterministic, order-independent); 1 means all", CLI_SETTING, 1e-9, 1},
        {"pattern", 0, CLI_STRING, &settings.pattern, "NAME|REGEX", NULL,
         "pre-tokenization: gpt2, cl100k (also llama3), o200k, or a PCRE2 regex",
         CLI_SETTING, 0, 0},
        {"chat-tokens", 0, CLI_FLAG, &settings.chat_tokens, NULL, NULL,
         "also add the special tokens " TOKENIZER_IM_START_TOKEN " and "
         TOKENIZER_IM_END_TOKEN, CLI_SETTING, 0, 0},
        {"tiktoken", 0, CLI_FLAG, &settings.tiktoken, NULL, NULL,
         "also write tokenizer.tiktoken (tiktoken's base64 rank format) into the folder", 0, 0,
         0},
        {0},
    };
    cli_stage_t stage = {.threads = 1};
    cli_program_t program = {
        .name = "bpe-train",
        .summary = "train a byte-level BPE tokenizer (Hugging Face tokenizer.json)",
        .usage = "[options] INPUT... -o OUTPUT",
        .description = "Reads documents (JSON Lines files, finished folders or - for standard "
                       "input), counts pre-tokenized words (--threads workers) and learns "
                       "merges. OUTPUT is a folder (tokenizer.json, stats.json and a manifest; "
                       "skipped when up to date unless --force) or a file ending in .json.",
        .options = options,
        .stage = &stage,
    };
    int parsed = parse_options(&program, &settings, argc, argv);
    int status = cli_exit_status(parsed);
    if (parsed == CLI_CONTINUE) {
        outdir_identity_t identity = {0};
        int prepared = stage_prepare(&program, &identity);
        if (prepared == 1)
            status = 0; /* the folder is up to date; outdir_is_current logged why */
        else if (prepared == 0)
            status = run_training(&program, &settings, &identity);
        else
            status = 1;
        outdir_identity_free(&identity);
    }
    for (size_t i = 0; i < settings.special_count; i++)
        free(settings.special_list[i]);
    free(settings.special_list);
    cli_free(&program);
    return status;
}
