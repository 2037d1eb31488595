/*
 * shard --inspect: prints a shard file's header and counts to standard
 * output, verifies every frame checksum, and decodes the start of the first
 * document with the tokenizer given by -t or found as tokenizer.json beside
 * the file.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "shard.h"
#include "shard_tool.h"
#include "tokenizer.h"

static void print_header(const shard_reader_t *reader)
{
    const shard_info_t *info = shard_reader_info(reader);
    printf("file: %s\n", shard_reader_path(reader));
    printf("format version: %u\n", info->version);
    printf("token width: %u bits\n", info->token_bytes * 8);
    printf("vocabulary size: %u\n", info->vocab_size);
    printf("end-of-text id: %u\n", info->eot_id);
    printf("tokenizer hash: %s\n", info->tokenizer_hash);
    printf("tokens: %llu\n", (unsigned long long)info->token_count);
    printf("documents: %llu\n", (unsigned long long)info->document_count);
    printf("frames: %llu of %u tokens\n", (unsigned long long)info->frame_count,
           info->frame_tokens);
    printf("index: %llu bytes at byte %llu\n", (unsigned long long)info->index_size,
           (unsigned long long)info->index_offset);
    if (info->document_count > 0)
        printf("mean document length: %.1f tokens\n",
               (double)info->token_count / (double)info->document_count);
    static const char *const kinds[] = {"documents", "sft", "preference"};
    printf("kind: %s\n", info->kind <= SHARD_KIND_PREFERENCE ? kinds[info->kind] : "unknown");
    if (info->kind == SHARD_KIND_SFT)
        printf("loss-mask spans: %llu\n", (unsigned long long)info->span_count);
    if (info->kind == SHARD_KIND_PREFERENCE)
        printf("preference pairs: %llu\n", (unsigned long long)info->pair_count);
}

/* Prints the share of tokens a fine-tuning run trains on (sft shards). */
static int print_trained_share(const shard_reader_t *reader)
{
    const shard_info_t *info = shard_reader_info(reader);
    if (info->kind != SHARD_KIND_SFT || info->token_count == 0)
        return 0;
    uint8_t *mask = malloc(65536);
    if (!mask)
        return -1;
    uint64_t trained = 0;
    for (uint64_t start = 0; start < info->token_count; start += 65536) {
        size_t count = info->token_count - start < 65536 ? (size_t)(info->token_count - start)
                                                         : 65536;
        shard_reader_loss_mask(reader, start, count, mask);
        for (size_t i = 0; i < count; i++)
            trained += mask[i];
    }
    free(mask);
    printf("trained tokens: %llu of %llu (%.1f%%)\n", (unsigned long long)trained,
           (unsigned long long)info->token_count,
           100.0 * (double)trained / (double)info->token_count);
    return 0;
}

/* Returns the tokenizer path for the sample: -t, or tokenizer.json beside the
 * shard when it exists, or NULL. The result is malloc'ed. */
static char *find_tokenizer(const shard_settings_t *settings)
{
    if (settings->tokenizer_path)
        return strdup(settings->tokenizer_path);
    const char *slash = strrchr(settings->inspect_path, '/');
    size_t folder_length = slash ? (size_t)(slash - settings->inspect_path) + 1 : 0;
    size_t size = folder_length + sizeof "tokenizer.json";
    char *path = malloc(size);
    if (!path)
        return NULL;
    snprintf(path, size, "%.*stokenizer.json", (int)folder_length, settings->inspect_path);
    if (access(path, R_OK) != 0) {
        free(path);
        return NULL;
    }
    return path;
}

/* Prints the trained runs of the sample (sft shards), decoded and joined by "|". */
static int print_trained_sample(const shard_reader_t *reader, const tokenizer_t *tokenizer,
                                const int32_t *tokens, size_t count)
{
    uint8_t *mask = malloc(count ? count : 1);
    if (!mask)
        return -1;
    shard_reader_loss_mask(reader, 1, count, mask);
    printf("sample trained text: ");
    bool first = true;
    int status = 0;
    for (size_t i = 0; i < count && status == 0;) {
        if (!mask[i]) {
            i++;
            continue;
        }
        size_t end = i;
        while (end < count && mask[end])
            end++;
        char *text = NULL;
        size_t length = 0;
        status = tokenizer_decode(tokenizer, (const uint32_t *)tokens + i, end - i, &text,
                                  &length);
        if (status == 0) {
            printf("%s", first ? "" : "|");
            fwrite(text, 1, length, stdout);
            free(text);
        }
        first = false;
        i = end;
    }
    printf("\n");
    free(mask);
    return status;
}

/* Prints the first tokens of document 0 as ids and, with a tokenizer, as text. */
static int print_sample(shard_reader_t *reader, const shard_settings_t *settings)
{
    const shard_info_t *info = shard_reader_info(reader);
    if (info->document_count == 0 || settings->sample_tokens == 0)
        return 0;
    uint64_t end = info->document_count > 1 ? shard_reader_document_start(reader, 1)
                                            : info->token_count;
    uint64_t count = end - 1;           /* skip the end-of-text token */
    if (count > (uint64_t)settings->sample_tokens)
        count = (uint64_t)settings->sample_tokens;
    int32_t *tokens = malloc((count ? count : 1) * sizeof *tokens);
    if (!tokens || shard_reader_read_tokens(reader, 1, (size_t)count, tokens) != 0) {
        free(tokens);
        return -1;
    }
    printf("sample: first %llu tokens of document 0:", (unsigned long long)count);
    for (uint64_t i = 0; i < count; i++)
        printf(" %d", tokens[i]);
    printf("\n");

    int status = 0;
    char *tokenizer_path = find_tokenizer(settings);
    tokenizer_t *tokenizer = tokenizer_path ? tokenizer_load(tokenizer_path) : NULL;
    if (tokenizer) {
        char hash[33];
        tokenizer_hash(tokenizer, hash);
        if (strcmp(hash, info->tokenizer_hash) != 0)
            log_warn("%s has hash %s, but the shard was written with tokenizer %s; the sample "
                     "text may be wrong", tokenizer_path, hash, info->tokenizer_hash);
        char *text = NULL;
        size_t length = 0;
        if (tokenizer_decode(tokenizer, (const uint32_t *)tokens, (size_t)count, &text,
                             &length) == 0) {
            printf("sample text: ");
            fwrite(text, 1, length, stdout);
            printf("\n");
            free(text);
            if (info->kind == SHARD_KIND_SFT)
                status = print_trained_sample(reader, tokenizer, tokens, (size_t)count);
        } else {
            status = -1;
        }
        tokenizer_free(tokenizer);
    } else if (!tokenizer_path) {
        log_info("no tokenizer.json beside %s; give -t FILE to decode the sample",
                 settings->inspect_path);
    }
    free(tokenizer_path);
    free(tokens);
    return status;
}

int shard_inspect(const shard_settings_t *settings)
{
    shard_reader_t *reader = shard_reader_open(settings->inspect_path);
    if (!reader)
        return 1;
    print_header(reader);
    int status = 0;
    if (shard_reader_verify(reader) != 0) {
        printf("checksums: FAILED\n");
        status = 1;
    } else {
        printf("checksums: ok (%llu frames)\n",
               (unsigned long long)shard_reader_info(reader)->frame_count);
        if (print_trained_share(reader) != 0 || print_sample(reader, settings) != 0)
            status = 1;
    }
    shard_reader_close(reader);
    return status;
}
