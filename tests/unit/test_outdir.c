/*
 * Tests output folders: manifests written last, up-to-date detection, task
 * records completing in any order, and rejection of unfinished folders.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "outdir.h"

static char folder[] = "/tmp/lmpipe-test-outdir-XXXXXX";

static outdir_identity_t make_identity(const char *settings_hash, int64_t task, int64_t count)
{
    outdir_identity_t identity = {.program = "test", .task_index = task, .task_count = count};
    snprintf(identity.settings_hash, sizeof identity.settings_hash, "%s", settings_hash);
    snprintf(identity.inputs_hash, sizeof identity.inputs_hash, "%032d", 7);
    return identity;
}

static void write_part(outdir_t *outdir, const char *name, const char *content)
{
    text_writer_t *writer = outdir_create_text(outdir, name, TEXT_PLAIN);
    CHECK(writer != NULL);
    text_writer_write(writer, content, strlen(content));
    CHECK_INT_EQ(outdir_commit_text(outdir, writer, name, 1), 0);
}

static void test_single_task(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/single", folder);
    outdir_identity_t identity = make_identity("aaaa", 0, 1);
    CHECK(!outdir_is_current(path, &identity));
    outdir_t *outdir = outdir_open(path, &identity);
    write_part(outdir, "part-0.txt", "hello\n");
    outdir_set_extra(outdir, "tokens", "42");
    CHECK_INT_EQ(outdir_finish(outdir), 0);
    CHECK(outdir_is_current(path, &identity));

    outdir_identity_t changed = make_identity("bbbb", 0, 1);
    CHECK(!outdir_is_current(path, &changed));

    cli_string_list_t names = {0};
    CHECK_INT_EQ(outdir_list_files(path, true, &names), 0);
    CHECK_INT_EQ(names.count, 1);
    cli_string_list_free(&names);
    char *extra = outdir_read_extra(path, "tokens");
    CHECK_STR_EQ(extra, "42");
    free(extra);

    /* A file changed after the manifest makes the folder stale. */
    char part[300];
    snprintf(part, sizeof part, "%s/part-0.txt", path);
    FILE *file = fopen(part, "a");
    fputs("more\n", file);
    fclose(file);
    CHECK(!outdir_is_current(path, &identity));
    CHECK_INT_EQ(outdir_list_files(path, false, &names), -1);
    cli_string_list_free(&names);
}

static void test_tasks_in_any_order(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/tasks", folder);
    char manifest[300];
    snprintf(manifest, sizeof manifest, "%s/%s", path, OUTDIR_MANIFEST_NAME);
    int order[3] = {2, 0, 1};
    for (int i = 0; i < 3; i++) {
        outdir_identity_t identity = make_identity("cccc", order[i], 3);
        outdir_t *outdir = outdir_open(path, &identity);
        char name[32];
        snprintf(name, sizeof name, "part-%d.txt", order[i]);
        write_part(outdir, name, "x\n");
        outdir_set_extra(outdir, "documents", "5");
        CHECK_INT_EQ(outdir_finish(outdir), 0);
        CHECK_INT_EQ(access(manifest, F_OK) == 0, i == 2);
        CHECK(outdir_is_current(path, &identity));
    }
    char *extra = outdir_read_extra(path, "documents");
    CHECK_STR_EQ(extra, "15");
    free(extra);
    cli_string_list_t names = {0};
    CHECK_INT_EQ(outdir_list_files(path, true, &names), 0);
    CHECK_INT_EQ(names.count, 3);
    cli_string_list_free(&names);
}

static void test_unfinished_folder_rejected(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/unfinished", folder);
    outdir_identity_t identity = make_identity("dddd", 0, 1);
    outdir_t *outdir = outdir_open(path, &identity);
    write_part(outdir, "part-0.txt", "x\n");
    outdir_abort(outdir);
    cli_string_list_t names = {0};
    CHECK_INT_EQ(outdir_list_files(path, false, &names), -1);
    CHECK(!outdir_is_current(path, &identity));
}

static void test_inputs_hash(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/input.txt", folder);
    FILE *file = fopen(path, "w");
    fputs("one", file);
    fclose(file);
    cli_string_list_t inputs = {0};
    cli_string_list_push(&inputs, path);
    char first[33], second[33], third[33];
    CHECK_INT_EQ(outdir_hash_inputs(&inputs, first), 0);
    CHECK_INT_EQ(outdir_hash_inputs(&inputs, second), 0);
    CHECK_STR_EQ(first, second);
    file = fopen(path, "w");
    fputs("two", file);
    fclose(file);
    CHECK_INT_EQ(outdir_hash_inputs(&inputs, third), 0);
    CHECK(strcmp(first, third) != 0);
    cli_string_list_push(&inputs, "/nonexistent/lmpipe-input");
    CHECK_INT_EQ(outdir_hash_inputs(&inputs, third), -1);
    cli_string_list_free(&inputs);
}

int main(void)
{
    CHECK(mkdtemp(folder) != NULL);
    test_single_task();
    test_tasks_in_any_order();
    test_unfinished_folder_rejected();
    test_inputs_hash();
    char command[300];
    snprintf(command, sizeof command, "rm -rf %s", folder);
    CHECK_INT_EQ(system(command), 0);
    return CHECK_DONE();
}
