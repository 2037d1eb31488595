/*
 * The clean program's option table, defaults and checks. The defaults keep
 * the quality rule families off, so a plain `clean` only normalizes and drops
 * near-empty documents. The recipes in configs/clean/ switch the families on
 * with the published constants.
 */
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "log.h"

void clean_settings_defaults(clean_settings_t *s)
{
    memset(s, 0, sizeof *s);
    s->mode = "filter";
    s->normalization = "nfc";
    s->fix_mojibake = true;
    s->min_chars = 50;
    s->min_words = 10;
    s->language_id = true;
    s->languages = "";
    s->pii = "";
    s->max_bad_words = 0;

    gopher_quality_settings_t *q = &s->gopher_quality;
    q->min_words = 50;
    q->max_words = 100000;
    q->min_mean_word_length = 3;
    q->max_mean_word_length = 10;
    q->max_symbol_word_ratio = 0.1;
    q->max_bullet_lines = 0.9;
    q->max_ellipsis_lines = 0.3;
    q->min_alpha_words = 0.8;
    q->min_stop_words = 2;
    q->stop_words = "the,be,to,of,and,that,have,with";
    q->stop_word_languages = "en";

    gopher_repetition_settings_t *r = &s->gopher_repetition;
    r->max_duplicate_lines = 0.3;
    r->max_duplicate_paragraphs = 0.3;
    r->max_duplicate_line_chars = 0.2;
    r->max_duplicate_paragraph_chars = 0.2;
    const double top[3] = {0.20, 0.18, 0.16};
    const double duplicate[6] = {0.15, 0.14, 0.13, 0.12, 0.11, 0.10};
    memcpy(r->max_top_ngram, top, sizeof top);
    memcpy(r->max_duplicate_ngram, duplicate, sizeof duplicate);

    c4_options_t *c = &s->c4;
    c->terminal_punct = true;
    c->min_words_per_line = 3;
    c->max_word_length = 1000;
    c->javascript = c->policy = c->citations = c->lorem_ipsum = c->curly_brace = true;
    c->min_sentences = 5;

    fineweb_settings_t *f = &s->fineweb;
    f->min_line_punct_ratio = 0.12;
    f->max_short_line_ratio = 0.67;
    f->short_line_chars = 30;
    f->max_char_dup_ratio = 0.01;
    f->max_newline_ratio = 0.3;
}

#define SETTING(name, type, field, hint, unit, help, min, max) \
    {name, 0, type, field, hint, unit, help, CLI_SETTING, min, max}
#define FRACTION(name, field, help) SETTING(name, CLI_DOUBLE, field, "X", NULL, help, 0, 1e9)
#define SWITCH(name, field, help) SETTING(name, CLI_FLAG, field, NULL, NULL, help, 0, 0)
#define COUNT(name, field, unit, help) SETTING(name, CLI_INT, field, "N", unit, help, 0, 1e12)

cli_option_t *clean_options_table(clean_settings_t *s)
{
    gopher_quality_settings_t *q = &s->gopher_quality;
    gopher_repetition_settings_t *r = &s->gopher_repetition;
    c4_options_t *c = &s->c4;
    fineweb_settings_t *f = &s->fineweb;
    const cli_option_t table[] = {
        SETTING("mode", CLI_STRING, &s->mode, "MODE", NULL,
                "filter: drop documents that fail a rule; attributes: keep every document "
                "and write each rule's score to meta.clean_attributes (or, with "
                "--attributes DIR, to attribute files)", 0, 0),
        SETTING("normalization", CLI_STRING, &s->normalization, "FORM", NULL,
                "Unicode normalization form: nfc or nfkc", 0, 0),
        SWITCH("fix-mojibake", &s->fix_mojibake,
               "repair UTF-8 text that was decoded as windows-1252 or Latin-1; on by default, "
               "--set fix-mojibake=false turns it off"),
        COUNT("min-chars", &s->min_chars, "characters",
              "drop documents with fewer characters (code points) after normalization"),
        COUNT("max-chars", &s->max_chars, "characters",
              "drop documents with more characters; 0 means no limit"),
        COUNT("min-words", &s->min_words, "words",
              "drop documents with fewer words; each CJK character counts as one word"),
        SWITCH("language-id", &s->language_id,
               "identify each document's language with CLD2 (meta.lang_detected, lang_score); "
               "on by default, --set language-id=false turns it off"),
        SETTING("languages", CLI_STRING, &s->languages, "LIST", NULL,
                "comma-separated language codes to keep (\"zh\" also keeps zh-Hant); empty "
                "keeps every language", 0, 0),
        FRACTION("language-threshold", &s->language_threshold,
                 "drop documents whose language score is below this; 0 disables"),

        SWITCH("gopher-quality", &q->enabled, "apply the Gopher quality rules"),
        COUNT("gopher-min-words", &q->min_words, "words", "Gopher: minimum words"),
        COUNT("gopher-max-words", &q->max_words, "words", "Gopher: maximum words"),
        FRACTION("gopher-min-mean-word-length", &q->min_mean_word_length,
                 "Gopher: minimum mean word length in characters (not applied to CJK text)"),
        FRACTION("gopher-max-mean-word-length", &q->max_mean_word_length,
                 "Gopher: maximum mean word length in characters (not applied to CJK text)"),
        FRACTION("gopher-max-symbol-word-ratio", &q->max_symbol_word_ratio,
                 "Gopher: maximum '#' per word, and maximum ellipses per word"),
        FRACTION("gopher-max-bullet-lines", &q->max_bullet_lines,
                 "Gopher: maximum fraction of lines starting with a bullet"),
        FRACTION("gopher-max-ellipsis-lines", &q->max_ellipsis_lines,
                 "Gopher: maximum fraction of lines ending in an ellipsis"),
        FRACTION("gopher-min-alpha-words", &q->min_alpha_words,
                 "Gopher: minimum fraction of words with a letter"),
        COUNT("gopher-min-stop-words", &q->min_stop_words, "words",
              "Gopher: minimum distinct stop words present"),
        SETTING("gopher-stop-words", CLI_STRING, &q->stop_words, "LIST", NULL,
                "Gopher: comma-separated stop words", 0, 0),
        SETTING("gopher-stop-word-languages", CLI_STRING, &q->stop_word_languages, "LIST", NULL,
                "Gopher: languages the stop-word rule applies to; empty: every language", 0, 0),

        SWITCH("gopher-repetition", &r->enabled, "apply the Gopher repetition rules"),
        FRACTION("gopher-max-duplicate-lines", &r->max_duplicate_lines,
                 "Gopher: maximum fraction of lines that repeat an earlier line"),
        FRACTION("gopher-max-duplicate-paragraphs", &r->max_duplicate_paragraphs,
                 "Gopher: maximum fraction of repeated paragraphs"),
        FRACTION("gopher-max-duplicate-line-chars", &r->max_duplicate_line_chars,
                 "Gopher: maximum fraction of characters in repeated lines"),
        FRACTION("gopher-max-duplicate-paragraph-chars", &r->max_duplicate_paragraph_chars,
                 "Gopher: maximum fraction of characters in repeated paragraphs"),
        FRACTION("gopher-max-top-2gram", &r->max_top_ngram[0],
                 "Gopher: maximum character fraction of the most frequent 2-gram"),
        FRACTION("gopher-max-top-3gram", &r->max_top_ngram[1], "Gopher: same for 3-grams"),
        FRACTION("gopher-max-top-4gram", &r->max_top_ngram[2], "Gopher: same for 4-grams"),
        FRACTION("gopher-max-duplicate-5gram", &r->max_duplicate_ngram[0],
                 "Gopher: maximum character fraction in repeated 5-grams"),
        FRACTION("gopher-max-duplicate-6gram", &r->max_duplicate_ngram[1], "same for 6-grams"),
        FRACTION("gopher-max-duplicate-7gram", &r->max_duplicate_ngram[2], "same for 7-grams"),
        FRACTION("gopher-max-duplicate-8gram", &r->max_duplicate_ngram[3], "same for 8-grams"),
        FRACTION("gopher-max-duplicate-9gram", &r->max_duplicate_ngram[4], "same for 9-grams"),
        FRACTION("gopher-max-duplicate-10gram", &r->max_duplicate_ngram[5],
                 "same for 10-grams"),

        SWITCH("c4", &c->enabled,
               "apply the C4 line and document rules (rewrites the text); the c4-* switches "
               "below are on by default, --set c4-NAME=false turns one off"),
        SWITCH("c4-terminal-punct", &c->terminal_punct,
               "C4: remove lines that do not end in terminal punctuation"),
        COUNT("c4-min-words-per-line", &c->min_words_per_line, "words",
              "C4: remove lines with fewer words; 0 disables"),
        COUNT("c4-max-word-length", &c->max_word_length, "characters",
              "C4: remove lines with a longer word; 0 disables"),
        SWITCH("c4-javascript", &c->javascript, "C4: remove lines containing \"javascript\""),
        SWITCH("c4-policy", &c->policy, "C4: remove terms-of-use, privacy and cookie lines"),
        SWITCH("c4-citations", &c->citations,
               "C4: strip [1], [edit] and [citation needed] markers"),
        SWITCH("c4-lorem-ipsum", &c->lorem_ipsum, "C4: drop documents with \"lorem ipsum\""),
        SWITCH("c4-curly-brace", &c->curly_brace, "C4: drop documents with a '{'"),
        COUNT("c4-min-sentences", &c->min_sentences, "sentences",
              "C4: drop documents with fewer sentences after line removal; 0 disables"),

        SWITCH("fineweb", &f->enabled, "apply the FineWeb quality rules"),
        FRACTION("fineweb-min-line-punct-ratio", &f->min_line_punct_ratio,
                 "FineWeb: minimum fraction of lines ending in terminal punctuation"),
        FRACTION("fineweb-max-short-line-ratio", &f->max_short_line_ratio,
                 "FineWeb: maximum fraction of short lines"),
        COUNT("fineweb-short-line-chars", &f->short_line_chars, "characters",
              "FineWeb: a line this long or shorter is short"),
        FRACTION("fineweb-max-char-dup-ratio", &f->max_char_dup_ratio,
                 "FineWeb: maximum fraction of characters in repeated lines"),
        FRACTION("fineweb-max-newline-ratio", &f->max_newline_ratio,
                 "FineWeb: maximum line breaks per word"),

        SETTING("block-domains", CLI_STRING, &s->block_domains_path, "FILE", NULL,
                "drop documents whose URL host is, or is under, a domain in FILE "
                "(one per line)", 0, 0),
        SETTING("block-urls", CLI_STRING, &s->block_urls_path, "FILE", NULL,
                "drop documents whose URL is listed in FILE (one per line)", 0, 0),
        SETTING("block-url-words", CLI_STRING, &s->block_url_words_path, "FILE", NULL,
                "drop documents whose lower-cased URL contains a word of FILE", 0, 0),
        SETTING("bad-words-dir", CLI_STRING, &s->bad_words_dir, "DIR", NULL,
                "folder of per-language bad-word lists named LANG.txt (e.g. en.txt, zh.txt)",
                0, 0),
        COUNT("max-bad-words", &s->max_bad_words, "matches",
              "drop documents with more bad-word matches than this"),
        SETTING("pii", CLI_STRING, &s->pii, "LIST", NULL,
                "personal data to replace: comma-separated email, ipv4, ipv6, phone, "
                "credit-card, or all; empty replaces nothing", 0, 0),
        SETTING("attributes", CLI_STRING, &s->attributes_dir, "DIR", NULL,
                "score every rule, drop nothing, and write the scores to attribute files in "
                "this folder, one JSON line per document (implies mode attributes)", 0, 0),
        SETTING("apply-attributes", CLI_STRING, &s->apply_attributes_dir, "DIR", NULL,
                "keep or drop the input documents (written by an --attributes run) by the "
                "scores stored in DIR under this recipe's thresholds, without recomputing "
                "them", 0, 0),
        {"rejected", 0, CLI_STRING, &s->rejected_path, "FILE", NULL,
         "also write dropped documents, with meta.drop_reason and meta.drop_value, to this "
         ".jsonl[.gz|.zst] file", 0, 0, 0},
        {0},
    };
    cli_option_t *copy = malloc(sizeof table);
    if (copy)
        memcpy(copy, table, sizeof table);
    return copy;
}

static int parse_pii(const char *list, unsigned *kinds)
{
    static const struct {
        const char *name;
        unsigned bits;
    } names[] = {
        {"email", PII_EMAIL}, {"ipv4", PII_IPV4}, {"ipv6", PII_IPV6}, {"phone", PII_PHONE},
        {"credit-card", PII_CREDIT_CARD}, {"all", PII_ALL},
    };
    *kinds = 0;
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        bool known = false;
        for (size_t i = 0; i < sizeof names / sizeof *names && !known; i++) {
            if (strlen(names[i].name) == n && strncmp(names[i].name, p, n) == 0) {
                *kinds |= names[i].bits;
                known = true;
            }
        }
        if (!known && n > 0) {
            log_error("invalid value for pii: \"%.*s\"; use email, ipv4, ipv6, phone, "
                      "credit-card or all", (int)n, p);
            return -1;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

int clean_settings_check(clean_settings_t *s)
{
    if (text_normalization_from_name(s->normalization, &s->form) != 0) {
        log_error("invalid value for normalization: \"%s\"; use nfc or nfkc", s->normalization);
        return -1;
    }
    if (strcmp(s->mode, "filter") != 0 && strcmp(s->mode, "attributes") != 0) {
        log_error("invalid value for mode: \"%s\"; use filter or attributes", s->mode);
        return -1;
    }
    bool has_dir = s->attributes_dir && s->attributes_dir[0];
    s->attributes = strcmp(s->mode, "attributes") == 0 || has_dir;
    if (!has_dir)
        s->attributes_dir = NULL;
    if (s->apply_attributes_dir && !s->apply_attributes_dir[0])
        s->apply_attributes_dir = NULL;
    if (s->apply_attributes_dir && s->attributes) {
        log_error("--apply-attributes applies stored scores and cannot be combined with "
                  "--attributes or mode attributes; run them as two steps");
        return -1;
    }
    if (s->max_chars > 0 && s->max_chars < s->min_chars) {
        log_error("max-chars %lld is below min-chars %lld; raise max-chars or set it to 0",
                  (long long)s->max_chars, (long long)s->min_chars);
        return -1;
    }
    if (s->gopher_quality.max_words < s->gopher_quality.min_words) {
        log_error("gopher-max-words %lld is below gopher-min-words %lld",
                  (long long)s->gopher_quality.max_words, (long long)s->gopher_quality.min_words);
        return -1;
    }
    if ((s->languages[0] || s->language_threshold > 0) && !s->language_id) {
        log_error("languages and language-threshold need language-id; set language-id=true");
        return -1;
    }
    return parse_pii(s->pii, &s->pii_kinds);
}

void clean_settings_free(clean_settings_t *s)
{
    clean_lists_free(&s->lists);
}
