/*
 * The C4 rules. The kept lines replace the text in both modes, so the rules
 * after C4 score the same text in attribute mode as in filter mode.
 */
#include <stdlib.h>
#include <string.h>

#include "clean.h"

/*
 * Attribute mode: records the C4 scores, then goes on with the kept lines, as
 * a direct run does for a document that C4 keeps. The lorem-ipsum and
 * curly-brace scores are the numbers of the first lines that trigger them, so
 * that applying stored scores picks the rule a direct run meets first.
 */
static bool score_c4(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker,
                     const c4_result_t *result, char *kept, size_t kept_length)
{
    size_t removed = result->lines_no_terminal_punct + result->lines_too_few_words +
                     result->lines_word_too_long + result->lines_javascript +
                     result->lines_policy;
    double fraction = result->lines_in ? (double)removed / (double)result->lines_in : 0.0;
    json_object_set_new(job->attributes, "c4_removed_line_fraction", json_real(fraction));
    clean_check(settings, job, "c4_lorem_ipsum", (double)result->first_lorem_ipsum_line);
    clean_check(settings, job, "c4_curly_brace", (double)result->first_curly_brace_line);
    clean_check(settings, job, "c4_no_lines_left", kept_length == 0 ? 1 : 0);
    clean_check(settings, job, "c4_too_few_sentences", (double)result->sentences);
    clean_job_set_text(job, worker, kept, kept_length);
    return false;
}

bool clean_apply_c4(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker)
{
    const c4_options_t *o = &settings->c4;
    if (!o->enabled)
        return false;
    c4_settings_t c4 = {
        .remove_no_terminal_punct = o->terminal_punct,
        .min_words_per_line = (size_t)o->min_words_per_line,
        .max_word_length = (size_t)o->max_word_length,
        .remove_javascript_lines = o->javascript,
        .remove_policy_lines = o->policy,
        .remove_citations = o->citations,
        .drop_lorem_ipsum = o->lorem_ipsum,
        .drop_curly_brace = o->curly_brace,
        .min_sentences = (size_t)o->min_sentences,
        .score_document_rules = settings->attributes,
    };
    char *kept = NULL;
    size_t kept_length = 0;
    c4_result_t result;
    if (c4_apply(job->text, job->length, &c4, &kept, &kept_length, &result) != 0) {
        job->failed = true;
        return true;
    }
    job->counters[CLEAN_COUNT_C4_LINES_IN] += result.lines_in;
    job->counters[CLEAN_COUNT_C4_LINES_NO_TERMINAL_PUNCT] += result.lines_no_terminal_punct;
    job->counters[CLEAN_COUNT_C4_LINES_TOO_FEW_WORDS] += result.lines_too_few_words;
    job->counters[CLEAN_COUNT_C4_LINES_WORD_TOO_LONG] += result.lines_word_too_long;
    job->counters[CLEAN_COUNT_C4_LINES_JAVASCRIPT] += result.lines_javascript;
    job->counters[CLEAN_COUNT_C4_LINES_POLICY] += result.lines_policy;
    if (settings->attributes)
        return score_c4(settings, job, worker, &result, kept, kept_length);
    if (result.drop_reason) {
        free(kept);
        bool sentences = strcmp(result.drop_reason, "c4_too_few_sentences") == 0;
        double value = sentences ? (double)result.sentences : 1.0;
        return clean_check(settings, job, result.drop_reason, value);
    }
    clean_job_set_text(job, worker, kept, kept_length);
    return false;
}
