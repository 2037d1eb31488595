/*
 * The clean program's settings, per-document job and rule families.
 *
 * Each document goes through the steps in this order, the order of the
 * FineWeb recipe: normalization and length rules, URL block lists, language
 * identification, Gopher repetition, Gopher quality, C4, FineWeb, bad words,
 * then PII replacement. In filter mode the first rule that fails drops the
 * document; in attribute mode every rule records its score and nothing is
 * dropped. docs/clean.md describes each rule.
 */
#ifndef LMPIPE_CLEAN_H
#define LMPIPE_CLEAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "docio.h"
#include "outdir.h"
#include "langid.h"
#include "pattern_set.h"
#include "pii.h"
#include "quality_rules.h"
#include "text_normalize.h"

typedef struct {
    bool enabled;
    int64_t min_words;
    int64_t max_words;
    double min_mean_word_length;
    double max_mean_word_length;
    double max_symbol_word_ratio;
    double max_bullet_lines;
    double max_ellipsis_lines;
    double min_alpha_words;
    int64_t min_stop_words;
    char *stop_words;
    char *stop_word_languages;
} gopher_quality_settings_t;

typedef struct {
    bool enabled;
    double max_duplicate_lines;
    double max_duplicate_paragraphs;
    double max_duplicate_line_chars;
    double max_duplicate_paragraph_chars;
    double max_top_ngram[3];          /* n = 2, 3, 4 */
    double max_duplicate_ngram[6];    /* n = 5..10 */
} gopher_repetition_settings_t;

typedef struct {
    bool enabled;
    bool terminal_punct;
    int64_t min_words_per_line;
    int64_t max_word_length;
    bool javascript;
    bool policy;
    bool citations;
    bool lorem_ipsum;
    bool curly_brace;
    int64_t min_sentences;
} c4_options_t;

typedef struct {
    bool enabled;
    double min_line_punct_ratio;
    double max_short_line_ratio;
    int64_t short_line_chars;
    double max_char_dup_ratio;
    double max_newline_ratio;
} fineweb_settings_t;

/* Loaded block lists; NULL members are switched off. */
typedef struct {
    char **domains;                 /* sorted, lower case */
    size_t domain_count;
    char **urls;                    /* sorted */
    size_t url_count;
    pattern_set_t *url_words;       /* substrings of the lower-cased URL */
    pattern_set_t *bad_words[64];   /* per language, in `bad_word_languages` order */
    char *bad_word_languages[64];
    size_t bad_word_list_count;
} clean_lists_t;

typedef struct {
    char *mode;                     /* "filter" or "attributes" */
    bool attributes;                /* every rule is scored and nothing is dropped */
    char *attributes_dir;           /* --attributes: folder for the attribute files, or NULL */
    char *apply_attributes_dir;     /* --apply-attributes: stored scores to apply, or NULL */
    char *normalization;
    text_normalization_t form;
    bool fix_mojibake;
    int64_t min_chars;
    int64_t max_chars;
    int64_t min_words;
    bool language_id;
    char *languages;
    double language_threshold;
    gopher_quality_settings_t gopher_quality;
    gopher_repetition_settings_t gopher_repetition;
    c4_options_t c4;
    fineweb_settings_t fineweb;
    char *block_domains_path;
    char *block_urls_path;
    char *block_url_words_path;
    char *bad_words_dir;
    int64_t max_bad_words;
    char *pii;
    unsigned pii_kinds;
    char *rejected_path;
    clean_lists_t lists;
} clean_settings_t;

/* Counters a document adds to the stats, beside its drop reason. */
enum {
    CLEAN_COUNT_MOJIBAKE,
    CLEAN_COUNT_PII_EMAIL,
    CLEAN_COUNT_PII_IPV4,
    CLEAN_COUNT_PII_IPV6,
    CLEAN_COUNT_PII_PHONE,
    CLEAN_COUNT_PII_CREDIT_CARD,
    CLEAN_COUNT_C4_LINES_IN,
    CLEAN_COUNT_C4_LINES_NO_TERMINAL_PUNCT,
    CLEAN_COUNT_C4_LINES_TOO_FEW_WORDS,
    CLEAN_COUNT_C4_LINES_WORD_TOO_LONG,
    CLEAN_COUNT_C4_LINES_JAVASCRIPT,
    CLEAN_COUNT_C4_LINES_POLICY,
    CLEAN_COUNT_LANGUAGE_DETECTED,
    CLEAN_COUNTER_COUNT,
};

extern const char *const clean_counter_names[CLEAN_COUNTER_COUNT];

/* One document in flight, owned by one worker thread at a time. */
typedef struct {
    doc_t doc;
    char *text;                     /* current text, malloc'ed */
    size_t length;
    const char *drop_rule;          /* first failing rule in filter mode, or NULL */
    double drop_value;              /* the failing rule's score */
    json_t *attributes;             /* rule -> score, attribute mode only */
    json_t *would_drop;             /* failing rules, attribute mode only */
    langid_result_t language;
    bool language_known;
    bool cjk;                       /* set by the Gopher quality rules before they check */
    uint64_t counters[CLEAN_COUNTER_COUNT];
    bool failed;                    /* out of memory or a library error */
} clean_job_t;

/* Per-thread reusable state. */
typedef struct {
    text_view_t view;
    bool view_ready;                /* `view` describes the job's current text */
    pattern_scratch_t *scratch;
} clean_worker_t;

/* Option table and validation (options.c). */
cli_option_t *clean_options_table(clean_settings_t *settings);
void clean_settings_defaults(clean_settings_t *settings);
/* Checks the values. Returns 0, or -1 after logging (a usage error). */
int clean_settings_check(clean_settings_t *settings);
void clean_settings_free(clean_settings_t *settings);

/* What the thresholds of some rules depend on besides the score. */
typedef struct {
    const char *language;   /* language code for the language and stop-word rules, or NULL */
    bool cjk;               /* the text is mostly CJK characters (Gopher word rules) */
} clean_rule_context_t;

/*
 * Decides whether `rule` fails with score `value` under the settings
 * (thresholds.c). A rule of a switched-off family, or an unknown rule, never
 * fails. This is the only place where thresholds are compared, for direct
 * runs and for stored scores alike.
 */
bool clean_rule_fails(const clean_settings_t *settings, const clean_rule_context_t *context,
                      const char *rule, double value);

/* True when `rule` names a rule with a threshold (not a context attribute). */
bool clean_rule_known(const char *rule);

/* The rule's name as a static string that outlives `rule`, or NULL when unknown. */
const char *clean_rule_name(const char *rule);

/* The language the rules use for a job: CLD2's, else the document's "lang", else "". */
const char *clean_job_language(const clean_job_t *job);

/*
 * Records one rule's score and decides it with clean_rule_fails. In filter
 * mode a failing rule drops the document and the call returns true, so the
 * caller stops. In attribute mode the score is stored, a failing rule is
 * listed in the would-drop list, and the call returns false.
 */
bool clean_check(const clean_settings_t *settings, clean_job_t *job, const char *rule,
                 double value);

/* Replaces the job's text (takes ownership of `text`). */
void clean_job_set_text(clean_job_t *job, clean_worker_t *worker, char *text, size_t length);

/* The words/lines view of the job's current text, built on first use. NULL when out of
 * memory (job->failed is set). */
text_view_t *clean_job_view(clean_job_t *job, clean_worker_t *worker);

/* The rule families; each returns true when the document was dropped. */
bool clean_normalize(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker);
bool clean_check_urls(const clean_settings_t *settings, clean_job_t *job,
                      clean_worker_t *worker);
bool clean_check_language(const clean_settings_t *settings, clean_job_t *job);
bool clean_check_gopher_repetition(const clean_settings_t *settings, clean_job_t *job,
                                   clean_worker_t *worker);
bool clean_check_gopher_quality(const clean_settings_t *settings, clean_job_t *job,
                                clean_worker_t *worker);
bool clean_apply_c4(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker);
bool clean_check_fineweb(const clean_settings_t *settings, clean_job_t *job,
                         clean_worker_t *worker);
bool clean_check_bad_words(const clean_settings_t *settings, clean_job_t *job,
                           clean_worker_t *worker);
void clean_redact_pii(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker);

/* Runs every step on one job. */
void clean_process(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker);

/* Attribute files (attributes.c). The writer writes one JSON line per job:
 * its id, attributes and would-drop list. */
typedef struct clean_attribute_writer clean_attribute_writer_t;

/* Opens the attribute folder `dir` for the documents written to `output`.
 * Returns NULL after logging. */
clean_attribute_writer_t *clean_attribute_writer_open(const char *dir, const char *output,
                                                      const outdir_identity_t *identity,
                                                      int64_t task_index);
int clean_attribute_writer_write(clean_attribute_writer_t *writer, const clean_job_t *job);
/* Commits the file and finishes the folder's task. Frees the writer. Returns 0 or -1. */
int clean_attribute_writer_finish(clean_attribute_writer_t *writer);
void clean_attribute_writer_abort(clean_attribute_writer_t *writer);

typedef struct clean_attribute_reader clean_attribute_reader_t;

/* Opens a finished attribute folder. Returns NULL after logging. */
clean_attribute_reader_t *clean_attribute_reader_open(const char *dir);

/*
 * Reads the stored attributes of `doc`, read from the document file
 * `document_path`: the next line of the attribute file with that file's base
 * name. Returns a new reference to the attributes object, or NULL after
 * logging when the file is missing or ends early, or the line is invalid or
 * names another document.
 */
json_t *clean_attribute_reader_next(clean_attribute_reader_t *reader, const doc_t *doc,
                                    const char *document_path);
void clean_attribute_reader_close(clean_attribute_reader_t *reader);

/*
 * Decides a job from stored scores under the settings' thresholds, in the
 * order the scores were computed: sets job->drop_rule and drop_value for the
 * first failing rule. Returns 0, or -1 after logging when a score is not a
 * number or a switched-on rule family has no stored scores.
 */
int clean_apply_stored(const clean_settings_t *settings, clean_job_t *job, json_t *attributes);

/* Loads the block lists and bad-word lists the settings name (lists.c). Returns 0, or -1
 * after logging the file and the reason. */
int clean_lists_load(clean_settings_t *settings);
void clean_lists_free(clean_lists_t *lists);
/* The bad-word set for a language code, or NULL. */
const pattern_set_t *clean_lists_bad_words(const clean_lists_t *lists, const char *language);
/* Reserves scratch space for every pattern set. Returns 0 or -1. */
int clean_lists_reserve_scratch(const clean_lists_t *lists, pattern_scratch_t **scratch);

#endif
