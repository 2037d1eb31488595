/*
 * The rules FineWeb adds after C4 (datatrove FineWebQualityFilter defaults).
 * A short line is counted in characters, so a Chinese line of 30 characters,
 * which carries about as much as 20 English words, is not short.
 */
#include "clean.h"

bool clean_check_fineweb(const clean_settings_t *settings, clean_job_t *job,
                         clean_worker_t *worker)
{
    const fineweb_settings_t *f = &settings->fineweb;
    if (!f->enabled)
        return false;
    text_view_t *view = clean_job_view(job, worker);
    fineweb_scores_t s;
    if (!view || fineweb_scores(view, (size_t)f->short_line_chars, &s) != 0) {
        job->failed = true;
        return true;
    }
    return clean_check(settings, job, "fineweb_line_punct_ratio", s.line_punct_ratio) ||
           clean_check(settings, job, "fineweb_short_line_ratio", s.short_line_ratio) ||
           clean_check(settings, job, "fineweb_char_dup_ratio", s.char_dup_ratio) ||
           clean_check(settings, job, "fineweb_newline_ratio", s.newline_ratio);
}
