/*
 * crawl-ingest input discovery: folders expand to the files the program reads.
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "ingest.h"
#include "log.h"
#include "outdir.h"

static bool has_suffix(const char *text, const char *suffix)
{
    size_t text_length = strlen(text);
    size_t suffix_length = strlen(suffix);
    return text_length >= suffix_length &&
           strcasecmp(text + text_length - suffix_length, suffix) == 0;
}

static const char *const warc_suffixes[] = {
    ".warc", ".warc.gz", ".warc.zst", ".wet", ".wet.gz", ".wet.zst",
};
static const char *const html_suffixes[] = {".html", ".htm", ".xhtml"};
static const char *const document_suffixes[] = {".jsonl", ".jsonl.gz", ".jsonl.zst"};

static bool has_any_suffix(const char *path, const char *const *suffixes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (has_suffix(path, suffixes[i]))
            return true;
    }
    return false;
}

#define HAS_SUFFIX_IN(path, list) has_any_suffix(path, list, sizeof list / sizeof list[0])

/* Returns 1 and the kind when the name alone decides it, else 0. */
static int kind_from_name(const char *path, input_kind_t *kind)
{
    if (strcmp(path, "-") == 0 || HAS_SUFFIX_IN(path, warc_suffixes)) {
        *kind = INPUT_WARC;
        return 1;
    }
    if (HAS_SUFFIX_IN(path, html_suffixes)) {
        *kind = INPUT_HTML;
        return 1;
    }
    if (HAS_SUFFIX_IN(path, document_suffixes)) {
        *kind = INPUT_DOCUMENTS;
        return 1;
    }
    return 0;
}

input_kind_t input_kind(const char *path)
{
    input_kind_t kind;
    if (kind_from_name(path, &kind))
        return kind;

    struct stat info;
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
        return INPUT_DOCUMENTS; /* a finished dataset folder */

    /* Unknown suffix: look at the first bytes. Gzip files are taken to be
     * WARC, since compressed JSON Lines need their suffix to be decoded. */
    unsigned char head[64] = {0};
    size_t length = 0;
    FILE *file = fopen(path, "rb");
    if (file) {
        length = fread(head, 1, sizeof head, file);
        fclose(file);
    }
    size_t i = 0;
    while (i < length && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n'))
        i++;
    if (i < length && head[i] == '{')
        return INPUT_DOCUMENTS;
    if (i < length && head[i] == '<')
        return INPUT_HTML;
    return INPUT_WARC;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_path(const char *folder, const char *name)
{
    size_t size = strlen(folder) + strlen(name) + 2;
    char *path = malloc(size);
    if (path)
        snprintf(path, size, "%s/%s", folder, name);
    return path;
}

/* Adds the readable files below `folder`, in name order, recursively. */
static void expand_folder(const char *folder, cli_string_list_t *files, size_t *skipped)
{
    DIR *directory = opendir(folder);
    if (!directory) {
        log_error("%s: cannot read folder: %s", folder, strerror(errno));
        return;
    }
    cli_string_list_t names = {0};
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] != '.')
            cli_string_list_push(&names, entry->d_name);
    }
    closedir(directory);
    qsort(names.items, names.count, sizeof *names.items, compare_names);

    for (size_t i = 0; i < names.count; i++) {
        char *path = join_path(folder, names.items[i]);
        if (!path)
            break;
        struct stat info;
        input_kind_t kind;
        if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
            expand_folder(path, files, skipped);
        else if (kind_from_name(path, &kind))
            cli_string_list_push(files, path);
        else
            (*skipped)++;
        free(path);
    }
    cli_string_list_free(&names);
}

void inputs_expand(const cli_string_list_t *given, cli_string_list_t *files, size_t *missing)
{
    *missing = 0;
    for (size_t i = 0; i < given->count; i++) {
        const char *input = given->items[i];
        struct stat info;
        if (strcmp(input, "-") == 0) {
            cli_string_list_push(files, input);
            continue;
        }
        if (stat(input, &info) != 0) {
            log_error("%s: input not found: %s; check the path", input, strerror(errno));
            (*missing)++;
            continue;
        }
        if (!S_ISDIR(info.st_mode)) {
            cli_string_list_push(files, input);
            continue;
        }
        char *manifest = join_path(input, OUTDIR_MANIFEST_NAME);
        bool is_dataset = manifest && stat(manifest, &info) == 0;
        free(manifest);
        if (is_dataset) {
            cli_string_list_push(files, input);
            continue;
        }
        size_t skipped = 0;
        size_t before = files->count;
        expand_folder(input, files, &skipped);
        if (skipped > 0)
            log_info("%s: skipped %zu files whose names crawl-ingest does not read "
                     "(it reads .warc[.gz|.zst], .wet[.gz|.zst], .html, .htm, .jsonl[.gz|.zst])",
                     input, skipped);
        if (files->count == before)
            log_warn("%s: folder contains no file that crawl-ingest reads", input);
    }
}
