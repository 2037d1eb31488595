/*
 * crawl-ingest: crawl records and HTML files to documents.
 *
 * Every WARC record read is counted in `records_in` and ends either kept (one
 * document) or dropped under one reason, so the stats add up per run:
 * records_in = records_kept + records_dropped. docs/crawl-ingest.md lists the
 * reasons.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#include "charset.h"
#include "ingest.h"
#include "langid.h"
#include "log.h"
#include "warc.h"

/* How a payload becomes text. */
typedef enum {
    PAYLOAD_HTML,
    PAYLOAD_TEXT,
    PAYLOAD_OTHER,
} payload_kind_t;

/* What a document is made from, gathered from the record or file. */
typedef struct {
    const unsigned char *payload;
    size_t payload_length;
    payload_kind_t kind;
    const char *charset_hint;   /* a Content-Type value whose charset parameter wins, or NULL */
    char media_type[128];       /* e.g. "text/html" */
    char *id;
    char *url;
    const char *date;
    const char *source;
    int64_t offset;             /* WARC record offset, or -1 for files */
    const char *language;       /* WET WARC-Identified-Content-Language, or NULL */
} page_t;

/* Lowercased media type without parameters ("Text/HTML; charset=x" -> "text/html"). */
static void media_type_of(const char *content_type, char *out, size_t size)
{
    out[0] = '\0';
    if (!content_type)
        return;
    while (isspace((unsigned char)*content_type))
        content_type++;
    size_t length = 0;
    while (content_type[length] && content_type[length] != ';' && length + 1 < size) {
        out[length] = (char)tolower((unsigned char)content_type[length]);
        length++;
    }
    while (length > 0 && isspace((unsigned char)out[length - 1]))
        length--;
    out[length] = '\0';
}

static bool starts_with_ci(const unsigned char *data, size_t length, const char *prefix)
{
    size_t prefix_length = strlen(prefix);
    return length >= prefix_length && strncasecmp((const char *)data, prefix, prefix_length) == 0;
}

/* True when the first bytes look like an HTML document (used without a media type). */
static bool sniff_html(const unsigned char *data, size_t length)
{
    size_t i = 0;
    if (length >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF)
        i = 3;
    while (i < length && isspace(data[i]))
        i++;
    return starts_with_ci(data + i, length - i, "<!doctype html") ||
           starts_with_ci(data + i, length - i, "<html") ||
           starts_with_ci(data + i, length - i, "<head") ||
           starts_with_ci(data + i, length - i, "<!--");
}

static payload_kind_t payload_kind_of(const char *media_type, const unsigned char *data,
                                      size_t length)
{
    if (strcmp(media_type, "text/html") == 0 || strcmp(media_type, "application/xhtml+xml") == 0)
        return PAYLOAD_HTML;
    if (strcmp(media_type, "text/plain") == 0)
        return PAYLOAD_TEXT;
    if (media_type[0] == '\0' || strcmp(media_type, "application/octet-stream") == 0 ||
        strcmp(media_type, "unknown/unknown") == 0)
        return sniff_html(data, length) ? PAYLOAD_HTML : PAYLOAD_OTHER;
    return PAYLOAD_OTHER;
}

static void format_time(time_t seconds, char *out, size_t size)
{
    struct tm utc;
    gmtime_r(&seconds, &utc);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &utc);
}

static const char *base_name(const char *path)
{
    if (strcmp(path, "-") == 0)
        return "stdin";
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

static const char *source_for(const ingest_run_t *run, const char *path)
{
    const char *source = run->settings->source;
    return source && source[0] ? source : base_name(path);
}

/* ------------------------------------------------------------------------ */
/* Page to document                                                          */

/* Language identification reads at most this many bytes of a document: CLD2's
 * cost grows with the text, while a few thousand characters already decide
 * the language of a page. */
#define LANGUAGE_SAMPLE_BYTES 4096

/* Length of the detection sample: the text, or its first LANGUAGE_SAMPLE_BYTES
 * cut back to a UTF-8 character boundary. */
static size_t language_sample_length(const char *text, size_t length)
{
    if (length <= LANGUAGE_SAMPLE_BYTES)
        return length;
    size_t cut = LANGUAGE_SAMPLE_BYTES;
    while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
        cut--;
    return cut;
}

/* Converts the payload to UTF-8 text (extracting HTML) and fills `doc`.
 * Returns NULL to keep the document, or the drop reason. */
static const char *build_document(ingest_run_t *run, const page_t *page, doc_t *doc)
{
    char charset[CHARSET_NAME_MAX];
    charset_source_t origin = charset_determine(page->payload, page->payload_length,
                                                page->charset_hint, page->kind == PAYLOAD_HTML,
                                                charset, sizeof charset);
    char counter[64];
    snprintf(counter, sizeof counter, "charset_from_%s", charset_source_name(origin));
    stats_count(&run->stats, counter, 1);

    char *utf8 = NULL;
    size_t utf8_length = 0;
    size_t replacements = 0;
    int fallback = 0;
    if (charset_to_utf8(page->payload, page->payload_length, charset, &utf8, &utf8_length,
                        &replacements, &fallback) != 0)
        return "out_of_memory";
    if (fallback) {
        log_debug("%s: charset \"%s\" is unknown to iconv; decoded as UTF-8", page->id,
                  charset);
        stats_count(&run->stats, "charset_unknown", 1);
        snprintf(charset, sizeof charset, "utf-8");
    }
    if (replacements > 0) {
        stats_count(&run->stats, "charset_replaced_chars", replacements);
        stats_count(&run->stats, "documents_with_replaced_chars", 1);
    }

    html_text_t extracted = {0};
    if (page->kind == PAYLOAD_HTML) {
        int status = html_text_extract(utf8, utf8_length, &run->html_options, &extracted);
        free(utf8);
        if (status != 0)
            return "html_extraction_failed";
    } else {
        extracted.text = utf8;
        extracted.length = utf8_length;
    }

    if ((int64_t)extracted.length < run->settings->min_text_bytes) {
        html_text_free(&extracted);
        return "too_short_extracted";
    }

    doc_set_field(&doc->id, page->id);
    doc_set_text(doc, extracted.text, extracted.length);
    doc_set_field(&doc->source, page->source);
    doc_set_field(&doc->url, page->url);
    doc_set_field(&doc->date, page->date);
    /* The detected language is the document's language: many pages declare
     * none or keep a template's "en". The declaration is kept in meta. */
    langid_result_t language;
    langid_detect(extracted.text, language_sample_length(extracted.text, extracted.length),
                  &language);
    bool detected = strcmp(language.code, "un") != 0;
    doc_set_field(&doc->lang, detected ? language.code : extracted.lang);
    doc_meta_set(doc, "language_score", json_real(detected ? language.score : 0.0));
    if (extracted.lang)
        doc_meta_set(doc, "html_lang", json_string(extracted.lang));
    if (extracted.title)
        doc_meta_set(doc, "title", json_string(extracted.title));
    if (page->media_type[0])
        doc_meta_set(doc, "content_type", json_string(page->media_type));
    doc_meta_set(doc, "charset", json_string(charset));
    if (page->offset >= 0)
        doc_meta_set(doc, "warc_record_offset", json_integer(page->offset));
    if (page->language)
        doc_meta_set(doc, "identified_language", json_string(page->language));
    html_text_free(&extracted);
    return NULL;
}

/* The document made from one record on a worker thread; the reading thread
 * writes it in record order. */
struct ingest_capture {
    warc_record_t *record;      /* a WARC record to convert, or NULL */
    const char *html_path;      /* else an HTML file to convert */
    doc_t doc;
    bool has_doc;
    int status;
};

/* Builds and writes one page's document, or counts why it was dropped. On a
 * worker thread the document is left in run->capture instead. */
static int emit_page(ingest_run_t *run, const page_t *page)
{
    doc_t doc;
    doc_init(&doc);
    const char *reason = build_document(run, page, &doc);
    int status = INGEST_OK;
    if (reason) {
        log_debug("%s (%s): dropped: %s", page->id, page->url ? page->url : "no url", reason);
        stats_record_dropped(&run->stats, reason);
        if (strcmp(reason, "out_of_memory") == 0) {
            log_error("%s: out of memory converting the page", page->id);
            status = INGEST_FATAL;
        }
    } else if (run->capture) {
        stats_record_kept(&run->stats, doc.text_length);
        run->capture->doc = doc;
        run->capture->has_doc = true;
        return INGEST_OK;
    } else if (doc_writer_write(run->writer, &doc) != 0) {
        status = INGEST_FATAL;
    } else {
        stats_record_kept(&run->stats, doc.text_length);
    }
    doc_clear(&doc);
    return status;
}

/* ------------------------------------------------------------------------ */
/* WARC records                                                              */

static const char *const known_types[] = {
    "warcinfo", "response", "resource", "request", "metadata", "revisit", "conversion",
    "continuation",
};

/* Returns the lowercase WARC-Type when it is a standard type, else "other". */
static const char *type_name(const char *type)
{
    if (!type)
        return "other";
    for (size_t i = 0; i < sizeof known_types / sizeof known_types[0]; i++) {
        if (strcasecmp(type, known_types[i]) == 0)
            return known_types[i];
    }
    return "other";
}

static void drop_with_http_status(ingest_run_t *run, int status)
{
    char reason[40];
    if (status >= 100 && status <= 599)
        snprintf(reason, sizeof reason, "http_status_%d", status);
    else
        snprintf(reason, sizeof reason, "http_status_invalid");
    stats_record_dropped(&run->stats, reason);
}

/* A response record: HTTP status, headers, then the decoded body. */
static int ingest_response(ingest_run_t *run, const warc_record_t *record, page_t *page)
{
    http_response_t response;
    if (http_response_parse(record->block, record->block_length, &response) != 0) {
        stats_record_dropped(&run->stats, "invalid_http_response");
        return INGEST_OK;
    }
    int result = INGEST_OK;
    unsigned char *body = NULL;
    if (response.status != 200) {
        drop_with_http_status(run, response.status);
        goto done;
    }

    const char *content_type = http_response_field(&response, "Content-Type");
    const char *identified = warc_record_field(record, "WARC-Identified-Payload-Type");
    media_type_of(identified ? identified : content_type, page->media_type,
                  sizeof page->media_type);

    size_t body_length = 0;
    int decoded = http_decode_body(&response, (size_t)run->settings->max_record_bytes, &body,
                                   &body_length);
    if (decoded < 0) {
        log_error("%s: out of memory decoding the HTTP body", page->id);
        result = INGEST_FATAL;
        goto done;
    }
    if (decoded == HTTP_DECODE_UNSUPPORTED) {
        stats_record_dropped(&run->stats, "unsupported_content_encoding");
        goto done;
    }
    if (decoded == HTTP_DECODE_PARTIAL)
        stats_count(&run->stats, "partially_decoded_bodies", 1);

    page->kind = payload_kind_of(page->media_type, body, body_length);
    if (page->kind == PAYLOAD_OTHER) {
        stats_record_dropped(&run->stats, "unsupported_content_type");
        goto done;
    }
    page->payload = body;
    page->payload_length = body_length;
    page->charset_hint = content_type;
    result = emit_page(run, page);

done:
    free(body);
    http_response_free(&response);
    return result;
}

/* A resource or conversion record: the block is the payload. */
static int ingest_payload_record(ingest_run_t *run, const warc_record_t *record, page_t *page,
                                 bool conversion)
{
    if (page->url && strncasecmp(page->url, "metadata:", 9) == 0) {
        /* wget stores its arguments and log as resource records with metadata:// URIs. */
        stats_record_dropped(&run->stats, "crawler_metadata");
        return INGEST_OK;
    }
    media_type_of(record->content_type, page->media_type, sizeof page->media_type);
    page->payload = record->block;
    page->payload_length = record->block_length;
    page->kind = conversion ? PAYLOAD_TEXT
                            : payload_kind_of(page->media_type, record->block,
                                              record->block_length);
    if (page->kind == PAYLOAD_OTHER) {
        stats_record_dropped(&run->stats, "unsupported_content_type");
        return INGEST_OK;
    }
    page->charset_hint = record->content_type;
    if (conversion)
        page->language = warc_record_field(record, "WARC-Identified-Content-Language");
    return emit_page(run, page);
}

/* Length of the valid UTF-8 sequence at `p` (at most `left` bytes), or 0. */
static size_t utf8_sequence_length(const unsigned char *p, size_t left)
{
    size_t length = 2;
    if (p[0] < 0x80)
        length = 1;
    else if (p[0] >= 0xF0)
        length = 4;
    else if (p[0] >= 0xE0)
        length = 3;
    if (length > left)
        return 0;
    return charset_is_valid_utf8(p, length) ? length : 0;
}

/*
 * Copies a WARC header value for a document field. WARC headers are UTF-8, but
 * old writers put Latin-1 or raw bytes in URIs; such bytes are percent-encoded
 * ("caf\xe9" -> "caf%E9"), as a browser sends them, so the value stays valid
 * JSON text and distinct. Returns a malloc'ed string or NULL for NULL; sets
 * *repaired when bytes were encoded.
 */
static char *header_value_utf8(const char *value, bool *repaired)
{
    if (!value)
        return NULL;
    size_t length = strlen(value);
    if (charset_is_valid_utf8((const unsigned char *)value, length))
        return strdup(value);
    *repaired = true;
    char *out = malloc(length * 3 + 1);
    if (!out)
        return NULL;
    size_t used = 0;
    const unsigned char *p = (const unsigned char *)value;
    while (*p) {
        size_t step = utf8_sequence_length(p, strlen((const char *)p));
        if (step == 0) {
            used += (size_t)sprintf(out + used, "%%%02X", *p);
            p++;
            continue;
        }
        memcpy(out + used, p, step);
        used += step;
        p += step;
    }
    out[used] = '\0';
    return out;
}

static int ingest_record(ingest_run_t *run, const warc_record_t *record, const char *path)
{
    const char *type = type_name(record->type);
    char counter[40];
    snprintf(counter, sizeof counter, "warc_%s", type);
    stats_count(&run->stats, counter, 1);
    stats_record_in(&run->stats, record->block_length);

    bool response = strcmp(type, "response") == 0;
    bool resource = strcmp(type, "resource") == 0;
    bool conversion = strcmp(type, "conversion") == 0;
    if (!response && !resource && !conversion) {
        char reason[40];
        snprintf(reason, sizeof reason, "type_%s", type);
        stats_record_dropped(&run->stats, reason);
        return INGEST_OK;
    }
    if (record->block_skipped) {
        stats_record_dropped(&run->stats, "record_too_large");
        return INGEST_OK;
    }
    if (record->damaged) {
        stats_record_dropped(&run->stats, "corrupt_record");
        return INGEST_OK;
    }
    if (warc_record_field(record, "WARC-Truncated"))
        stats_count(&run->stats, "payloads_truncated_by_crawler", 1);

    page_t page = {0};
    bool repaired = false;
    char *raw_id = warc_strip_brackets(record->record_id);
    char *raw_url = warc_strip_brackets(record->target_uri);
    page.id = header_value_utf8(raw_id, &repaired);
    page.url = header_value_utf8(raw_url, &repaired);
    char *date = header_value_utf8(record->date, &repaired);
    free(raw_id);
    free(raw_url);
    if (repaired)
        stats_count(&run->stats, "warc_header_values_not_utf8", 1);
    if (!page.id) {
        /* No WARC-Record-ID: name the record by its place in the file. */
        char fallback[64];
        snprintf(fallback, sizeof fallback, "%016llx",
                 (unsigned long long)XXH3_64bits(path, strlen(path)));
        size_t size = strlen(fallback) + 32;
        page.id = malloc(size);
        if (page.id)
            snprintf(page.id, size, "%s:%llu", fallback, (unsigned long long)record->offset);
    }
    page.date = date;
    page.source = source_for(run, path);
    page.offset = (int64_t)record->offset;

    int status = response ? ingest_response(run, record, &page)
                          : ingest_payload_record(run, record, &page, conversion);
    free(page.id);
    free(page.url);
    free(date);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Records converted on several threads                                      */

/* Records per batch per thread, and the block bytes after which a batch is
 * closed early, so memory stays a bounded multiple of the largest record. */
enum { RECORDS_PER_THREAD = 32 };
#define BATCH_MAX_BYTES ((size_t)32 << 20)

static int ingest_html_file(ingest_run_t *run, const char *path);

typedef struct {
    ingest_capture_t *items;
    size_t count;
    atomic_size_t next;         /* the next item a thread takes */
    const char *path;
} batch_t;

typedef struct {
    ingest_run_t run;           /* a copy of the shared run with its own stats */
    batch_t *batch;
    pthread_t thread;
    bool started;
} worker_t;

static void *worker_main(void *argument)
{
    worker_t *worker = argument;
    batch_t *batch = worker->batch;
    for (;;) {
        size_t i = atomic_fetch_add(&batch->next, 1);
        if (i >= batch->count)
            break;
        ingest_capture_t *item = &batch->items[i];
        worker->run.capture = item;
        item->status = item->record ? ingest_record(&worker->run, item->record, batch->path)
                                    : ingest_html_file(&worker->run, item->html_path);
        worker->run.capture = NULL;
    }
    return NULL;
}

/* Converts the batch on every worker (the calling thread is worker 0), then
 * writes the documents in input order. Adds the HTML files that could not be
 * read to *failed. Returns INGEST_OK or INGEST_FATAL. */
static int run_batch(ingest_run_t *run, worker_t *workers, batch_t *batch, size_t *failed)
{
    atomic_store(&batch->next, 0);
    int threads = run->threads;
    for (int t = 1; t < threads; t++) {
        workers[t].batch = batch;
        workers[t].started =
            pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]) == 0;
    }
    workers[0].batch = batch;
    worker_main(&workers[0]);
    for (int t = 1; t < threads; t++) {
        if (workers[t].started)
            pthread_join(workers[t].thread, NULL);
        workers[t].started = false;
    }

    int result = INGEST_OK;
    for (size_t i = 0; i < batch->count; i++) {
        ingest_capture_t *item = &batch->items[i];
        if (item->status == INGEST_FATAL)
            result = INGEST_FATAL;
        if (item->status == INGEST_INPUT_FAILED)
            (*failed)++;
        if (result == INGEST_OK && item->has_doc && doc_writer_write(run->writer, &item->doc) != 0)
            result = INGEST_FATAL;
        doc_clear(&item->doc);
        item->has_doc = false;
        warc_record_free(item->record);
        item->record = NULL;
        item->html_path = NULL;
        item->status = INGEST_OK;
    }
    batch->count = 0;
    return result;
}

/* Prepares one worker per thread, each with its own stats, and the batch's
 * items. Returns NULL when memory runs out. */
static worker_t *workers_start(ingest_run_t *run, batch_t *batch, size_t capacity)
{
    worker_t *workers = calloc((size_t)run->threads, sizeof *workers);
    batch->items = calloc(capacity, sizeof *batch->items);
    if (!workers || !batch->items) {
        free(workers);
        free(batch->items);
        return NULL;
    }
    for (int t = 0; t < run->threads; t++) {
        workers[t].run = *run;
        workers[t].run.writer = NULL;
        stats_init(&workers[t].run.stats, "crawl-ingest");
    }
    return workers;
}

/* Merges the workers' stats into the run's and frees the workers. */
static void workers_finish(ingest_run_t *run, worker_t *workers, batch_t *batch)
{
    for (int t = 0; t < run->threads; t++) {
        stats_merge(&run->stats, &workers[t].run.stats);
        stats_free(&workers[t].run.stats);
    }
    free(workers);
    free(batch->items);
}

/* Reads records into batches and converts each batch on run->threads threads.
 * Returns the last warc_reader_next status, or 2 when the run must stop. */
static int read_parallel(ingest_run_t *run, warc_reader_t *reader, const char *path,
                         uint64_t *records)
{
    size_t capacity = (size_t)run->threads * RECORDS_PER_THREAD;
    batch_t batch = {.path = path};
    worker_t *workers = workers_start(run, &batch, capacity);
    if (!workers) {
        log_error("%s: out of memory starting %d threads", path, run->threads);
        return 2;
    }
    size_t unused = 0; /* WARC records are not counted as failed inputs */

    int status;
    int result = INGEST_OK;
    size_t batch_bytes = 0;
    warc_record_t *record;
    while ((status = warc_reader_next(reader, &record)) == 1) {
        (*records)++;
        if (record->length_mismatch)
            stats_count(&run->stats, "warc_length_mismatches", 1);
        ingest_capture_t *item = &batch.items[batch.count];
        doc_init(&item->doc);
        item->record = warc_record_copy(record);
        if (!item->record) {
            log_error("%s: out of memory copying the record at byte %llu", path,
                      (unsigned long long)record->offset);
            result = INGEST_FATAL;
            break;
        }
        batch.count++;
        batch_bytes += record->block_length;
        if (batch.count == capacity || batch_bytes >= BATCH_MAX_BYTES) {
            result = run_batch(run, workers, &batch, &unused);
            batch_bytes = 0;
            if (result == INGEST_FATAL)
                break;
        }
    }
    if (batch.count > 0 && run_batch(run, workers, &batch, &unused) == INGEST_FATAL)
        result = INGEST_FATAL;

    workers_finish(run, workers, &batch);
    return result == INGEST_FATAL ? 2 : status;
}

/* Reads records one by one on the calling thread. Returns the last
 * warc_reader_next status, or 2 when the run must stop. */
static int read_serial(ingest_run_t *run, warc_reader_t *reader, const char *path,
                       uint64_t *records)
{
    warc_record_t *record;
    int status;
    while ((status = warc_reader_next(reader, &record)) == 1) {
        (*records)++;
        if (record->length_mismatch)
            stats_count(&run->stats, "warc_length_mismatches", 1);
        if (ingest_record(run, record, path) == INGEST_FATAL)
            return 2;
    }
    return status;
}

static int ingest_warc(ingest_run_t *run, const char *path)
{
    warc_reader_options_t options = {.max_block_bytes = (size_t)run->settings->max_record_bytes};
    warc_reader_t *reader = warc_reader_open(path, &options);
    if (!reader)
        return INGEST_INPUT_FAILED;

    uint64_t records = 0;
    int result = INGEST_OK;
    int status = run->threads > 1 ? read_parallel(run, reader, path, &records)
                                  : read_serial(run, reader, path, &records);
    if (status == 2) {
        result = INGEST_FATAL;
    } else if (status < 0) {
        /* The record cut short by the damage is seen but cannot be kept. */
        stats_record_in(&run->stats, 0);
        stats_record_dropped(&run->stats, "truncated_record");
        stats_count(&run->stats, "damaged_files", 1);
        result = records > 0 ? INGEST_INPUT_DAMAGED : INGEST_INPUT_FAILED;
    }
    const char *unit = warc_reader_is_zstd(reader) ? "zstd_frames" : "gzip_members";
    stats_count(&run->stats, unit, warc_reader_member_count(reader));
    stats_count(&run->stats, "warc_resyncs", warc_reader_resync_count(reader));
    const char *corrupt = warc_reader_is_zstd(reader) ? "zstd_corrupt_frames"
                                                      : "gzip_corrupt_members";
    stats_count(&run->stats, corrupt, warc_reader_corrupt_member_count(reader));
    if (result == INGEST_OK && records == 0 && warc_reader_resync_count(reader) > 0) {
        log_error("%s: no WARC record found; check that it is a WARC or WET file", path);
        result = INGEST_INPUT_FAILED;
    }
    log_debug("%s: %llu records", path, (unsigned long long)records);
    warc_reader_close(reader);
    return result;
}

/* ------------------------------------------------------------------------ */
/* HTML files and documents                                                  */

/* Reads a whole file of at most `limit` bytes. Returns 0, 1 when it is
 * larger, or -1 after logging a read error. */
static int read_small_file(const char *path, size_t limit, unsigned char **data, size_t *length)
{
    *data = NULL;
    *length = 0;
    FILE *file = fopen(path, "rb");
    if (!file) {
        log_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct stat info;
    if (fstat(fileno(file), &info) != 0 || (uint64_t)info.st_size > limit) {
        fclose(file);
        return 1;
    }
    *data = malloc((size_t)info.st_size + 1);
    size_t got = *data ? fread(*data, 1, (size_t)info.st_size, file) : 0;
    bool failed = !*data || ferror(file);
    fclose(file);
    if (failed) {
        log_error("%s: read failed: %s", path, strerror(errno));
        free(*data);
        *data = NULL;
        return -1;
    }
    *length = got;
    return 0;
}

static int ingest_html_file(ingest_run_t *run, const char *path)
{
    unsigned char *data;
    size_t length;
    int status = read_small_file(path, (size_t)run->settings->max_record_bytes, &data, &length);
    if (status < 0)
        return INGEST_INPUT_FAILED;
    stats_count(&run->stats, "html_files", 1);
    stats_record_in(&run->stats, length);
    if (status > 0) {
        stats_record_dropped(&run->stats, "record_too_large");
        return INGEST_OK;
    }

    XXH128_hash_t hash = XXH3_128bits(path, strlen(path));
    char id[40];
    snprintf(id, sizeof id, "%016llx%016llx", (unsigned long long)hash.high64,
             (unsigned long long)hash.low64);
    char date[32] = "";
    struct stat info;
    if (stat(path, &info) == 0)
        format_time(info.st_mtime, date, sizeof date);

    page_t page = {0};
    page.payload = data;
    page.payload_length = length;
    page.kind = PAYLOAD_HTML;
    snprintf(page.media_type, sizeof page.media_type, "text/html");
    page.id = id;
    page.url = (char *)path;
    page.date = date[0] ? date : NULL;
    page.source = source_for(run, path);
    page.offset = -1;
    status = emit_page(run, &page);
    free(data);
    return status;
}

/* JSON Lines documents pass through unchanged. */
static int ingest_documents(ingest_run_t *run, const char *path)
{
    cli_string_list_t single = {0};
    cli_string_list_push(&single, path);
    doc_reader_t *reader = doc_reader_open(&single, 0, 1);
    cli_string_list_free(&single);
    if (!reader)
        return INGEST_INPUT_FAILED;
    doc_t doc;
    doc_init(&doc);
    int result = INGEST_OK;
    while (doc_reader_next(reader, &doc, &run->stats) == 1) {
        stats_record_in(&run->stats, doc.text_length);
        stats_count(&run->stats, "documents_passed_through", 1);
        if (doc_writer_write(run->writer, &doc) != 0) {
            result = INGEST_FATAL;
            break;
        }
        stats_record_kept(&run->stats, doc.text_length);
    }
    if (result == INGEST_OK && doc_reader_failed_files(reader) > 0)
        result = INGEST_INPUT_DAMAGED;
    doc_clear(&doc);
    doc_reader_close(reader);
    return result;
}

int ingest_input(ingest_run_t *run, const char *path, input_kind_t kind)
{
    switch (kind) {
    case INPUT_WARC:
        return ingest_warc(run, path);
    case INPUT_HTML:
        return ingest_html_file(run, path);
    case INPUT_DOCUMENTS:
        return ingest_documents(run, path);
    }
    return INGEST_INPUT_FAILED;
}

int ingest_html_files(ingest_run_t *run, const char *const *paths, size_t count, size_t *failed)
{
    if (run->threads <= 1 || count <= 1) {
        for (size_t i = 0; i < count; i++) {
            int status = ingest_html_file(run, paths[i]);
            if (status == INGEST_FATAL)
                return INGEST_FATAL;
            if (status == INGEST_INPUT_FAILED)
                (*failed)++;
        }
        return INGEST_OK;
    }
    size_t capacity = (size_t)run->threads * RECORDS_PER_THREAD;
    batch_t batch = {.path = NULL};
    worker_t *workers = workers_start(run, &batch, capacity);
    if (!workers) {
        log_error("out of memory starting %d threads", run->threads);
        return INGEST_FATAL;
    }
    int result = INGEST_OK;
    for (size_t i = 0; i < count && result == INGEST_OK; i++) {
        ingest_capture_t *item = &batch.items[batch.count++];
        doc_init(&item->doc);
        item->html_path = paths[i];
        if (batch.count == capacity || i + 1 == count)
            result = run_batch(run, workers, &batch, failed);
    }
    workers_finish(run, workers, &batch);
    return result;
}
