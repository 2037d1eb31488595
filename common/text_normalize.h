/*
 * Unicode text normalization and length rules for the data stages.
 *
 * Uses utf8proc for NFC/NFKC, character categories and case folding. The
 * clean stage's normalization is text_clean; dedup hashes text_dedup_key.
 * Length rules count characters (code points) rather than bytes, and count
 * each CJK ideograph or kana as one word, so Chinese and Japanese text, which
 * has no spaces between words, is measured fairly against English.
 */
#ifndef LMPIPE_TEXT_NORMALIZE_H
#define LMPIPE_TEXT_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    TEXT_NORMALIZATION_NFC,
    TEXT_NORMALIZATION_NFKC,
} text_normalization_t;

/* Parses "nfc" or "nfkc". Returns 0, or -1 for any other name. */
int text_normalization_from_name(const char *name, text_normalization_t *form);

/*
 * Normalizes a document's text for training:
 *  - invalid UTF-8 bytes become U+FFFD; CRLF, CR, U+0085, U+2028 and U+2029
 *    become LF;
 *  - control characters (Unicode category Cc) other than LF and TAB are
 *    removed, and so are U+FEFF (byte order mark) and U+200B (zero width space);
 *  - the text is brought to NFC or NFKC;
 *  - every space separator (category Zs, e.g. U+00A0 no-break space) becomes
 *    an ASCII space, except U+3000 ideographic space under NFC, which Chinese
 *    and Japanese text uses as a full-width indent; NFKC itself maps U+3000
 *    to a space;
 *  - trailing spaces, tabs and U+3000 are stripped from every line, blank
 *    lines at the start and end are removed, and runs of blank lines become
 *    one blank line. Spaces inside a line are kept, since code indentation
 *    and tables depend on them.
 * Writes a malloc'ed NUL-terminated result to *out and its byte count to
 * *out_length. Returns 0, or -1 when out of memory.
 */
int text_clean(const char *text, size_t length, text_normalization_t form, char **out,
               size_t *out_length);

/*
 * Builds the key under which two texts count as exact duplicates: NFC, then
 * Unicode case folding, with every run of white space (spaces of any kind,
 * tabs, line breaks) replaced by one space and none at either end. Invalid
 * UTF-8 bytes become U+FFFD. Returns 0 with a malloc'ed key, or -1 when out
 * of memory.
 */
int text_dedup_key(const char *text, size_t length, char **out, size_t *out_length);

/*
 * Repairs mojibake: UTF-8 text that was decoded as windows-1252 or Latin-1
 * and encoded again, so that "café" reads "cafÃ©" and "’" reads "â€™".
 * Each character is mapped back to the byte windows-1252 (or, for U+0080 to
 * U+009F, Latin-1) gives it. A run of such bytes that forms one valid UTF-8
 * multi-byte sequence (a lead byte C2..F4 followed by the right number of
 * continuation bytes 80..BF) is replaced by the character it encodes.
 * Correct text is left alone: the two-byte leads are capital accented
 * letters (Â..ß), the longer ones need two or three continuation characters
 * in a row (symbols, C1 controls or windows-1252 punctuation), and such runs
 * do not occur in correctly decoded European text. Text that was
 * double-encoded is repaired by calling this again on the result.
 * When nothing is repaired, *out is NULL and *repaired is 0; else *out is a
 * malloc'ed NUL-terminated copy and *repaired the number of sequences
 * replaced. Invalid UTF-8 input bytes are copied unchanged. Returns 0, or -1
 * when out of memory. Cost: one pass; ASCII text is checked with memchr-like
 * speed.
 */
int text_repair_mojibake(const char *text, size_t length, char **out, size_t *out_length,
                         size_t *repaired);

/* Number of code points in valid UTF-8 text (an invalid byte counts as one). */
size_t text_count_chars(const char *text, size_t length);

/*
 * Counts words: maximal runs of characters that are neither white space nor
 * CJK, plus one word per CJK character (see text_is_cjk). CJK symbols and
 * punctuation (U+3000..U+303F), CJK compatibility forms (U+FE30..U+FE4F) and
 * the full-width forms that are not letters or digits (in U+FF00..U+FFEF)
 * separate words without counting as one.
 */
size_t text_count_words(const char *text, size_t length);

/* True for Han ideographs (unified, extensions and compatibility), hiragana
 * and katakana. Hangul is excluded because Korean separates words by spaces. */
bool text_is_cjk(int32_t codepoint);

#endif
