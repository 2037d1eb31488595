/*
 * One document through every step: the rule bookkeeping shared by all rule
 * families, and normalization with the length rules.
 */
#include <stdlib.h>
#include <string.h>

#include "clean.h"

const char *const clean_counter_names[CLEAN_COUNTER_COUNT] = {
    "mojibake_repaired", "pii_email", "pii_ipv4", "pii_ipv6", "pii_phone", "pii_credit_card",
    "c4_lines_in", "c4_lines_no_terminal_punct", "c4_lines_too_few_words",
    "c4_lines_word_too_long", "c4_lines_javascript", "c4_lines_policy", "language_detected",
};

const char *clean_job_language(const clean_job_t *job)
{
    if (job->language_known)
        return job->language.code;
    return job->doc.lang ? job->doc.lang : "";
}

bool clean_check(const clean_settings_t *settings, clean_job_t *job, const char *rule,
                 double value)
{
    clean_rule_context_t context = {.language = clean_job_language(job), .cjk = job->cjk};
    bool fails = clean_rule_fails(settings, &context, rule, value);
    if (!settings->attributes) {
        if (!fails)
            return false;
        job->drop_rule = rule;
        job->drop_value = value;
        return true;
    }
    json_object_set_new(job->attributes, rule, json_real(value));
    if (fails)
        json_array_append_new(job->would_drop, json_string(rule));
    return false;
}

void clean_job_set_text(clean_job_t *job, clean_worker_t *worker, char *text, size_t length)
{
    free(job->text);
    job->text = text;
    job->length = length;
    worker->view_ready = false;
}

text_view_t *clean_job_view(clean_job_t *job, clean_worker_t *worker)
{
    if (!worker->view_ready) {
        if (text_view_build(&worker->view, job->text, job->length) != 0) {
            job->failed = true;
            return NULL;
        }
        worker->view_ready = true;
    }
    return &worker->view;
}

/* Repairs mojibake (repeatedly, for text encoded twice) and normalizes the text. */
static bool normalize_text(const clean_settings_t *settings, clean_job_t *job,
                           clean_worker_t *worker)
{
    const char *source = job->doc.text;
    size_t source_length = job->doc.text_length;
    char *repaired = NULL;
    for (int pass = 0; settings->fix_mojibake && pass < 3; pass++) {
        char *next = NULL;
        size_t next_length = 0, count = 0;
        if (text_repair_mojibake(source, source_length, &next, &next_length, &count) != 0)
            return false;
        if (!next)
            break;
        free(repaired);
        repaired = next;
        source = next;
        source_length = next_length;
        job->counters[CLEAN_COUNT_MOJIBAKE] += count;
    }
    char *text = NULL;
    size_t length = 0;
    int status = text_clean(source, source_length, settings->form, &text, &length);
    free(repaired);
    if (status != 0)
        return false;
    clean_job_set_text(job, worker, text, length);
    return true;
}

bool clean_normalize(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker)
{
    if (!normalize_text(settings, job, worker)) {
        job->failed = true;
        return true;
    }
    size_t chars = text_count_chars(job->text, job->length);
    if (clean_check(settings, job, "empty_after_normalization", (double)job->length) ||
        clean_check(settings, job, "too_short_chars", (double)chars) ||
        clean_check(settings, job, "too_long_chars", (double)chars))
        return true;
    size_t words = text_count_words(job->text, job->length);
    return clean_check(settings, job, "too_few_words", (double)words);
}

void clean_process(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker)
{
    if (settings->attributes) {
        job->attributes = json_object();
        job->would_drop = json_array();
    }
    worker->view_ready = false;
    bool dropped = clean_normalize(settings, job, worker) ||
                   clean_check_urls(settings, job, worker) ||
                   clean_check_language(settings, job) ||
                   clean_check_gopher_repetition(settings, job, worker) ||
                   clean_check_gopher_quality(settings, job, worker) ||
                   clean_apply_c4(settings, job, worker) ||
                   clean_check_fineweb(settings, job, worker) ||
                   clean_check_bad_words(settings, job, worker);
    if (!dropped && !job->failed)
        clean_redact_pii(settings, job, worker);
}
