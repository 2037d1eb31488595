/*
 * Tests document parsing, serialization, bad-record handling and the
 * folder writer read back through its manifest, with task partitioning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "docio.h"
#include "textio.h"

static char folder[] = "/tmp/lmpipe-test-docio-XXXXXX";

static void test_parse_and_serialize(void)
{
    doc_t doc;
    doc_init(&doc);
    char error[256];
    const char *line = "{\"id\":\"a\",\"text\":\"你好，世界\\n第二行\",\"source\":\"s\","
                       "\"url\":\"http://127.0.0.1/\",\"extra\":5}";
    CHECK_INT_EQ(doc_parse_json(line, strlen(line), &doc, error, sizeof error), 0);
    CHECK_STR_EQ(doc.id, "a");
    CHECK_STR_EQ(doc.text, "你好，世界\n第二行");
    CHECK_INT_EQ(doc.text_length, strlen("你好，世界\n第二行"));
    CHECK(doc.meta && json_integer_value(json_object_get(doc.meta, "extra")) == 5);
    size_t length;
    char *json = doc_to_json(&doc, &length);
    CHECK(json && json[length - 1] == '\n');
    CHECK(strstr(json, "你好") != NULL); /* UTF-8 is written as is, not escaped */
    free(json);

    const char *bad[] = {"[1,2]", "{\"id\":\"x\"}", "{\"text\":5}", "{not json",
                         "{\"text\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        doc_clear(&doc);
        CHECK_INT_EQ(doc_parse_json(bad[i], strlen(bad[i]), &doc, error, sizeof error), -1);
    }
    doc_clear(&doc);
}

static void test_bad_lines_skipped(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/mixed.jsonl", folder);
    FILE *file = fopen(path, "w");
    fputs("{\"id\":\"1\",\"text\":\"good\"}\n[1]\n\n{\"id\":\"2\",\"text\":\"also good\"}\n{bad\n",
          file);
    fclose(file);
    cli_string_list_t inputs = {0};
    cli_string_list_push(&inputs, path);
    doc_reader_t *reader = doc_reader_open(&inputs, 0, 1);
    stats_t stats;
    stats_init(&stats, "test");
    doc_t doc;
    doc_init(&doc);
    int count = 0;
    while (doc_reader_next(reader, &doc, &stats) == 1)
        count++;
    CHECK_INT_EQ(count, 2);
    CHECK_INT_EQ(stats_dropped_for(&stats, "invalid_record"), 2);
    doc_clear(&doc);
    doc_reader_close(reader);
    stats_free(&stats);
    cli_string_list_free(&inputs);
}

static void test_folder_round_trip(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/out", folder);
    outdir_identity_t identity = {.program = "test", .task_index = 0, .task_count = 1};
    doc_writer_options_t options = {.shard_bytes = 2000};
    doc_writer_t *writer = doc_writer_open(path, &identity, &options);
    CHECK(writer != NULL);
    doc_t doc;
    doc_init(&doc);
    for (int i = 0; i < 100; i++) {
        char id[32], text[64];
        snprintf(id, sizeof id, "doc-%d", i);
        snprintf(text, sizeof text, "document %d 文本", i);
        doc_set_field(&doc.id, id);
        doc_set_text(&doc, text, strlen(text));
        CHECK_INT_EQ(doc_writer_write(writer, &doc), 0);
    }
    CHECK_INT_EQ(doc_writer_finish(writer), 0);

    cli_string_list_t inputs = {0};
    cli_string_list_push(&inputs, path);
    int total = 0;
    for (int task = 0; task < 3; task++) {
        doc_reader_t *reader = doc_reader_open(&inputs, task, 3);
        CHECK(reader != NULL);
        while (doc_reader_next(reader, &doc, NULL) == 1)
            total++;
        doc_reader_close(reader);
    }
    CHECK_INT_EQ(total, 100); /* three tasks together read every document once */
    doc_clear(&doc);
    cli_string_list_free(&inputs);
}

static void test_nul_character_message(void)
{
    doc_t doc;
    doc_init(&doc);
    char error[256];
    const char *line = "{\"text\":\"a\\u0000b\"}";
    CHECK_INT_EQ(doc_parse_json(line, strlen(line), &doc, error, sizeof error), -1);
    CHECK(strstr(error, "NUL character") != NULL);
    CHECK(strstr(error, "JSON_ALLOW_NUL") == NULL); /* no library flag names for users */
    doc_clear(&doc);
}

/* The cut last record of a truncated gzip file is counted in and dropped. */
static void test_truncated_record_counted(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/cut.jsonl.gz", folder);
    text_writer_t *writer = text_writer_open(path, TEXT_GZIP, 0);
    const char *first = "{\"id\":\"1\",\"text\":\"短文\"}\n";
    CHECK_INT_EQ(text_writer_write(writer, first, strlen(first)), 0);
    /* A long record of pseudo-random letters, so half the file ends inside it. */
    enum { TEXT_LENGTH = 400000 };
    char *record = malloc(TEXT_LENGTH + 64);
    size_t used = (size_t)sprintf(record, "{\"id\":\"2\",\"text\":\"");
    uint32_t state = 7;
    for (size_t i = 0; i < TEXT_LENGTH; i++) {
        state = state * 1103515245u + 12345u;
        record[used++] = (char)('a' + (state >> 16) % 26);
    }
    used += (size_t)sprintf(record + used, "\"}\n");
    CHECK_INT_EQ(text_writer_write(writer, record, used), 0);
    free(record);
    CHECK_INT_EQ(text_writer_commit(writer), 0);
    struct stat info;
    stat(path, &info);
    CHECK_INT_EQ(truncate(path, info.st_size / 2), 0);

    cli_string_list_t inputs = {0};
    cli_string_list_push(&inputs, path);
    doc_reader_t *reader = doc_reader_open(&inputs, 0, 1);
    stats_t stats;
    stats_init(&stats, "test");
    doc_t doc;
    doc_init(&doc);
    int count = 0;
    while (doc_reader_next(reader, &doc, &stats) == 1)
        count++;
    CHECK_INT_EQ(count, 1);
    CHECK_INT_EQ(stats.records_in, 1);  /* only the reader's drops: kept ones are the caller's */
    CHECK_INT_EQ(stats.records_dropped, 1);
    CHECK_INT_EQ(stats_dropped_for(&stats, "truncated_record"), 1);
    CHECK_INT_EQ(doc_reader_failed_files(reader), 0); /* damaged after a record, not unreadable */
    doc_clear(&doc);
    doc_reader_close(reader);
    stats_free(&stats);
    cli_string_list_free(&inputs);
}

static void test_folder_without_documents(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/crawl", folder);
    CHECK_INT_EQ(mkdir(path, 0700), 0);
    char warc[300];
    snprintf(warc, sizeof warc, "%s/a.warc.gz", path);
    FILE *file = fopen(warc, "w");
    fputs("x", file);
    fclose(file);
    cli_string_list_t inputs = {0};
    cli_string_list_push(&inputs, path);
    CHECK(doc_reader_open(&inputs, 0, 1) == NULL);
    cli_string_list_free(&inputs);
}

static void test_output_kinds(void)
{
    CHECK(doc_output_is_folder("/nonexistent-lmpipe/out"));
    CHECK(!doc_output_is_folder("/nonexistent-lmpipe/out.jsonl.zst"));
    CHECK(!doc_output_is_folder("/dev/null"));
    CHECK(doc_output_is_folder(folder));
    char path[256];
    snprintf(path, sizeof path, "%s/plain-name", folder);
    FILE *file = fopen(path, "w");
    fclose(file);
    CHECK(!doc_output_is_folder(path)); /* an existing file is a file output */
}

int main(void)
{
    CHECK(mkdtemp(folder) != NULL);
    test_parse_and_serialize();
    test_bad_lines_skipped();
    test_folder_round_trip();
    test_nul_character_message();
    test_truncated_record_counted();
    test_folder_without_documents();
    test_output_kinds();
    char command[300];
    snprintf(command, sizeof command, "rm -rf %s", folder);
    CHECK_INT_EQ(system(command), 0);
    return CHECK_DONE();
}
