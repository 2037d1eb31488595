/*
 * The threshold of every rule: whether a rule's score fails under the
 * settings. Filter mode, attribute mode and --apply-attributes all decide
 * here, so scores stored by one run and applied by a later run drop exactly
 * the documents that a direct run with the same recipe drops.
 */
#include <string.h>

#include "clean.h"

typedef enum {
    RULE_EMPTY, RULE_TOO_SHORT, RULE_TOO_LONG, RULE_TOO_FEW_WORDS,
    RULE_URL_DOMAIN, RULE_URL, RULE_URL_WORD,
    RULE_LANGUAGE_NOT_ALLOWED, RULE_LANGUAGE_SCORE,
    RULE_DUPLICATE_LINES, RULE_DUPLICATE_PARAGRAPHS, RULE_DUPLICATE_LINE_CHARS,
    RULE_DUPLICATE_PARAGRAPH_CHARS, RULE_TOP_NGRAM, RULE_DUPLICATE_NGRAM,
    RULE_MIN_WORDS, RULE_MAX_WORDS, RULE_MIN_MEAN_WORD_LENGTH, RULE_MAX_MEAN_WORD_LENGTH,
    RULE_HASH_RATIO, RULE_ELLIPSIS_RATIO, RULE_BULLET_LINES, RULE_ELLIPSIS_LINES,
    RULE_ALPHA_WORDS, RULE_STOP_WORDS,
    RULE_C4_LOREM_IPSUM, RULE_C4_CURLY_BRACE, RULE_C4_NO_LINES_LEFT, RULE_C4_TOO_FEW_SENTENCES,
    RULE_LINE_PUNCT, RULE_SHORT_LINES, RULE_CHAR_DUP, RULE_NEWLINES,
    RULE_BAD_WORDS,
} rule_id_t;

typedef struct {
    const char *name;
    rule_id_t id;
    int index;      /* n-gram rules: index into the settings arrays */
} rule_entry_t;

static const rule_entry_t rules[] = {
    {"empty_after_normalization", RULE_EMPTY, 0},
    {"too_short_chars", RULE_TOO_SHORT, 0},
    {"too_long_chars", RULE_TOO_LONG, 0},
    {"too_few_words", RULE_TOO_FEW_WORDS, 0},
    {"url_blocked_domain", RULE_URL_DOMAIN, 0},
    {"url_blocked", RULE_URL, 0},
    {"url_banned_word", RULE_URL_WORD, 0},
    {"language_not_allowed", RULE_LANGUAGE_NOT_ALLOWED, 0},
    {"language_score", RULE_LANGUAGE_SCORE, 0},
    {"gopher_duplicate_lines", RULE_DUPLICATE_LINES, 0},
    {"gopher_duplicate_paragraphs", RULE_DUPLICATE_PARAGRAPHS, 0},
    {"gopher_duplicate_line_chars", RULE_DUPLICATE_LINE_CHARS, 0},
    {"gopher_duplicate_paragraph_chars", RULE_DUPLICATE_PARAGRAPH_CHARS, 0},
    {"gopher_top_2gram", RULE_TOP_NGRAM, 0},
    {"gopher_top_3gram", RULE_TOP_NGRAM, 1},
    {"gopher_top_4gram", RULE_TOP_NGRAM, 2},
    {"gopher_duplicate_5gram", RULE_DUPLICATE_NGRAM, 0},
    {"gopher_duplicate_6gram", RULE_DUPLICATE_NGRAM, 1},
    {"gopher_duplicate_7gram", RULE_DUPLICATE_NGRAM, 2},
    {"gopher_duplicate_8gram", RULE_DUPLICATE_NGRAM, 3},
    {"gopher_duplicate_9gram", RULE_DUPLICATE_NGRAM, 4},
    {"gopher_duplicate_10gram", RULE_DUPLICATE_NGRAM, 5},
    {"gopher_min_words", RULE_MIN_WORDS, 0},
    {"gopher_max_words", RULE_MAX_WORDS, 0},
    {"gopher_min_mean_word_length", RULE_MIN_MEAN_WORD_LENGTH, 0},
    {"gopher_max_mean_word_length", RULE_MAX_MEAN_WORD_LENGTH, 0},
    {"gopher_hash_ratio", RULE_HASH_RATIO, 0},
    {"gopher_ellipsis_ratio", RULE_ELLIPSIS_RATIO, 0},
    {"gopher_bullet_lines", RULE_BULLET_LINES, 0},
    {"gopher_ellipsis_lines", RULE_ELLIPSIS_LINES, 0},
    {"gopher_alpha_words", RULE_ALPHA_WORDS, 0},
    {"gopher_stop_words", RULE_STOP_WORDS, 0},
    {"c4_lorem_ipsum", RULE_C4_LOREM_IPSUM, 0},
    {"c4_curly_brace", RULE_C4_CURLY_BRACE, 0},
    {"c4_no_lines_left", RULE_C4_NO_LINES_LEFT, 0},
    {"c4_too_few_sentences", RULE_C4_TOO_FEW_SENTENCES, 0},
    {"fineweb_line_punct_ratio", RULE_LINE_PUNCT, 0},
    {"fineweb_short_line_ratio", RULE_SHORT_LINES, 0},
    {"fineweb_char_dup_ratio", RULE_CHAR_DUP, 0},
    {"fineweb_newline_ratio", RULE_NEWLINES, 0},
    {"bad_words", RULE_BAD_WORDS, 0},
};

static const rule_entry_t *find_rule(const char *name)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (strcmp(rules[i].name, name) == 0)
            return &rules[i];
    }
    return NULL;
}

bool clean_rule_known(const char *rule)
{
    return find_rule(rule) != NULL;
}

const char *clean_rule_name(const char *rule)
{
    const rule_entry_t *entry = find_rule(rule);
    return entry ? entry->name : NULL;
}

static bool is_set(const char *path)
{
    return path && path[0];
}

/* The stop-word rule applies to non-CJK text in the listed languages, and to
 * text whose language is unknown. */
static bool stop_words_apply(const gopher_quality_settings_t *q,
                             const clean_rule_context_t *context)
{
    if (q->min_stop_words <= 0 || context->cjk)
        return false;
    const char *language = context->language ? context->language : "";
    if (!language[0] || strcmp(language, "un") == 0)
        return true;
    return langid_code_allowed(q->stop_word_languages, language);
}

static bool gopher_quality_fails(const gopher_quality_settings_t *q, rule_id_t id,
                                 const clean_rule_context_t *context, double value)
{
    switch (id) {
    case RULE_MIN_WORDS: return value < (double)q->min_words;
    case RULE_MAX_WORDS: return value > (double)q->max_words;
    case RULE_MIN_MEAN_WORD_LENGTH: return !context->cjk && value < q->min_mean_word_length;
    case RULE_MAX_MEAN_WORD_LENGTH: return !context->cjk && value > q->max_mean_word_length;
    case RULE_HASH_RATIO: return value > q->max_symbol_word_ratio;
    case RULE_ELLIPSIS_RATIO: return value > q->max_symbol_word_ratio;
    case RULE_BULLET_LINES: return value > q->max_bullet_lines;
    case RULE_ELLIPSIS_LINES: return value > q->max_ellipsis_lines;
    case RULE_ALPHA_WORDS: return value < q->min_alpha_words;
    case RULE_STOP_WORDS:
        return stop_words_apply(q, context) && value < (double)q->min_stop_words;
    default: return false;
    }
}

static bool gopher_repetition_fails(const gopher_repetition_settings_t *r,
                                    const rule_entry_t *rule, double value)
{
    switch (rule->id) {
    case RULE_DUPLICATE_LINES: return value > r->max_duplicate_lines;
    case RULE_DUPLICATE_PARAGRAPHS: return value > r->max_duplicate_paragraphs;
    case RULE_DUPLICATE_LINE_CHARS: return value > r->max_duplicate_line_chars;
    case RULE_DUPLICATE_PARAGRAPH_CHARS: return value > r->max_duplicate_paragraph_chars;
    case RULE_TOP_NGRAM: return value > r->max_top_ngram[rule->index];
    case RULE_DUPLICATE_NGRAM: return value > r->max_duplicate_ngram[rule->index];
    default: return false;
    }
}

/* C4 document rules. The lorem-ipsum and curly-brace scores are the 1-based
 * number of the first line that triggers them, or 0. */
static bool c4_fails(const c4_options_t *c, rule_id_t id, double value)
{
    switch (id) {
    case RULE_C4_LOREM_IPSUM: return c->lorem_ipsum && value > 0;
    case RULE_C4_CURLY_BRACE: return c->curly_brace && value > 0;
    case RULE_C4_NO_LINES_LEFT: return value > 0;
    case RULE_C4_TOO_FEW_SENTENCES: return value < (double)c->min_sentences;
    default: return false;
    }
}

static bool fineweb_fails(const fineweb_settings_t *f, rule_id_t id, double value)
{
    switch (id) {
    case RULE_LINE_PUNCT: return value < f->min_line_punct_ratio;
    case RULE_SHORT_LINES: return value > f->max_short_line_ratio;
    case RULE_CHAR_DUP: return value > f->max_char_dup_ratio;
    case RULE_NEWLINES: return value > f->max_newline_ratio;
    default: return false;
    }
}

bool clean_rule_fails(const clean_settings_t *s, const clean_rule_context_t *context,
                      const char *name, double value)
{
    const rule_entry_t *rule = find_rule(name);
    if (!rule)
        return false;
    switch (rule->id) {
    case RULE_EMPTY: return value <= 0;
    case RULE_TOO_SHORT: return value < (double)s->min_chars;
    case RULE_TOO_LONG: return s->max_chars > 0 && value > (double)s->max_chars;
    case RULE_TOO_FEW_WORDS: return value < (double)s->min_words;
    case RULE_URL_DOMAIN: return is_set(s->block_domains_path) && value > 0;
    case RULE_URL: return is_set(s->block_urls_path) && value > 0;
    case RULE_URL_WORD: return is_set(s->block_url_words_path) && value > 0;
    case RULE_LANGUAGE_NOT_ALLOWED:
        return s->language_id && context->language &&
               !langid_code_allowed(s->languages, context->language);
    case RULE_LANGUAGE_SCORE:
        return s->language_id && s->language_threshold > 0 && value < s->language_threshold;
    case RULE_DUPLICATE_LINES: case RULE_DUPLICATE_PARAGRAPHS: case RULE_DUPLICATE_LINE_CHARS:
    case RULE_DUPLICATE_PARAGRAPH_CHARS: case RULE_TOP_NGRAM: case RULE_DUPLICATE_NGRAM:
        return s->gopher_repetition.enabled &&
               gopher_repetition_fails(&s->gopher_repetition, rule, value);
    case RULE_C4_LOREM_IPSUM: case RULE_C4_CURLY_BRACE: case RULE_C4_NO_LINES_LEFT:
    case RULE_C4_TOO_FEW_SENTENCES:
        return s->c4.enabled && c4_fails(&s->c4, rule->id, value);
    case RULE_LINE_PUNCT: case RULE_SHORT_LINES: case RULE_CHAR_DUP: case RULE_NEWLINES:
        return s->fineweb.enabled && fineweb_fails(&s->fineweb, rule->id, value);
    case RULE_BAD_WORDS: return is_set(s->bad_words_dir) && value > (double)s->max_bad_words;
    default:
        return s->gopher_quality.enabled &&
               gopher_quality_fails(&s->gopher_quality, rule->id, context, value);
    }
}
