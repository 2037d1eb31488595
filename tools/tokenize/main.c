/*
 * tokenize: encodes documents or text lines to token ids with a
 * tokenizer.json, and decodes id lines back to text.
 *
 * Output is one line per document or input line: ids separated by single
 * spaces when encoding, the decoded text when decoding. The tokenizer itself
 * is common/tokenizer.h; docs/tokenizer.md has examples.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "docio.h"
#include "log.h"
#include "stats.h"
#include "textio.h"
#include "tokenizer.h"

typedef struct {
    char *tokenizer_path;
    bool text_mode;
    bool decode;
    bool allow_special;
} tokenize_settings_t;

/* Texts waiting to be encoded together on the worker threads. */
enum { BATCH_MAX_BYTES = 8 << 20, BATCH_MAX_TEXTS = 8192 };

typedef struct {
    char *bytes;          /* the texts back to back */
    size_t used, capacity;
    size_t *offsets;      /* start of each text in bytes, and one past the last */
    size_t count;
    const char **texts;   /* pointers made at encoding time */
    size_t *lengths;
    token_buffer_t *outs;
} text_batch_t;

typedef struct {
    const tokenizer_t *tokenizer;
    text_writer_t *writer;
    int threads;
    text_batch_t batch;
    token_buffer_t ids;
    char *line;           /* formatted output line */
    size_t line_capacity;
    uint64_t records;
    uint64_t bytes;       /* text bytes encoded or decoded */
    uint64_t tokens;
} tokenize_run_t;

static int parse_options(cli_program_t *program, tokenize_settings_t *settings, int argc,
                         char **argv)
{
    int parsed = cli_parse(program, argc, argv);
    if (parsed != CLI_CONTINUE)
        return parsed;
    cli_stage_t *stage = program->stage;
    if (!settings->tokenizer_path || !settings->tokenizer_path[0]) {
        log_error("missing tokenizer: give -t tokenizer.json");
        return CLI_USAGE_ERROR;
    }
    if (settings->decode && settings->text_mode) {
        log_error("--decode and --text cannot be combined: --decode reads lines of ids");
        return CLI_USAGE_ERROR;
    }
    if (stage->task_count > 1 && (settings->decode || settings->text_mode)) {
        log_error("--task applies to document input only; split text or id files yourself");
        return CLI_USAGE_ERROR;
    }
    if (stage->inputs.count == 0)
        cli_string_list_push(&stage->inputs, "-");
    if (stage->threads > 1 && settings->decode)
        log_info("decoding runs on one thread; --threads %lld applies to encoding",
                 (long long)stage->threads);
    return CLI_CONTINUE;
}

/* Writes `id` in decimal (at most 10 digits, no NUL); returns the digit
 * count. Faster than snprintf, which dominated the time of encoding. */
static size_t format_id(char *out, uint32_t id)
{
    char digits[10];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + id % 10);
        id /= 10;
    } while (id > 0);
    for (size_t i = 0; i < count; i++)
        out[i] = digits[count - 1 - i];
    return count;
}

/* Writes `ids` as one line of decimal numbers. */
static int write_id_line(tokenize_run_t *run, const token_buffer_t *ids)
{
    size_t needed = ids->count * 11 + 2;
    if (needed > run->line_capacity) {
        char *grown = realloc(run->line, needed);
        if (!grown) {
            log_error("out of memory formatting %zu ids", ids->count);
            return -1;
        }
        run->line = grown;
        run->line_capacity = needed;
    }
    size_t used = 0;
    for (size_t i = 0; i < ids->count; i++) {
        if (i > 0)
            run->line[used++] = ' ';
        used += format_id(run->line + used, ids->ids[i]);
    }
    run->line[used++] = '\n';
    return text_writer_write(run->writer, run->line, used);
}

static void batch_free(text_batch_t *batch)
{
    for (size_t i = 0; i < BATCH_MAX_TEXTS; i++) {
        if (batch->outs)
            token_buffer_free(&batch->outs[i]);
    }
    free(batch->bytes);
    free(batch->offsets);
    free(batch->texts);
    free(batch->lengths);
    free(batch->outs);
}

/* Encodes the queued texts on the run's threads and writes their lines in
 * input order. */
static int flush_batch(tokenize_run_t *run, const tokenize_settings_t *settings)
{
    text_batch_t *batch = &run->batch;
    if (batch->count == 0)
        return 0;
    for (size_t i = 0; i < batch->count; i++) {
        batch->texts[i] = batch->bytes + batch->offsets[i];
        batch->lengths[i] = batch->offsets[i + 1] - batch->offsets[i];
        token_buffer_clear(&batch->outs[i]);
    }
    if (tokenizer_encode_batch(run->tokenizer, batch->texts, batch->lengths, batch->count,
                               settings->allow_special, run->threads, batch->outs) != 0)
        return -1;
    int status = 0;
    for (size_t i = 0; i < batch->count && status == 0; i++) {
        run->records++;
        run->bytes += batch->lengths[i];
        run->tokens += batch->outs[i].count;
        status = write_id_line(run, &batch->outs[i]);
    }
    batch->count = 0;
    batch->used = 0;
    return status;
}

/* Queues one text (copied) for encoding; full batches are encoded at once. */
static int encode_text(tokenize_run_t *run, const tokenize_settings_t *settings,
                       const char *text, size_t length)
{
    text_batch_t *batch = &run->batch;
    if (!batch->offsets) {
        batch->offsets = calloc(BATCH_MAX_TEXTS + 1, sizeof(*batch->offsets));
        batch->texts = calloc(BATCH_MAX_TEXTS, sizeof(*batch->texts));
        batch->lengths = calloc(BATCH_MAX_TEXTS, sizeof(*batch->lengths));
        batch->outs = calloc(BATCH_MAX_TEXTS, sizeof(*batch->outs));
        if (!batch->offsets || !batch->texts || !batch->lengths || !batch->outs) {
            log_error("out of memory queuing texts");
            return -1;
        }
    }
    if (batch->used + length > batch->capacity) {
        size_t capacity = 2 * batch->capacity + length + 4096;
        char *grown = realloc(batch->bytes, capacity);
        if (!grown) {
            log_error("out of memory queuing a text of %zu bytes", length);
            return -1;
        }
        batch->bytes = grown;
        batch->capacity = capacity;
    }
    memcpy(batch->bytes + batch->used, text, length);
    batch->offsets[batch->count] = batch->used;
    batch->used += length;
    batch->offsets[++batch->count] = batch->used;
    if (batch->count == BATCH_MAX_TEXTS || batch->used >= BATCH_MAX_BYTES)
        return flush_batch(run, settings);
    return 0;
}

static int encode_documents(tokenize_run_t *run, const cli_program_t *program,
                            const tokenize_settings_t *settings)
{
    const cli_stage_t *stage = program->stage;
    doc_reader_t *reader = doc_reader_open(&stage->inputs, stage->task_index, stage->task_count);
    if (!reader)
        return -1;
    stats_t stats;
    stats_init(&stats, "tokenize");
    doc_t doc;
    doc_init(&doc);
    int status = 0;
    while (status == 0 && doc_reader_next(reader, &doc, &stats) == 1)
        status = encode_text(run, settings, doc.text, doc.text_length);
    if (status == 0)
        status = flush_batch(run, settings);
    doc_clear(&doc);
    if (status == 0 && doc_reader_file_count(reader) > 0 &&
        doc_reader_failed_files(reader) >= doc_reader_file_count(reader)) {
        log_error("no input could be read");
        status = -1;
    }
    /* The reader counted the invalid and truncated records in and dropped;
     * the encoded ones are added here. */
    stats.records_in += run->records;
    stats.records_kept = run->records;
    stats.bytes_in += run->bytes;
    if (status == 0 && run->records == 0 && stats.records_in > 0) {
        log_error("no valid document in the input; every record was invalid");
        status = -1;
    }
    if (status == 0 && stats.records_dropped > 0)
        log_warn("%llu records were skipped (invalid or truncated)",
                 (unsigned long long)stats.records_dropped);
    if (status == 0 && stage->stats_path) {
        stats_count(&stats, "tokens", run->tokens);
        status = stats_write_json(&stats, stage->stats_path);
    }
    stats_free(&stats);
    doc_reader_close(reader);
    return status;
}

static int encode_lines(tokenize_run_t *run, const cli_program_t *program,
                        const tokenize_settings_t *settings)
{
    const cli_string_list_t *inputs = &program->stage->inputs;
    for (size_t i = 0; i < inputs->count; i++) {
        text_reader_t *reader = text_reader_open(inputs->items[i]);
        if (!reader)
            return -1;
        char *line;
        size_t length;
        int got, status = 0;
        while (status == 0 && (got = text_reader_next_line(reader, &line, &length)) == 1)
            status = encode_text(run, settings, line, length);
        text_reader_close(reader);
        if (status != 0 || got < 0)
            return -1;
    }
    return flush_batch(run, settings);
}

/* Parses one line of ids into run->ids; logs the file, line and bad value. */
static int parse_id_line(tokenize_run_t *run, const char *line, size_t length,
                         const char *path, uint64_t line_number)
{
    token_buffer_clear(&run->ids);
    uint32_t vocab_size = tokenizer_vocab_size(run->tokenizer);
    const char *cursor = line, *end = line + length;
    while (cursor < end) {
        while (cursor < end && (*cursor == ' ' || *cursor == '\t'))
            cursor++;
        if (cursor == end)
            break;
        const char *start = cursor;
        uint64_t value = 0;
        while (cursor < end && *cursor >= '0' && *cursor <= '9' && value < UINT32_MAX)
            value = value * 10 + (uint64_t)(*cursor++ - '0');
        bool separated = cursor == end || *cursor == ' ' || *cursor == '\t';
        if (cursor == start || !separated || value >= vocab_size) {
            while (cursor < end && *cursor != ' ' && *cursor != '\t')
                cursor++;
            log_error("%s:%llu: invalid token id \"%.*s\": expected a number from 0 to %u",
                      path, (unsigned long long)line_number, (int)(cursor - start), start,
                      vocab_size - 1);
            return -1;
        }
        if (token_buffer_push(&run->ids, (uint32_t)value) != 0) {
            log_error("out of memory reading ids");
            return -1;
        }
    }
    return 0;
}

static int decode_lines(tokenize_run_t *run, const cli_program_t *program)
{
    const cli_string_list_t *inputs = &program->stage->inputs;
    for (size_t i = 0; i < inputs->count; i++) {
        text_reader_t *reader = text_reader_open(inputs->items[i]);
        if (!reader)
            return -1;
        char *line;
        size_t length;
        int got, status = 0;
        while (status == 0 && (got = text_reader_next_line(reader, &line, &length)) == 1) {
            status = parse_id_line(run, line, length, inputs->items[i],
                                   text_reader_line_number(reader));
            char *text = NULL;
            size_t text_length = 0;
            if (status == 0)
                status = tokenizer_decode(run->tokenizer, run->ids.ids, run->ids.count, &text,
                                          &text_length);
            if (status == 0) {
                run->records++;
                run->tokens += run->ids.count;
                run->bytes += text_length;
                status = text_writer_write(run->writer, text, text_length);
                if (status == 0)
                    status = text_writer_write(run->writer, "\n", 1);
            }
            free(text);
        }
        text_reader_close(reader);
        if (status != 0 || got < 0)
            return -1;
    }
    return 0;
}

static int run_tokenize(const cli_program_t *program, const tokenize_settings_t *settings)
{
    tokenize_run_t run = {0};
    tokenizer_t *tokenizer = tokenizer_load(settings->tokenizer_path);
    if (!tokenizer)
        return 1;
    run.tokenizer = tokenizer;
    run.threads = (int)program->stage->threads;
    const char *output = program->stage->output ? program->stage->output : "-";
    run.writer = text_writer_open(output, text_compression_from_path(output), 0);
    int status = run.writer ? 0 : -1;

    double start = time_now_seconds();
    if (status == 0) {
        if (settings->decode)
            status = decode_lines(&run, program);
        else if (settings->text_mode)
            status = encode_lines(&run, program, settings);
        else
            status = encode_documents(&run, program, settings);
    }
    double seconds = time_now_seconds() - start;

    if (run.writer)
        status = status == 0 ? text_writer_commit(run.writer) : (text_writer_abort(run.writer), -1);
    if (status == 0)
        log_info("%s %llu records, %llu tokens, %.2f MB of text in %.2f s (%.1f MB/s)",
                 settings->decode ? "decoded" : "encoded", (unsigned long long)run.records,
                 (unsigned long long)run.tokens, run.bytes / 1e6, seconds,
                 seconds > 0 ? run.bytes / 1e6 / seconds : 0.0);
    token_buffer_free(&run.ids);
    batch_free(&run.batch);
    free(run.line);
    tokenizer_free(tokenizer);
    return status == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    log_init("tokenize");
    tokenize_settings_t settings = {0};
    cli_option_t options[] = {
        {"tokenizer", 't', CLI_STRING, &settings.tokenizer_path, "FILE", NULL,
         "Hugging Face tokenizer.json (byte-level BPE) to use", 0, 0, 0},
        {"text", 0, CLI_FLAG, &settings.text_mode, NULL, NULL,
         "read plain text and encode each line, instead of JSON Lines documents", 0, 0, 0},
        {"decode", 'd', CLI_FLAG, &settings.decode, NULL, NULL,
         "read lines of space-separated ids and print the decoded text, one line each", 0, 0,
         0},
        {"allow-special", 0, CLI_FLAG, &settings.allow_special, NULL, NULL,
         "encode special tokens such as <|endoftext|> in the text as their ids; without it "
         "they are encoded as plain text", 0, 0, 0},
        {0},
    };
    cli_stage_t stage = {.threads = 1};
    cli_program_t program = {
        .name = "tokenize",
        .summary = "encode documents or text to token ids, or decode ids to text",
        .usage = "-t TOKENIZER [options] [INPUT...] [-o OUTPUT]",
        .description = "Encoding prints one line of space-separated ids per document (or per "
                       "line with --text), encoded in batches on --threads threads. --decode "
                       "reads such lines and prints the text of "
                       "each on one line. Inputs default to standard input; OUTPUT to "
                       "standard output.",
        .options = options,
        .stage = &stage,
    };
    int parsed = parse_options(&program, &settings, argc, argv);
    int status = cli_exit_status(parsed);
    if (parsed == CLI_CONTINUE)
        status = run_tokenize(&program, &settings);
    cli_free(&program);
    return status;
}
