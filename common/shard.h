/*
 * Token shards: the binary files that carry tokenized documents to training.
 *
 * A shard file is a fixed header, a sequence of zstd-compressed frames of a
 * fixed number of tokens each, and an index that lists every frame (file
 * offset, compressed size, first token, xxh3-64 checksum of the uncompressed
 * tokens) and every document start as a token offset. Any frame can be read
 * without decompressing the others. All integers are little-endian. Tokens
 * are 16 bits wide when the vocabulary has at most 65536 entries, 32 bits
 * otherwise. Every document is preceded by the end-of-text token, as in the
 * GPT-2 training data. docs/formats.md describes the layout byte by byte.
 *
 * Version 2 adds a kind to the header and two optional index sections:
 * loss-mask spans (the token ranges a supervised fine-tuning run trains on)
 * and preference pairs (prompt, chosen and rejected documents). Readers
 * accept versions 1 and 2; writers write version 2.
 */
#ifndef LMPIPE_SHARD_H
#define LMPIPE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARD_MAGIC "LMPSHARD"           /* 8 bytes, no NUL */
#define SHARD_VERSION 2u
#define SHARD_HEADER_SIZE 192u           /* version 2; version 1 headers are 160 bytes */
#define SHARD_HEADER_SIZE_V1 160u
#define SHARD_FRAME_ENTRY_SIZE 32u
#define SHARD_HASH_CAPACITY 64u          /* bytes for the tokenizer hash string */
#define SHARD_DEFAULT_FRAME_TOKENS 65536u
#define SHARD_FILE_SUFFIX ".lshard"

/* What the documents of a shard are. */
typedef enum {
    SHARD_KIND_DOCUMENTS = 0,   /* plain text; every token is trained on */
    SHARD_KIND_SFT = 1,         /* rendered conversations with loss-mask spans */
    SHARD_KIND_PREFERENCE = 2,  /* (prompt, chosen, rejected) document triples */
} shard_kind_t;

/* A preference pair: three document indexes of the same shard. */
typedef struct {
    uint64_t prompt;
    uint64_t chosen;            /* the completion people preferred */
    uint64_t rejected;
} shard_pair_t;

/* The decoded header of a shard file. */
typedef struct {
    uint32_t version;
    uint32_t token_bytes;       /* 2 or 4 */
    uint32_t vocab_size;
    uint32_t eot_id;
    uint32_t frame_tokens;      /* tokens per frame; the last frame may hold fewer */
    uint64_t token_count;       /* all tokens, end-of-text tokens included */
    uint64_t document_count;
    uint64_t frame_count;
    uint64_t index_offset;      /* file offset of the index */
    uint64_t index_size;        /* bytes */
    uint32_t header_size;       /* 160 (version 1) or 192 */
    uint32_t kind;              /* shard_kind_t; SHARD_KIND_DOCUMENTS in version 1 */
    uint64_t span_count;        /* loss-mask spans (0: every token is trained on) */
    uint64_t pair_count;        /* preference pairs */
    char tokenizer_hash[SHARD_HASH_CAPACITY + 1]; /* NUL-terminated */
} shard_info_t;

/* Token width in bytes for a vocabulary: 2 up to 65536 entries, else 4. */
uint32_t shard_token_bytes_for_vocab(uint32_t vocab_size);

typedef struct shard_writer shard_writer_t;

typedef struct {
    uint32_t vocab_size;
    uint32_t eot_id;            /* must be < vocab_size */
    const char *tokenizer_hash; /* at most SHARD_HASH_CAPACITY bytes */
    uint32_t frame_tokens;      /* 0 means SHARD_DEFAULT_FRAME_TOKENS */
    int zstd_level;             /* 0 means the zstd default */
    uint32_t kind;              /* shard_kind_t */
    bool long_distance;         /* zstd long-distance matching within a frame */
} shard_writer_options_t;

/*
 * Creates the shard file `path` (truncating it). The caller writes to a
 * temporary name and renames it when shard_writer_finish succeeds, so a
 * half-written shard is never seen under its final name. Returns NULL after
 * logging an invalid option or a failed open.
 */
shard_writer_t *shard_writer_open(const char *path, const shard_writer_options_t *options);

/*
 * Appends one document: the end-of-text token, then `count` tokens. Every
 * token must be below the vocabulary size. Returns 0, or -1 after logging an
 * out-of-range token or a write error.
 */
int shard_writer_add_document(shard_writer_t *writer, const int32_t *tokens, size_t count);

/*
 * Appends one document like shard_writer_add_document and records which of
 * its tokens are trained on: `span_count` pairs (start, end) in spans[], end
 * exclusive, offsets into `tokens` (the end-of-text token in front is never
 * trained on), increasing and not overlapping. Tokens outside every span get
 * loss mask 0. Returns 0, or -1 after logging bad spans or a write error.
 */
int shard_writer_add_masked(shard_writer_t *writer, const int32_t *tokens, size_t count,
                            const uint32_t *spans, size_t span_count);

/*
 * Appends a preference pair as three documents (prompt, chosen completion,
 * rejected completion) and a pair record naming them. The completions hold
 * only the tokens after the prompt. Returns 0, or -1 after logging.
 */
int shard_writer_add_pair(shard_writer_t *writer, const int32_t *prompt, size_t prompt_count,
                          const int32_t *chosen, size_t chosen_count, const int32_t *rejected,
                          size_t rejected_count);

/* Tokens written so far, end-of-text tokens included. */
uint64_t shard_writer_token_count(const shard_writer_t *writer);
uint64_t shard_writer_document_count(const shard_writer_t *writer);

/*
 * Flushes the last frame, writes the index and the header, fsyncs and closes
 * the file. Returns 0 or -1 after logging. Frees the writer in both cases.
 */
int shard_writer_finish(shard_writer_t *writer);

/* Closes and removes the file; frees the writer. */
void shard_writer_abort(shard_writer_t *writer);

typedef struct shard_reader shard_reader_t;

/*
 * Opens a shard and loads its header and index. A bad magic, an unknown
 * version, a truncated file or an index that fails its checksum is rejected
 * with a message naming the file and the byte offset. Returns NULL after
 * logging. A reader is not safe for concurrent use from several threads.
 */
shard_reader_t *shard_reader_open(const char *path);

const shard_info_t *shard_reader_info(const shard_reader_t *reader);
const char *shard_reader_path(const shard_reader_t *reader);

/* Token offset of document `index`'s end-of-text token (index < document_count). */
uint64_t shard_reader_document_start(const shard_reader_t *reader, uint64_t index);

/* Tokens of document `index`, its end-of-text token included. */
uint64_t shard_reader_document_length(const shard_reader_t *reader, uint64_t index);

/*
 * Fills mask[0..count) with the loss mask of tokens [start, start + count):
 * 1 for a token inside a loss-mask span, else 0. A shard without spans
 * (plain documents) gives 1 everywhere. The range must lie in the shard.
 */
void shard_reader_loss_mask(const shard_reader_t *reader, uint64_t start, size_t count,
                            uint8_t *mask);

/* Preference pair `index` (< pair_count). */
shard_pair_t shard_reader_pair(const shard_reader_t *reader, uint64_t index);

/*
 * Decompresses frame `frame` into `tokens` (room for frame_tokens values) and
 * checks its size and checksum. Sets *count to the frame's token count.
 * Returns 0, or -1 after logging the file, frame and offset.
 */
int shard_reader_read_frame(shard_reader_t *reader, uint64_t frame, int32_t *tokens,
                            size_t *count);

/*
 * Copies tokens [start, start + count) into `tokens`, decompressing only the
 * frames that range touches (the last decoded frame is cached). Returns 0, or
 * -1 after logging a range past the end or a bad frame.
 */
int shard_reader_read_tokens(shard_reader_t *reader, uint64_t start, size_t count,
                             int32_t *tokens);

/*
 * Decompresses every frame and checks checksums, token ranges and the
 * document index. Returns 0, or -1 after logging the first problem.
 */
int shard_reader_verify(shard_reader_t *reader);

void shard_reader_close(shard_reader_t *reader);

#endif
