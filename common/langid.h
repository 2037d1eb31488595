/*
 * Language identification of a document's text.
 *
 * Backed by CLD2 (Compact Language Detector 2, Debian libcld2-dev), called
 * through a small C++ wrapper in langid_cld2.cc. CLD2 was chosen over
 * libexttextcat because it scores scripts before n-grams. Chinese (simplified
 * and traditional), Japanese and Korean are therefore separated by their
 * characters and identified correctly from a single sentence. CLD2 is also
 * fast, and dolma's cld2 tagger uses it.
 * libexttextcat ranks byte n-gram profiles, which is slower and confuses
 * short CJK texts. The detector is thread-safe and needs no setup.
 */
#ifndef LMPIPE_LANGID_H
#define LMPIPE_LANGID_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    char code[16];      /* ISO 639-1 code where one exists ("en", "zh", "ja"), "zh-Hant" for
                           traditional Chinese, "un" when unknown */
    double score;       /* share of the scored text bytes in that language, 0..1, as CLD2
                           reports it; 0 when the language is unknown */
    bool reliable;      /* CLD2's own flag: false for short or mixed text */
} langid_result_t;

/*
 * Identifies the main language of `length` bytes of UTF-8 plain text. Text
 * that is not valid UTF-8, or longer than 2 GiB, gives "un" with score 0.
 * Cost: one CLD2 pass over the text (about 25 MB/s per core measured on web
 * pages, see docs/benchmarks.md). There is no error return.
 */
void langid_detect(const char *text, size_t length, langid_result_t *result);

/*
 * True when `code` is in the comma-separated list `allowed` ("en,zh,ja").
 * A list entry matches a code with the same primary subtag, so "zh" allows
 * "zh-Hant". An empty or NULL list allows every code.
 */
bool langid_code_allowed(const char *allowed, const char *code);

#endif
