/*
 * Token shard writer and reader (format in shard.h and docs/formats.md).
 *
 * The writer buffers one frame of tokens and compresses and appends it when it
 * is full. The index and header are written at the end, so the file is
 * complete only after shard_writer_finish. The reader keeps the index
 * in memory and reads frames with pread, so frames are independent.
 */
#include "shard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "log.h"

/* Header field offsets, in bytes from the start of the file. */
enum {
    HEADER_MAGIC = 0,
    HEADER_VERSION = 8,
    HEADER_SIZE_FIELD = 12,
    HEADER_TOKEN_BYTES = 16,
    HEADER_VOCAB_SIZE = 20,
    HEADER_EOT_ID = 24,
    HEADER_FRAME_TOKENS = 28,
    HEADER_TOKEN_COUNT = 32,
    HEADER_DOCUMENT_COUNT = 40,
    HEADER_FRAME_COUNT = 48,
    HEADER_INDEX_OFFSET = 56,
    HEADER_INDEX_SIZE = 64,
    HEADER_INDEX_CHECKSUM = 72,
    HEADER_TOKENIZER_HASH = 80,
    HEADER_CHECKSUM_V1 = 144,   /* version 1: checksum of bytes 0..143 */
    HEADER_KIND = 144,          /* version 2 fields from here */
    HEADER_SPAN_COUNT = 152,
    HEADER_PAIR_COUNT = 160,
    HEADER_CHECKSUM = 184,      /* version 2: checksum of bytes 0..183 */
};

enum { SPAN_ENTRY_SIZE = 16, PAIR_ENTRY_SIZE = 24 };

typedef struct {
    uint64_t offset;            /* file offset of the compressed frame */
    uint32_t compressed_size;   /* bytes */
    uint32_t token_count;
    uint64_t first_token;       /* token offset of the frame's first token */
    uint64_t checksum;          /* xxh3-64 of the little-endian token bytes */
} frame_entry_t;

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

uint32_t shard_token_bytes_for_vocab(uint32_t vocab_size)
{
    return vocab_size <= 65536u ? 2u : 4u;
}

/*
 * Packs tokens into little-endian bytes of the given width, one token after
 * the other. Byte planes (all low bytes, then all high bytes) were measured
 * on the demo corpus: they decode about 1.6 times faster but compress worse
 * (71% instead of 63% of the raw size), because zstd then finds no repeated
 * token sequences as repeated byte strings.
 */
static void pack_tokens(const int32_t *tokens, size_t count, uint32_t width, uint8_t *out)
{
    for (size_t i = 0; i < count; i++) {
        uint32_t v = (uint32_t)tokens[i];
        if (width == 2) {
            out[2 * i] = (uint8_t)v;
            out[2 * i + 1] = (uint8_t)(v >> 8);
        } else {
            put_u32(out + 4 * i, v);
        }
    }
}

static void unpack_tokens(const uint8_t *bytes, size_t count, uint32_t width, int32_t *out)
{
    if (width == 2) {
        for (size_t i = 0; i < count; i++)
            out[i] = (int32_t)((uint32_t)bytes[2 * i] | ((uint32_t)bytes[2 * i + 1] << 8));
        return;
    }
    for (size_t i = 0; i < count; i++)
        out[i] = (int32_t)get_u32(bytes + 4 * i);
}

/* ---- writer ---- */

struct shard_writer {
    char *path;
    FILE *file;
    shard_info_t info;
    int zstd_level;
    int32_t *frame;             /* tokens of the frame being filled */
    size_t frame_fill;
    uint8_t *packed;            /* frame_tokens * token_bytes */
    void *compressed;
    size_t compressed_capacity;
    ZSTD_CCtx *cctx;
    frame_entry_t *frames;
    size_t frame_capacity;
    uint64_t *doc_starts;
    size_t doc_capacity;
    uint64_t *spans;            /* (start, end) token offsets, two values per span */
    size_t span_capacity;       /* in values */
    shard_pair_t *pairs;
    size_t pair_capacity;
    uint64_t file_offset;
};

static int write_bytes(shard_writer_t *w, const void *data, size_t size)
{
    if (size && fwrite(data, 1, size, w->file) != size) {
        log_error("%s: write failed at byte %llu: %s", w->path,
                  (unsigned long long)w->file_offset, strerror(errno));
        return -1;
    }
    w->file_offset += size;
    return 0;
}

static int grow(void **items, size_t *capacity, size_t needed, size_t item_size)
{
    if (needed <= *capacity)
        return 0;
    size_t next = *capacity ? *capacity * 2 : 64;
    while (next < needed)
        next *= 2;
    void *p = realloc(*items, next * item_size);
    if (!p)
        return -1;
    *items = p;
    *capacity = next;
    return 0;
}

shard_writer_t *shard_writer_open(const char *path, const shard_writer_options_t *options)
{
    const char *hash = options->tokenizer_hash ? options->tokenizer_hash : "";
    if (options->vocab_size == 0 || options->eot_id >= options->vocab_size) {
        log_error("%s: invalid shard settings: end-of-text id %u with vocabulary size %u",
                  path, options->eot_id, options->vocab_size);
        return NULL;
    }
    if (strlen(hash) > SHARD_HASH_CAPACITY) {
        log_error("%s: tokenizer hash is %zu bytes, more than the %u a shard stores", path,
                  strlen(hash), SHARD_HASH_CAPACITY);
        return NULL;
    }
    shard_writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->info.version = SHARD_VERSION;
    w->info.vocab_size = options->vocab_size;
    w->info.eot_id = options->eot_id;
    w->info.token_bytes = shard_token_bytes_for_vocab(options->vocab_size);
    w->info.frame_tokens = options->frame_tokens ? options->frame_tokens
                                                 : SHARD_DEFAULT_FRAME_TOKENS;
    snprintf(w->info.tokenizer_hash, sizeof w->info.tokenizer_hash, "%s", hash);
    w->info.kind = options->kind;
    w->info.header_size = SHARD_HEADER_SIZE;
    w->zstd_level = options->zstd_level;
    w->path = strdup(path);
    w->frame = malloc((size_t)w->info.frame_tokens * sizeof *w->frame);
    w->packed = malloc((size_t)w->info.frame_tokens * w->info.token_bytes);
    w->compressed_capacity = ZSTD_compressBound((size_t)w->info.frame_tokens *
                                                w->info.token_bytes);
    w->compressed = malloc(w->compressed_capacity);
    w->cctx = ZSTD_createCCtx();
    if (w->cctx) {
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, w->zstd_level);
        ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_enableLongDistanceMatching,
                               options->long_distance ? 1 : 0);
    }
    if (options->kind > SHARD_KIND_PREFERENCE) {
        log_error("%s: unknown shard kind %u", path, options->kind);
        goto fail;
    }
    if (!w->path || !w->frame || !w->packed || !w->compressed || !w->cctx) {
        log_error("%s: out of memory opening a shard writer", path);
        goto fail;
    }
    w->file = fopen(path, "wb");
    if (!w->file) {
        log_error("%s: cannot create shard file: %s", path, strerror(errno));
        goto fail;
    }
    uint8_t zeros[SHARD_HEADER_SIZE] = {0};
    if (write_bytes(w, zeros, sizeof zeros) != 0)
        goto fail;
    return w;
fail:
    shard_writer_abort(w);
    return NULL;
}

static int flush_frame(shard_writer_t *w)
{
    if (w->frame_fill == 0)
        return 0;
    size_t raw_size = w->frame_fill * w->info.token_bytes;
    pack_tokens(w->frame, w->frame_fill, w->info.token_bytes, w->packed);
    size_t size = ZSTD_compress2(w->cctx, w->compressed, w->compressed_capacity, w->packed,
                                 raw_size);
    if (ZSTD_isError(size)) {
        log_error("%s: zstd compression of frame %llu failed: %s", w->path,
                  (unsigned long long)w->info.frame_count, ZSTD_getErrorName(size));
        return -1;
    }
    if (grow((void **)&w->frames, &w->frame_capacity, w->info.frame_count + 1,
             sizeof *w->frames) != 0)
        return -1;
    frame_entry_t *entry = &w->frames[w->info.frame_count];
    entry->offset = w->file_offset;
    entry->compressed_size = (uint32_t)size;
    entry->token_count = (uint32_t)w->frame_fill;
    entry->first_token = w->info.token_count - w->frame_fill;
    entry->checksum = XXH3_64bits(w->packed, raw_size);
    if (write_bytes(w, w->compressed, size) != 0)
        return -1;
    w->info.frame_count++;
    w->frame_fill = 0;
    return 0;
}

static int push_token(shard_writer_t *w, int32_t token)
{
    w->frame[w->frame_fill++] = token;
    w->info.token_count++;
    if (w->frame_fill == w->info.frame_tokens)
        return flush_frame(w);
    return 0;
}

int shard_writer_add_document(shard_writer_t *w, const int32_t *tokens, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= w->info.vocab_size) {
            log_error("%s: token %d at position %zu of document %llu is outside the vocabulary "
                      "of %u entries", w->path, tokens[i], i,
                      (unsigned long long)w->info.document_count, w->info.vocab_size);
            return -1;
        }
    }
    if (grow((void **)&w->doc_starts, &w->doc_capacity, w->info.document_count + 1,
             sizeof *w->doc_starts) != 0) {
        log_error("%s: out of memory for the document index", w->path);
        return -1;
    }
    w->doc_starts[w->info.document_count++] = w->info.token_count;
    if (push_token(w, (int32_t)w->info.eot_id) != 0)
        return -1;
    for (size_t i = 0; i < count; i++) {
        if (push_token(w, tokens[i]) != 0)
            return -1;
    }
    return 0;
}

int shard_writer_add_masked(shard_writer_t *w, const int32_t *tokens, size_t count,
                            const uint32_t *spans, size_t span_count)
{
    for (size_t i = 0; i < span_count; i++) {
        uint32_t start = spans[2 * i], end = spans[2 * i + 1];
        if (start >= end || end > count || (i > 0 && start < spans[2 * i - 1])) {
            log_error("%s: loss-mask span %zu (%u..%u) of document %llu is empty, overlaps "
                      "the one before or ends past the document's %zu tokens", w->path, i,
                      start, end, (unsigned long long)w->info.document_count, count);
            return -1;
        }
    }
    uint64_t base = w->info.token_count + 1;        /* after the end-of-text token */
    if (grow((void **)&w->spans, &w->span_capacity, 2 * (w->info.span_count + span_count),
             sizeof *w->spans) != 0) {
        log_error("%s: out of memory for the loss-mask spans", w->path);
        return -1;
    }
    if (shard_writer_add_document(w, tokens, count) != 0)
        return -1;
    for (size_t i = 0; i < span_count; i++) {
        uint64_t start = base + spans[2 * i], end = base + spans[2 * i + 1];
        uint64_t *last = w->info.span_count ? &w->spans[2 * w->info.span_count - 1] : NULL;
        if (last && *last == start) {       /* join touching spans */
            *last = end;
            continue;
        }
        w->spans[2 * w->info.span_count] = start;
        w->spans[2 * w->info.span_count + 1] = end;
        w->info.span_count++;
    }
    return 0;
}

int shard_writer_add_pair(shard_writer_t *w, const int32_t *prompt, size_t prompt_count,
                          const int32_t *chosen, size_t chosen_count, const int32_t *rejected,
                          size_t rejected_count)
{
    if (grow((void **)&w->pairs, &w->pair_capacity, w->info.pair_count + 1,
             sizeof *w->pairs) != 0) {
        log_error("%s: out of memory for the preference pairs", w->path);
        return -1;
    }
    uint64_t first = w->info.document_count;
    if (shard_writer_add_document(w, prompt, prompt_count) != 0 ||
        shard_writer_add_document(w, chosen, chosen_count) != 0 ||
        shard_writer_add_document(w, rejected, rejected_count) != 0)
        return -1;
    w->pairs[w->info.pair_count++] = (shard_pair_t){first, first + 1, first + 2};
    return 0;
}

uint64_t shard_writer_token_count(const shard_writer_t *w)
{
    return w->info.token_count;
}

uint64_t shard_writer_document_count(const shard_writer_t *w)
{
    return w->info.document_count;
}

/* Serializes the index: frame entries, document starts, loss-mask spans, pairs. */
static uint8_t *encode_index(const shard_writer_t *w, size_t *size)
{
    size_t frames_size = (size_t)w->info.frame_count * SHARD_FRAME_ENTRY_SIZE;
    size_t docs_size = (size_t)w->info.document_count * 8;
    size_t spans_size = (size_t)w->info.span_count * SPAN_ENTRY_SIZE;
    *size = frames_size + docs_size + spans_size + (size_t)w->info.pair_count * PAIR_ENTRY_SIZE;
    uint8_t *index = malloc(*size ? *size : 1);
    if (!index)
        return NULL;
    for (uint64_t i = 0; i < w->info.frame_count; i++) {
        uint8_t *p = index + i * SHARD_FRAME_ENTRY_SIZE;
        put_u64(p, w->frames[i].offset);
        put_u32(p + 8, w->frames[i].compressed_size);
        put_u32(p + 12, w->frames[i].token_count);
        put_u64(p + 16, w->frames[i].first_token);
        put_u64(p + 24, w->frames[i].checksum);
    }
    for (uint64_t i = 0; i < w->info.document_count; i++)
        put_u64(index + frames_size + i * 8, w->doc_starts[i]);
    uint8_t *p = index + frames_size + docs_size;
    for (uint64_t i = 0; i < 2 * w->info.span_count; i++, p += 8)
        put_u64(p, w->spans[i]);
    for (uint64_t i = 0; i < w->info.pair_count; i++, p += PAIR_ENTRY_SIZE) {
        put_u64(p, w->pairs[i].prompt);
        put_u64(p + 8, w->pairs[i].chosen);
        put_u64(p + 16, w->pairs[i].rejected);
    }
    return index;
}

static void encode_header(const shard_info_t *info, uint64_t index_checksum,
                          uint8_t header[SHARD_HEADER_SIZE])
{
    memset(header, 0, SHARD_HEADER_SIZE);
    memcpy(header + HEADER_MAGIC, SHARD_MAGIC, 8);
    put_u32(header + HEADER_VERSION, info->version);
    put_u32(header + HEADER_SIZE_FIELD, SHARD_HEADER_SIZE);
    put_u32(header + HEADER_TOKEN_BYTES, info->token_bytes);
    put_u32(header + HEADER_VOCAB_SIZE, info->vocab_size);
    put_u32(header + HEADER_EOT_ID, info->eot_id);
    put_u32(header + HEADER_FRAME_TOKENS, info->frame_tokens);
    put_u64(header + HEADER_TOKEN_COUNT, info->token_count);
    put_u64(header + HEADER_DOCUMENT_COUNT, info->document_count);
    put_u64(header + HEADER_FRAME_COUNT, info->frame_count);
    put_u64(header + HEADER_INDEX_OFFSET, info->index_offset);
    put_u64(header + HEADER_INDEX_SIZE, info->index_size);
    put_u64(header + HEADER_INDEX_CHECKSUM, index_checksum);
    memcpy(header + HEADER_TOKENIZER_HASH, info->tokenizer_hash, strlen(info->tokenizer_hash));
    put_u32(header + HEADER_KIND, info->kind);
    put_u64(header + HEADER_SPAN_COUNT, info->span_count);
    put_u64(header + HEADER_PAIR_COUNT, info->pair_count);
    put_u64(header + HEADER_CHECKSUM, XXH3_64bits(header, HEADER_CHECKSUM));
}

int shard_writer_finish(shard_writer_t *w)
{
    int result = -1;
    size_t index_size = 0;
    uint8_t *index = NULL;
    if (flush_frame(w) != 0)
        goto done;
    index = encode_index(w, &index_size);
    if (!index) {
        log_error("%s: out of memory encoding the shard index", w->path);
        goto done;
    }
    w->info.index_offset = w->file_offset;
    w->info.index_size = index_size;
    if (write_bytes(w, index, index_size) != 0)
        goto done;
    uint8_t header[SHARD_HEADER_SIZE];
    encode_header(&w->info, XXH3_64bits(index, index_size), header);
    if (fseek(w->file, 0, SEEK_SET) != 0 || fwrite(header, 1, sizeof header, w->file)
                                                != sizeof header) {
        log_error("%s: writing the shard header failed: %s", w->path, strerror(errno));
        goto done;
    }
    if (fflush(w->file) != 0 || fsync(fileno(w->file)) != 0) {
        log_error("%s: flushing the shard file failed: %s", w->path, strerror(errno));
        goto done;
    }
    int closed = fclose(w->file);
    w->file = NULL;
    if (closed != 0) {
        log_error("%s: closing the shard file failed: %s", w->path, strerror(errno));
        goto done;
    }
    result = 0;
done:
    free(index);
    if (result != 0) {
        shard_writer_abort(w);
        return -1;
    }
    free(w->path);
    free(w->frame);
    free(w->packed);
    free(w->compressed);
    ZSTD_freeCCtx(w->cctx);
    free(w->frames);
    free(w->doc_starts);
    free(w->spans);
    free(w->pairs);
    free(w);
    return 0;
}

void shard_writer_abort(shard_writer_t *w)
{
    if (!w)
        return;
    if (w->file) {
        fclose(w->file);
        unlink(w->path);
    }
    free(w->path);
    free(w->frame);
    free(w->packed);
    free(w->compressed);
    ZSTD_freeCCtx(w->cctx);
    free(w->frames);
    free(w->doc_starts);
    free(w->spans);
    free(w->pairs);
    free(w);
}

/* ---- reader ---- */

struct shard_reader {
    char *path;
    int fd;
    uint64_t file_size;
    shard_info_t info;
    frame_entry_t *frames;
    uint64_t *doc_starts;
    uint64_t *spans;            /* (start, end) pairs */
    shard_pair_t *pairs;
    ZSTD_DCtx *dctx;
    void *compressed;           /* the largest compressed frame fits */
    uint8_t *packed;
    int32_t *cache;             /* decoded tokens of frame cached_frame */
    uint64_t cached_frame;
    size_t cached_count;
    bool cache_valid;
};

static int read_at(shard_reader_t *r, void *buffer, size_t size, uint64_t offset,
                   const char *what)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = pread(r->fd, (uint8_t *)buffer + done, size - done, (off_t)(offset + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            log_error("%s: reading %s at byte %llu failed: %s", r->path, what,
                      (unsigned long long)(offset + done), strerror(errno));
            return -1;
        }
        if (n == 0) {
            log_error("%s: file is truncated: %s at byte %llu ends early; rebuild the shard",
                      r->path, what, (unsigned long long)(offset + done));
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

static int decode_header(shard_reader_t *r, const uint8_t *header, uint64_t *index_checksum)
{
    shard_info_t *info = &r->info;
    if (memcmp(header + HEADER_MAGIC, SHARD_MAGIC, 8) != 0) {
        log_error("%s: not an lmpipe token shard (bad magic at byte 0)", r->path);
        return -1;
    }
    info->version = get_u32(header + HEADER_VERSION);
    if (info->version != 1 && info->version != SHARD_VERSION) {
        log_error("%s: shard format version %u is not supported (this build reads versions 1 "
                  "to %u); rebuild the shards with this version of shard", r->path,
                  info->version, SHARD_VERSION);
        return -1;
    }
    info->header_size = info->version == 1 ? SHARD_HEADER_SIZE_V1 : SHARD_HEADER_SIZE;
    unsigned checksum_at = info->version == 1 ? HEADER_CHECKSUM_V1 : HEADER_CHECKSUM;
    if (get_u32(header + HEADER_SIZE_FIELD) != info->header_size ||
        r->file_size < info->header_size) {
        log_error("%s: header size field at byte %u is %u, expected %u for version %u; the "
                  "file is damaged or truncated", r->path, HEADER_SIZE_FIELD,
                  get_u32(header + HEADER_SIZE_FIELD), info->header_size, info->version);
        return -1;
    }
    if (get_u64(header + checksum_at) != XXH3_64bits(header, checksum_at)) {
        log_error("%s: header checksum mismatch at byte %u; the file is damaged", r->path,
                  checksum_at);
        return -1;
    }
    if (info->version >= 2) {
        info->kind = get_u32(header + HEADER_KIND);
        info->span_count = get_u64(header + HEADER_SPAN_COUNT);
        info->pair_count = get_u64(header + HEADER_PAIR_COUNT);
    }
    info->token_bytes = get_u32(header + HEADER_TOKEN_BYTES);
    info->vocab_size = get_u32(header + HEADER_VOCAB_SIZE);
    info->eot_id = get_u32(header + HEADER_EOT_ID);
    info->frame_tokens = get_u32(header + HEADER_FRAME_TOKENS);
    info->token_count = get_u64(header + HEADER_TOKEN_COUNT);
    info->document_count = get_u64(header + HEADER_DOCUMENT_COUNT);
    info->frame_count = get_u64(header + HEADER_FRAME_COUNT);
    info->index_offset = get_u64(header + HEADER_INDEX_OFFSET);
    info->index_size = get_u64(header + HEADER_INDEX_SIZE);
    *index_checksum = get_u64(header + HEADER_INDEX_CHECKSUM);
    memcpy(info->tokenizer_hash, header + HEADER_TOKENIZER_HASH, SHARD_HASH_CAPACITY);
    info->tokenizer_hash[SHARD_HASH_CAPACITY] = '\0';

    bool width_ok = info->token_bytes == shard_token_bytes_for_vocab(info->vocab_size);
    bool counts_ok = info->kind <= SHARD_KIND_PREFERENCE &&
                     info->span_count <= info->token_count &&
                     info->pair_count <= info->document_count / 3 &&
                     info->frame_count <= info->token_count &&
                     info->token_count < (1ull << 56);
    uint64_t expected_index = info->frame_count * SHARD_FRAME_ENTRY_SIZE +
                              info->document_count * 8 + info->span_count * SPAN_ENTRY_SIZE +
                              info->pair_count * PAIR_ENTRY_SIZE;
    if (!counts_ok) {
        log_error("%s: inconsistent shard header (kind %u, %llu loss-mask spans, %llu pairs for "
                  "%llu tokens, %llu documents); the file is damaged", r->path, info->kind,
                  (unsigned long long)info->span_count, (unsigned long long)info->pair_count,
                  (unsigned long long)info->token_count,
                  (unsigned long long)info->document_count);
        return -1;
    }
    if (!width_ok || info->frame_tokens == 0 || info->eot_id >= info->vocab_size ||
        info->document_count > info->token_count || info->index_size != expected_index ||
        info->frame_count != (info->token_count + info->frame_tokens - 1) / info->frame_tokens) {
        log_error("%s: inconsistent shard header (token width %u, vocabulary %u, frame tokens "
                  "%u, %llu frames for %llu tokens); the file is damaged", r->path,
                  info->token_bytes, info->vocab_size, info->frame_tokens,
                  (unsigned long long)info->frame_count, (unsigned long long)info->token_count);
        return -1;
    }
    if (info->index_offset < info->header_size || info->index_offset > r->file_size ||
        info->index_size != r->file_size - info->index_offset) {
        log_error("%s: file size %llu does not match the index at byte %llu (%llu bytes); "
                  "the file is truncated or damaged", r->path,
                  (unsigned long long)r->file_size, (unsigned long long)info->index_offset,
                  (unsigned long long)info->index_size);
        return -1;
    }
    return 0;
}

static int decode_index(shard_reader_t *r, const uint8_t *index)
{
    const shard_info_t *info = &r->info;
    size_t max_compressed = 0;
    for (uint64_t i = 0; i < info->frame_count; i++) {
        const uint8_t *p = index + i * SHARD_FRAME_ENTRY_SIZE;
        frame_entry_t *f = &r->frames[i];
        f->offset = get_u64(p);
        f->compressed_size = get_u32(p + 8);
        f->token_count = get_u32(p + 12);
        f->first_token = get_u64(p + 16);
        f->checksum = get_u64(p + 24);
        bool last = i + 1 == info->frame_count;
        uint64_t expected_count = last ? info->token_count - i * info->frame_tokens
                                       : info->frame_tokens;
        if (f->first_token != i * info->frame_tokens || f->token_count != expected_count ||
            f->offset < info->header_size ||
            f->offset + f->compressed_size > info->index_offset) {
            log_error("%s: index entry of frame %llu (offset %llu, %u bytes, %u tokens) is "
                      "invalid; the file is damaged", r->path, (unsigned long long)i,
                      (unsigned long long)f->offset, f->compressed_size, f->token_count);
            return -1;
        }
        if (f->compressed_size > max_compressed)
            max_compressed = f->compressed_size;
    }
    const uint8_t *docs = index + info->frame_count * SHARD_FRAME_ENTRY_SIZE;
    for (uint64_t i = 0; i < info->document_count; i++) {
        r->doc_starts[i] = get_u64(docs + i * 8);
        if (r->doc_starts[i] >= info->token_count ||
            (i > 0 && r->doc_starts[i] <= r->doc_starts[i - 1])) {
            log_error("%s: document %llu starts at token %llu, which is out of order or past "
                      "the end; the file is damaged", r->path, (unsigned long long)i,
                      (unsigned long long)r->doc_starts[i]);
            return -1;
        }
    }
    const uint8_t *p = docs + info->document_count * 8;
    for (uint64_t i = 0; i < info->span_count; i++, p += SPAN_ENTRY_SIZE) {
        uint64_t start = get_u64(p), end = get_u64(p + 8);
        if (start >= end || end > info->token_count || (i > 0 && start < r->spans[2 * i - 1])) {
            log_error("%s: loss-mask span %llu (tokens %llu..%llu) is empty, out of order or "
                      "past the end; the file is damaged", r->path, (unsigned long long)i,
                      (unsigned long long)start, (unsigned long long)end);
            return -1;
        }
        r->spans[2 * i] = start;
        r->spans[2 * i + 1] = end;
    }
    for (uint64_t i = 0; i < info->pair_count; i++, p += PAIR_ENTRY_SIZE) {
        shard_pair_t pair = {get_u64(p), get_u64(p + 8), get_u64(p + 16)};
        if (pair.prompt >= info->document_count || pair.chosen >= info->document_count ||
            pair.rejected >= info->document_count) {
            log_error("%s: preference pair %llu names a document past the %llu of the shard; "
                      "the file is damaged", r->path, (unsigned long long)i,
                      (unsigned long long)info->document_count);
            return -1;
        }
        r->pairs[i] = pair;
    }
    r->compressed = malloc(max_compressed ? max_compressed : 1);
    return r->compressed ? 0 : -1;
}

shard_reader_t *shard_reader_open(const char *path)
{
    uint8_t *index = NULL;
    shard_reader_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = -1;
    r->path = strdup(path);
    if (!r->path)
        goto fail;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (r->fd < 0 || fstat(r->fd, &st) != 0) {
        log_error("%s: cannot open shard file: %s", path, strerror(errno));
        goto fail;
    }
    r->file_size = (uint64_t)st.st_size;
    if (r->file_size < SHARD_HEADER_SIZE_V1) {
        log_error("%s: file is truncated: %llu bytes, shorter than the %u-byte header", path,
                  (unsigned long long)r->file_size, SHARD_HEADER_SIZE_V1);
        goto fail;
    }
    uint8_t header[SHARD_HEADER_SIZE] = {0};
    uint64_t index_checksum = 0;
    size_t header_read = r->file_size < SHARD_HEADER_SIZE ? SHARD_HEADER_SIZE_V1
                                                          : SHARD_HEADER_SIZE;
    if (read_at(r, header, header_read, 0, "the header") != 0 ||
        decode_header(r, header, &index_checksum) != 0)
        goto fail;

    index = malloc(r->info.index_size ? r->info.index_size : 1);
    r->frames = calloc(r->info.frame_count + 1, sizeof *r->frames);
    r->doc_starts = calloc(r->info.document_count + 1, sizeof *r->doc_starts);
    r->spans = calloc(2 * r->info.span_count + 1, sizeof *r->spans);
    r->pairs = calloc(r->info.pair_count + 1, sizeof *r->pairs);
    if (!index || !r->frames || !r->doc_starts || !r->spans || !r->pairs) {
        log_error("%s: out of memory loading the shard index", path);
        goto fail;
    }
    if (read_at(r, index, r->info.index_size, r->info.index_offset, "the index") != 0)
        goto fail;
    if (XXH3_64bits(index, r->info.index_size) != index_checksum) {
        log_error("%s: index checksum mismatch (index at byte %llu); the file is damaged", path,
                  (unsigned long long)r->info.index_offset);
        goto fail;
    }
    if (decode_index(r, index) != 0)
        goto fail;
    free(index);
    index = NULL;

    r->dctx = ZSTD_createDCtx();
    r->packed = malloc((size_t)r->info.frame_tokens * r->info.token_bytes);
    r->cache = malloc((size_t)r->info.frame_tokens * sizeof *r->cache);
    if (!r->dctx || !r->packed || !r->cache) {
        log_error("%s: out of memory opening the shard", path);
        goto fail;
    }
    return r;
fail:
    free(index);
    shard_reader_close(r);
    return NULL;
}

const shard_info_t *shard_reader_info(const shard_reader_t *r)
{
    return &r->info;
}

const char *shard_reader_path(const shard_reader_t *r)
{
    return r->path;
}

uint64_t shard_reader_document_start(const shard_reader_t *r, uint64_t index)
{
    return r->doc_starts[index];
}

uint64_t shard_reader_document_length(const shard_reader_t *r, uint64_t index)
{
    uint64_t end = index + 1 < r->info.document_count ? r->doc_starts[index + 1]
                                                      : r->info.token_count;
    return end - r->doc_starts[index];
}

void shard_reader_loss_mask(const shard_reader_t *r, uint64_t start, size_t count,
                            uint8_t *mask)
{
    if (r->info.span_count == 0) {
        memset(mask, r->info.kind == SHARD_KIND_DOCUMENTS ? 1 : 0, count);
        return;
    }
    memset(mask, 0, count);
    /* First span whose end is past `start`: binary search over the span ends. */
    uint64_t low = 0, high = r->info.span_count;
    while (low < high) {
        uint64_t middle = low + (high - low) / 2;
        if (r->spans[2 * middle + 1] <= start)
            low = middle + 1;
        else
            high = middle;
    }
    uint64_t end = start + count;
    for (uint64_t i = low; i < r->info.span_count && r->spans[2 * i] < end; i++) {
        uint64_t from = r->spans[2 * i] > start ? r->spans[2 * i] : start;
        uint64_t to = r->spans[2 * i + 1] < end ? r->spans[2 * i + 1] : end;
        memset(mask + (from - start), 1, (size_t)(to - from));
    }
}

shard_pair_t shard_reader_pair(const shard_reader_t *r, uint64_t index)
{
    return r->pairs[index];
}

int shard_reader_read_frame(shard_reader_t *r, uint64_t frame, int32_t *tokens, size_t *count)
{
    if (frame >= r->info.frame_count) {
        log_error("%s: frame %llu requested, but the shard has %llu frames", r->path,
                  (unsigned long long)frame, (unsigned long long)r->info.frame_count);
        return -1;
    }
    const frame_entry_t *f = &r->frames[frame];
    char what[64];
    snprintf(what, sizeof what, "frame %llu", (unsigned long long)frame);
    if (read_at(r, r->compressed, f->compressed_size, f->offset, what) != 0)
        return -1;
    size_t raw_size = (size_t)f->token_count * r->info.token_bytes;
    size_t got = ZSTD_decompressDCtx(r->dctx, r->packed, raw_size, r->compressed,
                                     f->compressed_size);
    if (ZSTD_isError(got) || got != raw_size) {
        log_error("%s: frame %llu at byte %llu does not decompress to %zu bytes (%s); the file "
                  "is damaged", r->path, (unsigned long long)frame,
                  (unsigned long long)f->offset, raw_size,
                  ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");
        return -1;
    }
    if (XXH3_64bits(r->packed, raw_size) != f->checksum) {
        log_error("%s: checksum mismatch in frame %llu at byte %llu; the file is damaged",
                  r->path, (unsigned long long)frame, (unsigned long long)f->offset);
        return -1;
    }
    unpack_tokens(r->packed, f->token_count, r->info.token_bytes, tokens);
    *count = f->token_count;
    return 0;
}

/* Makes frame `frame` the cached one. */
static int load_cached_frame(shard_reader_t *r, uint64_t frame)
{
    if (r->cache_valid && r->cached_frame == frame)
        return 0;
    r->cache_valid = false;
    if (shard_reader_read_frame(r, frame, r->cache, &r->cached_count) != 0)
        return -1;
    r->cached_frame = frame;
    r->cache_valid = true;
    return 0;
}

int shard_reader_read_tokens(shard_reader_t *r, uint64_t start, size_t count, int32_t *tokens)
{
    if (start > r->info.token_count || count > r->info.token_count - start) {
        log_error("%s: tokens %llu..%llu requested, but the shard has %llu tokens", r->path,
                  (unsigned long long)start, (unsigned long long)(start + count),
                  (unsigned long long)r->info.token_count);
        return -1;
    }
    size_t done = 0;
    while (done < count) {
        uint64_t position = start + done;
        uint64_t frame = position / r->info.frame_tokens;
        if (load_cached_frame(r, frame) != 0)
            return -1;
        size_t within = (size_t)(position - r->frames[frame].first_token);
        size_t take = r->cached_count - within;
        if (take > count - done)
            take = count - done;
        memcpy(tokens + done, r->cache + within, take * sizeof *tokens);
        done += take;
    }
    return 0;
}

int shard_reader_verify(shard_reader_t *r)
{
    r->cache_valid = false;
    for (uint64_t i = 0; i < r->info.frame_count; i++) {
        size_t count = 0;
        if (shard_reader_read_frame(r, i, r->cache, &count) != 0)
            return -1;
        for (size_t k = 0; k < count; k++) {
            if ((uint32_t)r->cache[k] >= r->info.vocab_size) {
                log_error("%s: token %u at offset %llu (frame %llu) is outside the vocabulary "
                          "of %u entries", r->path, (uint32_t)r->cache[k],
                          (unsigned long long)(r->frames[i].first_token + k),
                          (unsigned long long)i, r->info.vocab_size);
                return -1;
            }
        }
    }
    for (uint64_t d = 0; d < r->info.document_count; d++) {
        int32_t token = 0;
        if (shard_reader_read_tokens(r, r->doc_starts[d], 1, &token) != 0)
            return -1;
        if ((uint32_t)token != r->info.eot_id) {
            log_error("%s: document %llu starts at token %llu with id %d, not the end-of-text "
                      "id %u; the file is damaged", r->path, (unsigned long long)d,
                      (unsigned long long)r->doc_starts[d], token, r->info.eot_id);
            return -1;
        }
    }
    return 0;
}

void shard_reader_close(shard_reader_t *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r->frames);
    free(r->doc_starts);
    free(r->spans);
    free(r->pairs);
    ZSTD_freeDCtx(r->dctx);
    free(r->compressed);
    free(r->packed);
    free(r->cache);
    free(r);
}
