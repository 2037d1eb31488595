/*
 * Pre-tokenization: splitting text into the pieces that BPE merges never cross.
 *
 * The default pattern is GPT-2's, as Hugging Face's ByteLevel pre-tokenizer
 * hard-codes it. Patterns are compiled with PCRE2 in UTF and UCP mode (so
 * \p{L}, \p{N} and \s follow Unicode properties) and JIT-compiled when the
 * library supports it. Input need not be valid UTF-8. Bytes that are not part
 * of a valid character never match, and each maximal run of bytes that no
 * match covers becomes a piece of its own. So the pieces always cover the
 * input exactly.
 *
 * The three built-in patterns below run through hand-written splits that
 * give the same pieces as PCRE2, which tests/unit/test_pretokenize.c checks.
 * Their character classes come from PCRE2 too. Any other regex runs through
 * PCRE2.
 */
#ifndef LMPIPE_PRETOKENIZE_H
#define LMPIPE_PRETOKENIZE_H

#include <stddef.h>
#include <stdint.h>

/* GPT-2's pre-tokenization regex (openai/gpt-2 encoder.py, also used by
 * Hugging Face tokenizers' ByteLevel pre-tokenizer). */
#define PRETOKENIZE_GPT2_PATTERN                                                                  \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

/* cl100k_base's regex (tiktoken), also the Split pattern of Llama 3's tokenizer.json:
 * case-insensitive contractions, a letter run with one leading non-letter,
 * digits in groups of one to three, newlines kept apart from other spaces. */
#define PRETOKENIZE_CL100K_PATTERN                                                                \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"                     \
    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* o200k_base's regex (tiktoken): like cl100k, but a word also splits before an
 * upper-case letter that follows lower case ("camelCase" -> "camel", "Case")
 * and keeps its contraction ("don't" stays one piece). */
#define PRETOKENIZE_O200K_UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define PRETOKENIZE_O200K_LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define PRETOKENIZE_O200K_PATTERN                                                                 \
    "[^\\r\\n\\p{L}\\p{N}]?" PRETOKENIZE_O200K_UPPER "*" PRETOKENIZE_O200K_LOWER "+"              \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"                                                               \
    "|[^\\r\\n\\p{L}\\p{N}]?" PRETOKENIZE_O200K_UPPER "+" PRETOKENIZE_O200K_LOWER "*"             \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)?"                                                               \
    "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/*
 * Returns the regex of a built-in pattern by name: "gpt2", "cl100k" (also
 * "llama3") or "o200k"; NULL for any other name.
 */
const char *pretokenize_named_pattern(const char *name);

typedef struct pretokenizer pretokenizer_t;

/*
 * Compiles `pattern` (PRETOKENIZE_GPT2_PATTERN when NULL). Returns NULL after
 * logging the pattern, the offset and PCRE2's message when it does not compile.
 */
pretokenizer_t *pretokenizer_create(const char *pattern);
void pretokenizer_free(pretokenizer_t *pretokenizer);
const char *pretokenizer_pattern(const pretokenizer_t *pretokenizer);

/* Receives one piece; a non-zero return stops the split and is returned by it. */
typedef int (*pretokenize_piece_fn)(void *context, const char *piece, size_t length);

/*
 * Calls `on_piece` for each piece of `text` in order: each regex match, and
 * each run of bytes between matches (invalid UTF-8, or text the pattern does
 * not cover). Empty matches are skipped. Returns 0, the callback's non-zero
 * value, or -1 after logging a matching failure (e.g. a resource limit).
 * Thread-safe: match data and the JIT stack are kept per thread.
 */
int pretokenize_split(const pretokenizer_t *pretokenizer, const char *text, size_t length,
                      pretokenize_piece_fn on_piece, void *context);

/* Decodes the UTF-8 character at text[0..length) as PCRE2 does: returns its
 * byte length, or 0 for an empty input or bytes that are not a valid
 * character (overlong forms, surrogates and values above U+10FFFF included). */
size_t pretokenize_decode_utf8(const uint8_t *text, size_t length, uint32_t *codepoint);

#endif
