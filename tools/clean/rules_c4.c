/*
 * The C4 rules. In filter mode the kept lines replace the text. In attribute
 * mode the text stays as normalized, and the counts and the document rule are
 * recorded.
 */
#include <stdlib.h>

#include "clean.h"

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
    if (settings->attributes) {
        size_t removed = result.lines_no_terminal_punct + result.lines_too_few_words +
                         result.lines_word_too_long + result.lines_javascript +
                         result.lines_policy;
        double fraction = result.lines_in ? (double)removed / (double)result.lines_in : 0.0;
        json_object_set_new(job->attributes, "c4_removed_line_fraction", json_real(fraction));
        json_object_set_new(job->attributes, "c4_sentences",
                            json_integer((json_int_t)result.sentences));
        free(kept);
        if (result.drop_reason)
            clean_check(settings, job, result.drop_reason, 1, true);
        return false;
    }
    if (result.drop_reason) {
        free(kept);
        return clean_check(settings, job, result.drop_reason, (double)result.sentences, true);
    }
    clean_job_set_text(job, worker, kept, kept_length);
    return false;
}
