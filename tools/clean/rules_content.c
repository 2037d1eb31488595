/*
 * Harmful and personal content: per-language bad-word lists (C4 drops a
 * page with any word of its list) and PII replacement.
 */
#include <stdlib.h>

#include "clean.h"

bool clean_check_bad_words(const clean_settings_t *settings, clean_job_t *job,
                           clean_worker_t *worker)
{
    if (settings->lists.bad_word_list_count == 0)
        return false;
    const pattern_set_t *set = clean_lists_bad_words(&settings->lists, clean_job_language(job));
    if (!set)
        return false;
    size_t limit = settings->attributes ? 0 : (size_t)settings->max_bad_words + 1;
    long matches = pattern_set_count(set, worker->scratch, job->text, job->length, limit, NULL);
    if (matches < 0) {
        job->failed = true;
        return true;
    }
    return clean_check(settings, job, "bad_words", (double)matches);
}

void clean_redact_pii(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker)
{
    if (!settings->pii_kinds)
        return;
    pii_counts_t counts = {0};
    char *text = NULL;
    size_t length = 0;
    if (pii_redact(job->text, job->length, settings->pii_kinds, &text, &length, &counts) != 0) {
        job->failed = true;
        return;
    }
    job->counters[CLEAN_COUNT_PII_EMAIL] += counts.emails;
    job->counters[CLEAN_COUNT_PII_IPV4] += counts.ipv4;
    job->counters[CLEAN_COUNT_PII_IPV6] += counts.ipv6;
    job->counters[CLEAN_COUNT_PII_PHONE] += counts.phones;
    job->counters[CLEAN_COUNT_PII_CREDIT_CARD] += counts.credit_cards;
    if (text)
        clean_job_set_text(job, worker, text, length);
}
