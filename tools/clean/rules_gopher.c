/*
 * The Gopher quality and repetition rules (Rae et al. 2021, appendix A).
 * For CJK text (most words single CJK characters) the mean-word-length rule
 * is not applied. The stop-word rule applies only to the languages in
 * gopher-stop-word-languages. Every other rule counts CJK characters as words.
 */
#include <stdio.h>
#include <string.h>

#include "clean.h"

bool clean_check_gopher_quality(const clean_settings_t *settings, clean_job_t *job,
                                clean_worker_t *worker)
{
    const gopher_quality_settings_t *q = &settings->gopher_quality;
    if (!q->enabled)
        return false;
    text_view_t *view = clean_job_view(job, worker);
    if (!view)
        return true;
    gopher_quality_scores_t s;
    gopher_quality_scores(view, q->stop_words, &s);
    double words = (double)s.words;
    job->cjk = text_view_is_cjk(view);
    if (settings->attributes)
        json_object_set_new(job->attributes, "text_is_cjk", json_boolean(job->cjk));
    return clean_check(settings, job, "gopher_min_words", words) ||
           clean_check(settings, job, "gopher_max_words", words) ||
           clean_check(settings, job, "gopher_min_mean_word_length", s.mean_word_length) ||
           clean_check(settings, job, "gopher_max_mean_word_length", s.mean_word_length) ||
           clean_check(settings, job, "gopher_hash_ratio", s.hash_ratio) ||
           clean_check(settings, job, "gopher_ellipsis_ratio", s.ellipsis_ratio) ||
           clean_check(settings, job, "gopher_bullet_lines", s.bullet_line_fraction) ||
           clean_check(settings, job, "gopher_ellipsis_lines", s.ellipsis_line_fraction) ||
           clean_check(settings, job, "gopher_alpha_words", s.alpha_word_fraction) ||
           clean_check(settings, job, "gopher_stop_words", (double)s.stop_words);
}

bool clean_check_gopher_repetition(const clean_settings_t *settings, clean_job_t *job,
                                   clean_worker_t *worker)
{
    if (!settings->gopher_repetition.enabled)
        return false;
    text_view_t *view = clean_job_view(job, worker);
    gopher_repetition_scores_t s;
    if (!view || gopher_repetition_scores(view, &s) != 0) {
        job->failed = true;
        return true;
    }
    if (clean_check(settings, job, "gopher_duplicate_lines", s.duplicate_line_fraction) ||
        clean_check(settings, job, "gopher_duplicate_paragraphs",
                    s.duplicate_paragraph_fraction) ||
        clean_check(settings, job, "gopher_duplicate_line_chars",
                    s.duplicate_line_char_fraction) ||
        clean_check(settings, job, "gopher_duplicate_paragraph_chars",
                    s.duplicate_paragraph_char_fraction))
        return true;
    static const char *const top_names[3] = {"gopher_top_2gram", "gopher_top_3gram",
                                             "gopher_top_4gram"};
    for (int i = 0; i < 3; i++) {
        double value = s.top_ngram_char_fraction[i];
        if (clean_check(settings, job, top_names[i], value))
            return true;
    }
    static const char *const duplicate_names[6] = {
        "gopher_duplicate_5gram", "gopher_duplicate_6gram", "gopher_duplicate_7gram",
        "gopher_duplicate_8gram", "gopher_duplicate_9gram", "gopher_duplicate_10gram",
    };
    for (int i = 0; i < 6; i++) {
        double value = s.duplicate_ngram_char_fraction[i];
        if (clean_check(settings, job, duplicate_names[i], value))
            return true;
    }
    return false;
}
