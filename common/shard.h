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
 */
#ifndef LMPIPE_SHARD_H
#define LMPIPE_SHARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHARD_MAGIC "LMPSHARD"           /* 8 bytes, no NUL */
#define SHARD_VERSION 1u
#define SHARD_HEADER_SIZE 160u
#define SHARD_FRAME_ENTRY_SIZE 32u
#define SHARD_HASH_CAPACITY 64u          /* bytes for the tokenizer hash string */
#define SHARD_DEFAULT_FRAME_TOKENS 65536u
#define SHARD_FILE_SUFFIX ".lshard"

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
