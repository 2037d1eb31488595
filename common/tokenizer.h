/*
 * Byte-level BPE tokenizer in the Hugging Face tokenizer.json format.
 *
 * Encoding follows GPT-2 and Hugging Face `tokenizers`: the text is split into
 * pieces by the pre-tokenization regex (GPT-2's by default, see pretokenize.h), each piece's
 * bytes are mapped to the GPT-2 byte-to-unicode alphabet of 256 symbols, and
 * merges are applied lowest rank first. Every byte sequence encodes, including
 * invalid UTF-8, and decodes back to exactly the same bytes.
 *
 * Added tokens with "special": true (e.g. "<|endoftext|>") are matched in the
 * text only when the caller allows it; otherwise their text encodes as
 * ordinary bytes.
 *
 * A loaded tokenizer_t is read-only: tokenizer_encode, tokenizer_decode and
 * the lookups may be called from several threads at once on one tokenizer.
 */
#ifndef LMPIPE_TOKENIZER_H
#define LMPIPE_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOKENIZER_EOT_TOKEN "<|endoftext|>"
/* Chat turn markers (ChatML), added by `bpe-train --chat-tokens`. */
#define TOKENIZER_IM_START_TOKEN "<|im_start|>"
#define TOKENIZER_IM_END_TOKEN "<|im_end|>"

typedef struct tokenizer tokenizer_t;

/* Token ids; encode appends to it. Start from all zero; free with token_buffer_free. */
typedef struct {
    uint32_t *ids;
    size_t count, capacity;
} token_buffer_t;

/* Grows the buffer to hold at least `capacity` ids. Returns 0 or -1 when out of memory. */
int token_buffer_reserve(token_buffer_t *buffer, size_t capacity);
/* Appends one id. Returns 0 or -1 when out of memory. */
int token_buffer_push(token_buffer_t *buffer, uint32_t id);
/* Sets count to 0 and keeps the memory. */
void token_buffer_clear(token_buffer_t *buffer);
void token_buffer_free(token_buffer_t *buffer);

/*
 * Loads a tokenizer.json file: model type "BPE" with vocab and merges (either
 * "a b" strings or ["a", "b"] pairs), normalizer null or NFC, pre_tokenizer
 * ByteLevel or Sequence[Split, ByteLevel], decoder ByteLevel, added_tokens
 * (with lstrip, rstrip and single_word) and a TemplateProcessing
 * post_processor. Returns NULL after logging the file and what is wrong or
 * unsupported.
 */
tokenizer_t *tokenizer_load(const char *path);

/* Parses tokenizer.json text already in memory; `origin` names it in errors. */
tokenizer_t *tokenizer_load_json(const char *json_text, size_t length, const char *origin);

/*
 * Builds a tokenizer from merges in rank order, given as raw byte strings (not
 * in the byte-to-unicode spelling). Ids 0..255 are the single bytes in GPT-2
 * order (sorted by their byte-to-unicode code point, as in GPT-2's vocab.json).
 * Each merge result takes the next id unless an earlier token has the same
 * bytes, and special tokens take the ids after that. Returns NULL after logging
 * a merge whose parts are not earlier tokens.
 */
typedef struct {
    const uint8_t *left, *right; /* byte strings of the two parts */
    size_t left_length, right_length;
} tokenizer_merge_t;

tokenizer_t *tokenizer_from_merges(const tokenizer_merge_t *merges, size_t merge_count,
                                   const char *const *special_tokens, size_t special_count);

/*
 * tokenizer_from_merges with another pre-tokenization regex: NULL or
 * PRETOKENIZE_GPT2_PATTERN give GPT-2's layout (ByteLevel with use_regex);
 * any other pattern is written as Sequence[Split(pattern), ByteLevel], the
 * layout of Llama 3's tokenizer.json. Returns NULL after logging a pattern
 * that does not compile or a bad merge.
 */
tokenizer_t *tokenizer_from_merges_pattern(const tokenizer_merge_t *merges, size_t merge_count,
                                           const char *const *special_tokens,
                                           size_t special_count, const char *pattern);

/*
 * Writes the tokenizer as Hugging Face tokenizer.json text (ByteLevel
 * pre-tokenizer, decoder and post-processor, BPE model, added tokens).
 * Returns a malloc'ed NUL-terminated string, or NULL when out of memory.
 */
char *tokenizer_to_json(const tokenizer_t *t);

/*
 * Writes the byte-level vocabulary in tiktoken's format: one line per token,
 * its bytes in base64, a space and its id as the rank, in id order; added
 * tokens are left out (tiktoken takes them separately). tiktoken merges any
 * adjacent pair whose joined bytes are a token, lowest id first, which gives
 * the same ids as the merges when every token is built from the pair its
 * merge names (always true of bpe-train's output in practice, see
 * docs/tokenizer.md). Returns a malloc'ed string, or NULL when out of memory.
 */
char *tokenizer_to_tiktoken(const tokenizer_t *t);

/* Writes tokenizer_to_json to `path` atomically. Returns 0 or -1 after logging. */
int tokenizer_save(const tokenizer_t *t, const char *path);

void tokenizer_free(tokenizer_t *t);

/* Number of ids, including added and special tokens (max id + 1). */
uint32_t tokenizer_vocab_size(const tokenizer_t *t);

/* Id of a token given in its tokenizer.json spelling, or -1 when absent. */
int64_t tokenizer_token_id(const tokenizer_t *t, const char *token);

/* Id of "<|endoftext|>", or -1 when the vocabulary has none. */
int64_t tokenizer_eot_id(const tokenizer_t *t);

/* True when `id` is an added token marked special. */
bool tokenizer_is_special(const tokenizer_t *t, uint32_t id);

/*
 * Returns the bytes that `id` decodes to (not NUL-terminated) and their count
 * in `length`, or NULL when the id is out of range. Valid while t lives.
 */
const uint8_t *tokenizer_token_bytes(const tokenizer_t *t, uint32_t id, size_t *length);

/*
 * Writes the xxh3-128 hash of the vocabulary, merges and added tokens as 32
 * lower-case hex digits and a NUL. Equal tokenizers give equal hashes on
 * every machine, whatever the key order in the JSON file.
 */
void tokenizer_hash(const tokenizer_t *t, char out_hex[33]);

/*
 * Encodes `length` bytes of `text` (any bytes, NUL included) and appends the
 * ids to `out`. With allow_special, special added tokens in the text become
 * their ids; without it they encode as ordinary text. Returns 0, or -1 when
 * out of memory or when the regex engine fails (logged). Thread-safe.
 */
int tokenizer_encode(const tokenizer_t *t, const char *text, size_t length, bool allow_special,
                     token_buffer_t *out);

/*
 * tokenizer_encode, with the ids that the tokenizer.json post_processor's
 * TemplateProcessing puts around a single text (Llama 3: <|begin_of_text|>
 * in front). Without a template it gives what tokenizer_encode gives.
 * Returns 0 or -1 after logging.
 */
int tokenizer_encode_with_template(const tokenizer_t *t, const char *text, size_t length,
                                   bool allow_special, token_buffer_t *out);

/*
 * Encodes `count` texts on up to `threads` threads (1 or less: the caller's
 * thread) and appends the ids of texts[i] to outs[i], exactly as
 * tokenizer_encode would. Threads take texts in turn, so a batch of many
 * documents of any sizes keeps all threads busy. Returns 0, or -1 after
 * logging (out of memory, a regex error, or a thread that cannot start);
 * on failure the buffers hold no new ids.
 */
int tokenizer_encode_batch(const tokenizer_t *t, const char *const *texts,
                           const size_t *lengths, size_t count, bool allow_special, int threads,
                           token_buffer_t *outs);

/*
 * Decodes ids to bytes: a malloc'ed buffer with a NUL after the last byte,
 * returned through `text` with its byte count in `length`. Returns 0, or -1
 * after logging an id outside the vocabulary (nothing is returned then).
 */
int tokenizer_decode(const tokenizer_t *t, const uint32_t *ids, size_t count, char **text,
                     size_t *length);

/*
 * Streaming decoder for generation: push ids one at a time and receive only
 * complete UTF-8 characters, so a character split across tokens is printed
 * once it is whole. A byte sequence that can never become valid UTF-8 is
 * passed through as is, so no byte is lost.
 */
typedef struct {
    const tokenizer_t *tokenizer;
    uint8_t pending[8];  /* bytes of an incomplete UTF-8 character */
    size_t pending_count;
    char *output;        /* bytes returned by the last push or flush */
    size_t output_capacity;
} tokenizer_stream_t;

void tokenizer_stream_init(tokenizer_stream_t *stream, const tokenizer_t *t);

/*
 * Adds one id and returns the complete bytes now available, with their count
 * in `length`. The bytes may be none, are not NUL-terminated and stay valid
 * until the next call. Returns NULL after logging an id outside the vocabulary
 * or when out of memory.
 */
const char *tokenizer_stream_push(tokenizer_stream_t *stream, uint32_t id, size_t *length);

/* Returns any held bytes of an unfinished character (possibly invalid UTF-8). */
const char *tokenizer_stream_flush(tokenizer_stream_t *stream, size_t *length);

void tokenizer_stream_free(tokenizer_stream_t *stream);

#endif
