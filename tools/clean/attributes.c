/*
 * Attribute files: every rule's score per document, written beside the
 * documents (--attributes DIR) and applied later under another recipe's
 * thresholds (--apply-attributes DIR), as dolma's taggers and mixer do.
 *
 * DIR is an output folder with a manifest. Each attribute file has the base
 * name of the document file it describes (part-TTTTT-00000.jsonl.zst for a
 * folder output, the file's own name for a file output), and its line n
 * describes line n of that document file:
 *
 *   {"id": "...", "attributes": {"too_short_chars": 812, ..., "language": "en"},
 *    "would_drop": ["gopher_stop_words"]}
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clean.h"
#include "log.h"
#include "textio.h"

struct clean_attribute_writer {
    outdir_t *outdir;
    text_writer_t *writer;      /* opened on the first record */
    char name[256];
    uint64_t records;
};

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

clean_attribute_writer_t *clean_attribute_writer_open(const char *dir, const char *output,
                                                      const outdir_identity_t *identity,
                                                      int64_t task_index)
{
    clean_attribute_writer_t *writer = calloc(1, sizeof *writer);
    if (!writer) {
        log_error("out of memory opening %s", dir);
        return NULL;
    }
    if (doc_output_is_folder(output))
        snprintf(writer->name, sizeof writer->name, "part-%05lld-00000.jsonl.zst",
                 (long long)task_index);
    else
        snprintf(writer->name, sizeof writer->name, "%s", base_name(output));
    writer->outdir = outdir_open(dir, identity);
    if (!writer->outdir) {
        free(writer);
        return NULL;
    }
    return writer;
}

int clean_attribute_writer_write(clean_attribute_writer_t *writer, const clean_job_t *job)
{
    if (!writer->writer) {
        writer->writer = outdir_create_text(writer->outdir, writer->name,
                                            text_compression_from_path(writer->name));
        if (!writer->writer)
            return -1;
    }
    json_t *record = json_object();
    json_object_set_new(record, "id", json_string(job->doc.id ? job->doc.id : ""));
    json_object_set(record, "attributes", job->attributes);
    json_object_set(record, "would_drop", job->would_drop);
    char *line = json_dumps(record, JSON_COMPACT);
    json_decref(record);
    if (!line) {
        log_error("out of memory writing the attributes of document %s", job->doc.id);
        return -1;
    }
    size_t length = strlen(line);
    line[length] = '\n';
    int status = text_writer_write(writer->writer, line, length + 1);
    free(line);
    if (status != 0)
        return -1;
    writer->records++;
    return 0;
}

int clean_attribute_writer_finish(clean_attribute_writer_t *writer)
{
    int status = 0;
    if (writer->writer)
        status = outdir_commit_text(writer->outdir, writer->writer, writer->name,
                                    writer->records);
    writer->writer = NULL;
    if (status == 0)
        status = outdir_finish(writer->outdir);
    else
        outdir_abort(writer->outdir);
    free(writer);
    return status;
}

void clean_attribute_writer_abort(clean_attribute_writer_t *writer)
{
    if (!writer)
        return;
    if (writer->writer)
        text_writer_abort(writer->writer);
    outdir_abort(writer->outdir);
    free(writer);
}

/* ------------------------------------------------------------------------ */
/* Reading stored attributes                                                 */

struct clean_attribute_reader {
    char *dir;
    char *document_path;        /* the document file the open attribute file describes */
    char *path;
    text_reader_t *reader;
};

clean_attribute_reader_t *clean_attribute_reader_open(const char *dir)
{
    cli_string_list_t names = {0};
    int listed = outdir_list_files(dir, false, &names);
    cli_string_list_free(&names);
    if (listed != 0)
        return NULL;
    clean_attribute_reader_t *reader = calloc(1, sizeof *reader);
    if (!reader || !(reader->dir = strdup(dir))) {
        free(reader);
        log_error("out of memory opening %s", dir);
        return NULL;
    }
    return reader;
}

/* Opens the attribute file for the document file `document_path`. */
static int switch_file(clean_attribute_reader_t *reader, const char *document_path)
{
    if (reader->reader)
        text_reader_close(reader->reader);
    reader->reader = NULL;
    free(reader->document_path);
    free(reader->path);
    reader->document_path = strdup(document_path);
    size_t size = strlen(reader->dir) + strlen(base_name(document_path)) + 2;
    reader->path = malloc(size);
    if (!reader->document_path || !reader->path) {
        log_error("out of memory opening the attributes of %s", document_path);
        return -1;
    }
    snprintf(reader->path, size, "%s/%s", reader->dir, base_name(document_path));
    reader->reader = text_reader_open(reader->path);
    if (!reader->reader) {
        log_error("%s: no attribute file for the documents of %s; --apply-attributes needs "
                  "the documents that the --attributes run wrote", reader->path, document_path);
        return -1;
    }
    return 0;
}

json_t *clean_attribute_reader_next(clean_attribute_reader_t *reader, const doc_t *doc,
                                    const char *document_path)
{
    if (!reader->document_path || strcmp(reader->document_path, document_path) != 0) {
        if (switch_file(reader, document_path) != 0)
            return NULL;
    }
    char *line = NULL;
    size_t length = 0;
    if (text_reader_next_line(reader->reader, &line, &length) != 1) {
        log_error("%s: ends before document %s of %s; the attribute file does not belong "
                  "to these documents", reader->path, doc->id, document_path);
        return NULL;
    }
    uint64_t line_number = text_reader_line_number(reader->reader);
    json_error_t error;
    json_t *record = json_loadb(line, length, 0, &error);
    json_t *attributes = json_object_get(record, "attributes");
    const char *id = json_string_value(json_object_get(record, "id"));
    if (!json_is_object(attributes) || !id) {
        log_error("%s:%llu: invalid attribute record (expected an object with \"id\" and "
                  "\"attributes\")", reader->path, (unsigned long long)line_number);
        json_decref(record);
        return NULL;
    }
    if (strcmp(id, doc->id ? doc->id : "") != 0) {
        log_error("%s:%llu: attributes of document %s, but the document is %s; the attribute "
                  "file does not belong to %s", reader->path, (unsigned long long)line_number,
                  id, doc->id, document_path);
        json_decref(record);
        return NULL;
    }
    json_incref(attributes);
    json_decref(record);
    return attributes;
}

void clean_attribute_reader_close(clean_attribute_reader_t *reader)
{
    if (!reader)
        return;
    if (reader->reader)
        text_reader_close(reader->reader);
    free(reader->dir);
    free(reader->document_path);
    free(reader->path);
    free(reader);
}

/* ------------------------------------------------------------------------ */
/* Applying stored scores                                                    */

static double stored_value(json_t *attributes, const char *rule)
{
    json_t *value = json_object_get(attributes, rule);
    return json_is_number(value) ? json_number_value(value) : 0.0;
}

/* A direct run stops at whichever C4 document rule it meets first in the
 * text: the lorem-ipsum and curly-brace scores are those lines' numbers. */
static const char *first_c4_line_rule(const clean_settings_t *settings,
                                      const clean_rule_context_t *context, json_t *attributes)
{
    double lorem = stored_value(attributes, "c4_lorem_ipsum");
    double curly = stored_value(attributes, "c4_curly_brace");
    bool lorem_fails = clean_rule_fails(settings, context, "c4_lorem_ipsum", lorem);
    bool curly_fails = clean_rule_fails(settings, context, "c4_curly_brace", curly);
    if (lorem_fails && (!curly_fails || lorem <= curly))
        return "c4_lorem_ipsum";
    return curly_fails ? "c4_curly_brace" : NULL;
}

/* Checks that the scores of every rule family the settings switch on were stored. */
static int check_families(const clean_settings_t *settings, const clean_job_t *job,
                          json_t *attributes)
{
    const struct {
        bool enabled;
        const char *rule;
        const char *setting;
    } families[] = {
        {true, "too_few_words", "normalization"},
        {settings->language_id, "language_score", "language-id"},
        {settings->gopher_repetition.enabled, "gopher_duplicate_lines", "gopher-repetition"},
        {settings->gopher_quality.enabled, "gopher_min_words", "gopher-quality"},
        {settings->c4.enabled, "c4_no_lines_left", "c4"},
        {settings->fineweb.enabled, "fineweb_line_punct_ratio", "fineweb"},
    };
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        if (families[i].enabled && !json_object_get(attributes, families[i].rule)) {
            log_error("the stored attributes of document %s have no \"%s\": the --attributes "
                      "run did not score %s; rerun it with a recipe that switches it on",
                      job->doc.id, families[i].rule, families[i].setting);
            return -1;
        }
    }
    return 0;
}

int clean_apply_stored(const clean_settings_t *settings, clean_job_t *job, json_t *attributes)
{
    if (check_families(settings, job, attributes) != 0)
        return -1;
    json_t *language = json_object_get(attributes, "language");
    clean_rule_context_t context = {
        .language = json_is_string(language) ? json_string_value(language)
                                             : (job->doc.lang ? job->doc.lang : ""),
        .cjk = json_is_true(json_object_get(attributes, "text_is_cjk")),
    };
    const char *rule;
    json_t *value;
    json_object_foreach(attributes, rule, value) {
        if (!clean_rule_known(rule))
            continue;
        if (!json_is_number(value)) {
            log_error("attributes of document %s: \"%s\" is not a number", job->doc.id, rule);
            return -1;
        }
        const char *failing = NULL;
        if (strcmp(rule, "c4_lorem_ipsum") == 0 || strcmp(rule, "c4_curly_brace") == 0)
            failing = first_c4_line_rule(settings, &context, attributes);
        else if (clean_rule_fails(settings, &context, rule, json_number_value(value)))
            failing = rule;
        if (failing) {
            job->drop_rule = clean_rule_name(failing);
            job->drop_value = stored_value(attributes, failing);
            return 0;
        }
    }
    return 0;
}
