/*
 * Document quality signals: the Gopher quality and repetition rules
 * (Rae et al. 2021, "Scaling Language Models", appendix A), the C4 rules
 * (Raffel et al. 2020, as in TFDS c4_utils) and the extra rules of the
 * FineWeb recipe (Penedo et al. 2024), computed over one text view.
 *
 * This module computes scores; the clean program compares them with its
 * thresholds, so attribute mode can write every score without dropping.
 *
 * Words. A word is a maximal run of characters that are not white space,
 * except that every CJK character (text_is_cjk) is a word on its own and CJK
 * punctuation separates words. Chinese and Japanese text, which has no
 * spaces, is therefore measured in characters, so the word-count and n-gram
 * rules see a Chinese page of 500 characters as 500 words rather than as a
 * handful of very long words. The peers tokenize with NLTK or spaCy, which
 * also split punctuation off words. Here punctuation stays attached, and the
 * length of a word counts its letters and digits only.
 */
#ifndef LMPIPE_QUALITY_RULES_H
#define LMPIPE_QUALITY_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t start;     /* byte offsets into the text */
    uint32_t end;
    uint32_t chars;     /* code points in [start, end) */
    uint64_t hash;      /* xxh3 of the bytes */
} text_span_t;

/* A text split into words, lines and paragraphs; buffers are reused between documents. */
typedef struct {
    const char *text;
    size_t length;
    size_t chars;               /* code points in the whole text */
    size_t newline_chars;       /* '\n' characters */
    text_span_t *words;
    size_t word_count;
    size_t word_capacity;
    uint32_t *word_letters;     /* per word: letters and digits, for word lengths */
    uint8_t *word_flags;        /* per word: QUALITY_WORD_* bits */
    text_span_t *lines;         /* split on '\n', empty lines included */
    size_t line_count;
    size_t line_capacity;
    text_span_t *paragraphs;    /* split on runs of two or more '\n' */
    size_t paragraph_count;
    size_t paragraph_capacity;
    size_t cjk_words;           /* words that are one CJK character */
    void *table;                /* hash table reused by the duplicate counts */
    size_t table_capacity;
} text_view_t;

enum {
    QUALITY_WORD_CJK = 1u << 0,     /* one CJK character */
    QUALITY_WORD_ALPHA = 1u << 1,   /* has a letter */
    QUALITY_WORD_SYMBOL = 1u << 2,  /* only punctuation and symbols */
};

/* Splits `text` into the view. Returns 0, or -1 when out of memory or when the
 * text is 4 GiB or longer (offsets are 32-bit). Cost: one pass plus hashing. */
int text_view_build(text_view_t *view, const char *text, size_t length);
void text_view_free(text_view_t *view);

/* True when more than half of the words are single CJK characters: the rules
 * that assume space-separated words (mean word length, stop words) skip such text. */
bool text_view_is_cjk(const text_view_t *view);

typedef struct {
    size_t words;                   /* words that are not only punctuation or symbols */
    double mean_word_length;        /* letters and digits per such word, CJK words excluded;
                                       0 when there are none */
    double hash_ratio;              /* '#' characters per word */
    double ellipsis_ratio;          /* "..." and "…" per word */
    double bullet_line_fraction;    /* non-empty lines starting with a bullet (• - * ·) */
    double ellipsis_line_fraction;  /* non-empty lines ending in "..." or "…" */
    double alpha_word_fraction;     /* words with at least one letter */
    size_t stop_words;              /* distinct stop words present */
} gopher_quality_scores_t;

/*
 * Computes the Gopher quality scores. `stop_words` is a comma-separated list
 * matched against lower-cased ASCII words ("the,be,to,of,and,that,have,with"
 * in Gopher); NULL or empty gives 0 stop words.
 */
void gopher_quality_scores(const text_view_t *view, const char *stop_words,
                           gopher_quality_scores_t *scores);

typedef struct {
    double duplicate_line_fraction;        /* duplicated lines / non-empty lines */
    double duplicate_paragraph_fraction;
    double duplicate_line_char_fraction;   /* characters in duplicated lines / all characters */
    double duplicate_paragraph_char_fraction;
    double top_ngram_char_fraction[3];     /* n = 2, 3, 4: characters of the most frequent
                                              n-gram times its count / all characters */
    double duplicate_ngram_char_fraction[6]; /* n = 5..10: characters in repeated n-grams */
} gopher_repetition_scores_t;

/* Computes the Gopher repetition scores. Returns 0, or -1 when out of memory. */
int gopher_repetition_scores(text_view_t *view, gopher_repetition_scores_t *scores);

typedef struct {
    double line_punct_ratio;     /* non-blank lines ending in terminal punctuation */
    double short_line_ratio;     /* non-blank lines of at most `short_line_chars` characters */
    double char_dup_ratio;       /* characters in repeated non-blank lines / characters that
                                    are not '\n' */
    double newline_ratio;        /* '\n' per word */
} fineweb_scores_t;

/* Computes the FineWeb scores. Returns 0, or -1 when out of memory. */
int fineweb_scores(text_view_t *view, size_t short_line_chars, fineweb_scores_t *scores);

/* True when the text ends (after trailing spaces) in terminal punctuation:
 * . ! ? " and the CJK full stops, exclamation and question marks and closing
 * quotes (。！？」』”). */
bool quality_ends_in_terminal_punctuation(const char *text, size_t length);

/* C4 settings: the line rules and document rules, each switchable. */
typedef struct {
    bool remove_no_terminal_punct;   /* drop lines not ending in terminal punctuation */
    size_t min_words_per_line;       /* drop lines with fewer words; 0 disables */
    size_t max_word_length;          /* drop lines with a longer word; 0 disables */
    bool remove_javascript_lines;
    bool remove_policy_lines;
    bool remove_citations;           /* strip [1], [edit], [citation needed] */
    bool drop_lorem_ipsum;
    bool drop_curly_brace;
    size_t min_sentences;            /* drop documents with fewer; 0 disables */
    /* Score the document rules instead of applying them: the lorem-ipsum and
     * curly-brace lines are found (first_*_line) whether or not their drop_*
     * switch is on, and no document rule stops the scan or sets drop_reason. */
    bool score_document_rules;
} c4_settings_t;

typedef struct {
    size_t lines_in;
    size_t lines_no_terminal_punct;
    size_t lines_too_few_words;
    size_t lines_word_too_long;
    size_t lines_javascript;
    size_t lines_policy;
    size_t sentences;
    size_t first_lorem_ipsum_line;   /* 1-based line that triggers the rule, or 0 */
    size_t first_curly_brace_line;   /* 1-based line that triggers the rule, or 0 */
    const char *drop_reason;         /* "c4_lorem_ipsum", "c4_curly_brace",
                                        "c4_too_few_sentences", "c4_no_lines_left" or NULL */
} c4_result_t;

/*
 * Applies the C4 line rules to `length` bytes of text and the document rules
 * to what is left. Writes the kept lines, joined by '\n', to a malloc'ed
 * NUL-terminated *out. Sentences are counted as in TFDS: runs ending in
 * . ! ? (and 。！？ for CJK text). Returns 0, or -1 when out of memory.
 */
int c4_apply(const char *text, size_t length, const c4_settings_t *settings, char **out,
             size_t *out_length, c4_result_t *result);

#endif
