/*
 * The Gopher quality and repetition rules (Rae et al. 2021, appendix A).
 * For CJK text (most words single CJK characters) the mean-word-length rule
 * is not applied. The stop-word rule applies only to the languages in
 * gopher-stop-word-languages. Every other rule counts CJK characters as words.
 */
#include <stdio.h>
#include <string.h>

#include "clean.h"

/* The language the rules use: CLD2's, else the document's own "lang", else "". */
static const char *job_language(const clean_job_t *job)
{
    if (job->language_known)
        return job->language.code;
    return job->doc.lang ? job->doc.lang : "";
}

static bool stop_words_apply(const gopher_quality_settings_t *q, const clean_job_t *job,
                             const text_view_t *view)
{
    if (q->min_stop_words <= 0 || text_view_is_cjk(view))
        return false;
    const char *language = job_language(job);
    if (!language[0] || strcmp(language, "un") == 0)
        return true;
    return langid_code_allowed(q->stop_word_languages, language);
}

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
    bool cjk = text_view_is_cjk(view);
    if (clean_check(settings, job, "gopher_min_words", words, words < (double)q->min_words) ||
        clean_check(settings, job, "gopher_max_words", words, words > (double)q->max_words) ||
        clean_check(settings, job, "gopher_min_mean_word_length", s.mean_word_length,
                    !cjk && s.mean_word_length < q->min_mean_word_length) ||
        clean_check(settings, job, "gopher_max_mean_word_length", s.mean_word_length,
                    !cjk && s.mean_word_length > q->max_mean_word_length) ||
        clean_check(settings, job, "gopher_hash_ratio", s.hash_ratio,
                    s.hash_ratio > q->max_symbol_word_ratio) ||
        clean_check(settings, job, "gopher_ellipsis_ratio", s.ellipsis_ratio,
                    s.ellipsis_ratio > q->max_symbol_word_ratio) ||
        clean_check(settings, job, "gopher_bullet_lines", s.bullet_line_fraction,
                    s.bullet_line_fraction > q->max_bullet_lines) ||
        clean_check(settings, job, "gopher_ellipsis_lines", s.ellipsis_line_fraction,
                    s.ellipsis_line_fraction > q->max_ellipsis_lines) ||
        clean_check(settings, job, "gopher_alpha_words", s.alpha_word_fraction,
                    s.alpha_word_fraction < q->min_alpha_words))
        return true;
    return clean_check(settings, job, "gopher_stop_words", (double)s.stop_words,
                       stop_words_apply(q, job, view) &&
                           (int64_t)s.stop_words < q->min_stop_words);
}

bool clean_check_gopher_repetition(const clean_settings_t *settings, clean_job_t *job,
                                   clean_worker_t *worker)
{
    const gopher_repetition_settings_t *r = &settings->gopher_repetition;
    if (!r->enabled)
        return false;
    text_view_t *view = clean_job_view(job, worker);
    gopher_repetition_scores_t s;
    if (!view || gopher_repetition_scores(view, &s) != 0) {
        job->failed = true;
        return true;
    }
    if (clean_check(settings, job, "gopher_duplicate_lines", s.duplicate_line_fraction,
                    s.duplicate_line_fraction > r->max_duplicate_lines) ||
        clean_check(settings, job, "gopher_duplicate_paragraphs",
                    s.duplicate_paragraph_fraction,
                    s.duplicate_paragraph_fraction > r->max_duplicate_paragraphs) ||
        clean_check(settings, job, "gopher_duplicate_line_chars",
                    s.duplicate_line_char_fraction,
                    s.duplicate_line_char_fraction > r->max_duplicate_line_chars) ||
        clean_check(settings, job, "gopher_duplicate_paragraph_chars",
                    s.duplicate_paragraph_char_fraction,
                    s.duplicate_paragraph_char_fraction > r->max_duplicate_paragraph_chars))
        return true;
    static const char *const top_names[3] = {"gopher_top_2gram", "gopher_top_3gram",
                                             "gopher_top_4gram"};
    for (int i = 0; i < 3; i++) {
        double value = s.top_ngram_char_fraction[i];
        if (clean_check(settings, job, top_names[i], value, value > r->max_top_ngram[i]))
            return true;
    }
    static const char *const duplicate_names[6] = {
        "gopher_duplicate_5gram", "gopher_duplicate_6gram", "gopher_duplicate_7gram",
        "gopher_duplicate_8gram", "gopher_duplicate_9gram", "gopher_duplicate_10gram",
    };
    for (int i = 0; i < 6; i++) {
        double value = s.duplicate_ngram_char_fraction[i];
        if (clean_check(settings, job, duplicate_names[i], value,
                        value > r->max_duplicate_ngram[i]))
            return true;
    }
    return false;
}
