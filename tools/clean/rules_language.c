/*
 * Language identification (CLD2 through langid.h) with the allowed-language
 * list and the confidence threshold.
 */
#include <string.h>

#include "clean.h"

bool clean_check_language(const clean_settings_t *settings, clean_job_t *job)
{
    if (!settings->language_id)
        return false;
    langid_detect(job->text, job->length, &job->language);
    job->language_known = true;
    job->counters[CLEAN_COUNT_LANGUAGE_DETECTED]++;
    if (settings->attributes)
        json_object_set_new(job->attributes, "language", json_string(job->language.code));
    return clean_check(settings, job, "language_not_allowed", job->language.score) ||
           clean_check(settings, job, "language_score", job->language.score);
}
