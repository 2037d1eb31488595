/*
 * Block lists and bad-word lists: loading, and the URL and domain checks.
 *
 * Domains and URLs are exact keys, looked up by binary search in sorted
 * arrays (a URL's host and each parent domain are tried, so "example.com"
 * also blocks "www.example.com"). Words inside URLs and bad words in text
 * are many patterns at once, matched with pattern_set (Hyperscan).
 */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "log.h"

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void lower_ascii(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Reduces a URL to the form block lists are compared in: lower-case scheme and host
 * removed of "scheme://", no trailing '/', the path kept as written. Writes at most
 * `size` bytes. */
static void url_key(const char *url, char *out, size_t size)
{
    const char *start = strstr(url, "://");
    start = start ? start + 3 : url;
    snprintf(out, size, "%s", start);
    char *path = strchr(out, '/');
    size_t host_end = path ? (size_t)(path - out) : strlen(out);
    for (size_t i = 0; i < host_end; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    size_t n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
}

/* Reads a list file into a sorted array; `as_url` stores URL keys, else lower-cased lines. */
static int load_sorted(const char *path, bool as_url, char ***items, size_t *count)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        log_error("%s: cannot open the block list: %m", path);
        return -1;
    }
    size_t capacity = 0;
    char *line = NULL;
    size_t line_capacity = 0;
    ssize_t n;
    int status = 0;
    while ((n = getline(&line, &line_capacity, file)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#')
            continue;
        if (*count == capacity) {
            capacity = capacity ? capacity * 2 : 256;
            char **grown = realloc(*items, capacity * sizeof *grown);
            if (!grown) {
                status = -1;
                break;
            }
            *items = grown;
        }
        char key[2048];
        if (as_url)
            url_key(line, key, sizeof key);
        else
            snprintf(key, sizeof key, "%s", line);
        if (!as_url)
            lower_ascii(key);
        if (!((*items)[*count] = strdup(key))) {
            status = -1;
            break;
        }
        (*count)++;
    }
    if (status != 0)
        log_error("%s: out of memory reading the block list", path);
    free(line);
    fclose(file);
    if (status == 0 && *count > 0)
        qsort(*items, *count, sizeof **items, compare_strings);
    return status;
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), m = strlen(suffix);
    return n > m && strcmp(name + n - m, suffix) == 0;
}

static int load_bad_words(clean_settings_t *settings)
{
    clean_lists_t *lists = &settings->lists;
    DIR *dir = opendir(settings->bad_words_dir);
    if (!dir) {
        log_error("%s: cannot open the bad-words folder: %m", settings->bad_words_dir);
        return -1;
    }
    struct dirent *entry;
    int status = 0;
    while (status == 0 && (entry = readdir(dir)) != NULL) {
        if (!has_suffix(entry->d_name, ".txt"))
            continue;
        if (lists->bad_word_list_count == 64) {
            log_error("%s: more than 64 bad-word lists", settings->bad_words_dir);
            status = -1;
            break;
        }
        char path[4096], error[512];
        snprintf(path, sizeof path, "%s/%s", settings->bad_words_dir, entry->d_name);
        pattern_set_t *set = pattern_set_load_file(
            path, PATTERN_SET_CASELESS | PATTERN_SET_WHOLE_WORDS, error, sizeof error);
        if (!set) {
            log_error("%s", error);
            status = -1;
            break;
        }
        size_t i = lists->bad_word_list_count++;
        lists->bad_words[i] = set;
        lists->bad_word_languages[i] = strndup(entry->d_name, strlen(entry->d_name) - 4);
    }
    closedir(dir);
    if (status == 0 && lists->bad_word_list_count == 0) {
        log_error("%s: no LANG.txt bad-word list in the folder", settings->bad_words_dir);
        status = -1;
    }
    return status;
}

int clean_lists_load(clean_settings_t *settings)
{
    clean_lists_t *lists = &settings->lists;
    if (settings->block_domains_path && settings->block_domains_path[0] &&
        load_sorted(settings->block_domains_path, false, &lists->domains,
                    &lists->domain_count) != 0)
        return -1;
    if (settings->block_urls_path && settings->block_urls_path[0] &&
        load_sorted(settings->block_urls_path, true, &lists->urls, &lists->url_count) != 0)
        return -1;
    if (settings->block_url_words_path && settings->block_url_words_path[0]) {
        char error[512];
        lists->url_words = pattern_set_load_file(settings->block_url_words_path,
                                                 PATTERN_SET_CASELESS, error, sizeof error);
        if (!lists->url_words) {
            log_error("%s", error);
            return -1;
        }
    }
    if (settings->bad_words_dir && settings->bad_words_dir[0])
        return load_bad_words(settings);
    return 0;
}

void clean_lists_free(clean_lists_t *lists)
{
    for (size_t i = 0; i < lists->domain_count; i++)
        free(lists->domains[i]);
    free(lists->domains);
    for (size_t i = 0; i < lists->url_count; i++)
        free(lists->urls[i]);
    free(lists->urls);
    pattern_set_free(lists->url_words);
    for (size_t i = 0; i < lists->bad_word_list_count; i++) {
        pattern_set_free(lists->bad_words[i]);
        free(lists->bad_word_languages[i]);
    }
    memset(lists, 0, sizeof *lists);
}

const pattern_set_t *clean_lists_bad_words(const clean_lists_t *lists, const char *language)
{
    for (size_t i = 0; i < lists->bad_word_list_count; i++) {
        if (langid_code_allowed(lists->bad_word_languages[i], language))
            return lists->bad_words[i];
    }
    return NULL;
}

int clean_lists_reserve_scratch(const clean_lists_t *lists, pattern_scratch_t **scratch)
{
    if (lists->url_words && pattern_scratch_reserve(scratch, lists->url_words) != 0)
        return -1;
    for (size_t i = 0; i < lists->bad_word_list_count; i++) {
        if (pattern_scratch_reserve(scratch, lists->bad_words[i]) != 0)
            return -1;
    }
    return *scratch || pattern_scratch_reserve(scratch, NULL) == 0 ? 0 : -1;
}

static bool in_sorted(char *const *items, size_t count, const char *key)
{
    return count > 0 && bsearch(&key, items, count, sizeof *items, compare_strings) != NULL;
}

/* True when the host or one of its parent domains is listed. */
static bool domain_blocked(const clean_lists_t *lists, const char *host)
{
    for (const char *p = host; p && *p;) {
        if (in_sorted(lists->domains, lists->domain_count, p))
            return true;
        p = strchr(p, '.');
        if (p)
            p++;
    }
    return false;
}

bool clean_check_urls(const clean_settings_t *settings, clean_job_t *job, clean_worker_t *worker)
{
    const clean_lists_t *lists = &settings->lists;
    if (!job->doc.url || (!lists->domain_count && !lists->url_count && !lists->url_words))
        return false;
    char key[2048];
    url_key(job->doc.url, key, sizeof key);
    char host[512];
    size_t host_length = strcspn(key, "/?#:");
    snprintf(host, sizeof host, "%.*s", (int)host_length, key);
    char *at = strrchr(host, '@');
    const char *bare_host = at ? at + 1 : host;
    if (lists->domain_count &&
        clean_check(settings, job, "url_blocked_domain", domain_blocked(lists, bare_host)))
        return true;
    if (lists->url_count &&
        clean_check(settings, job, "url_blocked", in_sorted(lists->urls, lists->url_count, key)))
        return true;
    if (lists->url_words) {
        lower_ascii(key);
        long matches = pattern_set_count(lists->url_words, worker->scratch, key, strlen(key), 1,
                                         NULL);
        if (matches < 0)
            job->failed = true;
        if (clean_check(settings, job, "url_banned_word", matches > 0 ? 1 : 0))
            return true;
    }
    return false;
}
