/*
 * Unit tests of common/pipeline.c: loading, validation messages with the
 * file and line, reference resolution, and the command line of a stage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "pipeline.h"

static char folder[] = "/tmp/pipeline-test.XXXXXX";

/* Writes `text` to FOLDER/name and returns the path (static buffer). */
static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *file = fopen(path, "w");
    if (!file) {
        perror(path);
        exit(1);
    }
    fputs(text, file);
    fclose(file);
    return path;
}

/* Loads a pipeline while capturing stderr into `errors`; returns pipeline_load's result. */
static int load_capturing(const char *path, pipeline_t *pipeline, char *errors, size_t size)
{
    char capture[512];
    snprintf(capture, sizeof capture, "%s/stderr.txt", folder);
    fflush(stderr);
    int saved = dup(2);
    if (!freopen(capture, "w", stderr))
        exit(1);
    int result = pipeline_load(path, NULL, pipeline);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *file = fopen(capture, "r");
    size_t length = file ? fread(errors, 1, size - 1, file) : 0;
    errors[length] = '\0';
    if (file)
        fclose(file);
    return result;
}

static const char valid_pipeline[] =
    "run-dir: out/run\n"
    "stages:\n"
    "  - name: ingest\n"
    "    program: crawl-ingest\n"
    "    inputs: [/tmp]\n"
    "  - name: clean\n"
    "    program: clean\n"
    "    inputs: ingest\n"
    "    settings:\n"
    "      min-chars: 200\n"
    "      langs: [en, zh]\n"
    "      note: two words\n"
    "  - name: sample\n"
    "    program: generate\n"
    "    output: none\n"
    "    stats: false\n"
    "    args: [--checkpoint, '${clean}/final', --prompt, \"Debian 是\"]\n"
    "    stdout: ${run-dir}/sample.txt\n"
    "summary:\n"
    "  - ${run-dir}/sample.txt\n"
    "  - {file: '${clean}/metrics.json', keys: [val_loss]}\n";

static void test_valid_pipeline(void)
{
    pipeline_t pipeline;
    const char *path = write_file("valid.yaml", valid_pipeline);
    if (pipeline_load(path, NULL, &pipeline) != 0) {
        CHECK(!"valid.yaml loads");
        return;
    }
    CHECK_STR_EQ(pipeline.run_dir, "out/run");
    CHECK_INT_EQ(pipeline.stage_count, 3);
    CHECK_INT_EQ(pipeline.stages[1].line, 6);
    CHECK_STR_EQ(pipeline.stages[0].output, "out/run/ingest");
    CHECK_STR_EQ(pipeline.stages[1].inputs.items[0], "out/run/ingest");
    CHECK_INT_EQ(pipeline.stages[1].settings.count, 4);
    CHECK_STR_EQ(pipeline.stages[1].settings.items[1], "langs=en");
    CHECK_STR_EQ(pipeline.stages[1].settings.items[2], "langs=zh");
    CHECK(pipeline.stages[2].output == NULL);
    CHECK(pipeline.stages[2].stats_path == NULL);
    CHECK_STR_EQ(pipeline.stages[2].args.items[1], "out/run/clean/final");
    CHECK_STR_EQ(pipeline.stages[2].stdout_path, "out/run/sample.txt");
    CHECK_INT_EQ(pipeline.summary_count, 2);
    CHECK_STR_EQ(pipeline.summary[1].file, "out/run/clean/metrics.json");
    CHECK_STR_EQ(pipeline.summary[1].keys.items[0], "val_loss");

    cli_string_list_t argv = {0};
    pipeline_stage_arguments(&pipeline, 1, true, &argv);
    char *command = pipeline_format_command(&pipeline.stages[1], &argv);
    CHECK_STR_EQ(command, "lmpipe clean out/run/ingest -o out/run/clean --set min-chars=200 "
                          "--set langs=en --set langs=zh --set 'note=two words' "
                          "--stats out/run/clean.stats.json --force");
    free(command);
    cli_string_list_free(&argv);

    pipeline_stage_arguments(&pipeline, 2, false, &argv);
    command = pipeline_format_command(&pipeline.stages[2], &argv);
    CHECK_STR_EQ(command, "lmpipe generate --checkpoint out/run/clean/final --prompt "
                          "'Debian 是' > out/run/sample.txt");
    free(command);
    cli_string_list_free(&argv);
    pipeline_free(&pipeline);

    /* --run-dir replaces the file's run-dir in every derived path. */
    CHECK_INT_EQ(pipeline_load(path, "/tmp/other", &pipeline), 0);
    CHECK_STR_EQ(pipeline.stages[1].inputs.items[0], "/tmp/other/ingest");
    CHECK_STR_EQ(pipeline.stages[2].stdout_path, "/tmp/other/sample.txt");
    pipeline_free(&pipeline);
}

/* Stages may refer to later stages; the order puts every stage after its inputs. */
static void test_dependency_order(void)
{
    pipeline_t pipeline;
    const char *path = write_file("order.yaml",
        "run-dir: r\n"
        "stages:\n"
        "  - {name: shard, program: shard, inputs: [dedup], args: [-t, '${bpe}/t.json']}\n"
        "  - {name: bpe, program: bpe-train, inputs: [dedup]}\n"
        "  - {name: dedup, program: dedup, inputs: ['-']}\n"
        "  - {name: other, program: clean, inputs: ['r/dedup/part-0.jsonl'], tasks: 3,\n"
        "     resources: {cpus: 2, memory: 4G, gpus: 1, time: '1-02:00:00'}}\n");
    if (pipeline_load(path, NULL, &pipeline) != 0) {
        CHECK(!"order.yaml loads");
        return;
    }
    CHECK_INT_EQ(pipeline.order[0], 2);
    CHECK_INT_EQ(pipeline.order[1], 1);
    CHECK_INT_EQ(pipeline.order[2], 0);
    CHECK_INT_EQ(pipeline.order[3], 3);
    CHECK_INT_EQ(pipeline.stages[0].depend_count, 2);
    CHECK(pipeline_depends_on(&pipeline, 0, 2));
    CHECK(pipeline_depends_on(&pipeline, 0, 1));
    CHECK(!pipeline_depends_on(&pipeline, 1, 0));
    /* A literal path inside another stage's folder is a dependency too. */
    CHECK(pipeline_depends_on(&pipeline, 3, 2));
    CHECK_INT_EQ(pipeline.stages[3].tasks, 3);
    CHECK_INT_EQ(pipeline.stages[0].tasks, 1);
    CHECK_INT_EQ(pipeline.stages[3].resources.cpus, 2);
    CHECK_INT_EQ(pipeline.stages[3].resources.gpus, 1);
    CHECK_STR_EQ(pipeline.stages[3].resources.memory, "4G");
    CHECK_STR_EQ(pipeline.stages[3].resources.time, "1-02:00:00");
    pipeline_free(&pipeline);
}

static void test_default_run_dir(void)
{
    pipeline_t pipeline;
    const char *path = write_file("demo-x.yml", "stages:\n  - {name: a, program: clean, "
                                                "inputs: ['-']}\n");
    if (pipeline_load(path, NULL, &pipeline) != 0) {
        CHECK(!"demo-x.yml loads");
        return;
    }
    CHECK_STR_EQ(pipeline.run_dir, "runs/demo-x");
    CHECK_STR_EQ(pipeline.stages[0].output, "runs/demo-x/a");
    pipeline_free(&pipeline);
}

/* Each invalid pipeline must fail with a message containing `expected` (file:line). */
static void check_invalid(const char *name, const char *text, const char *expected)
{
    char errors[4096];
    pipeline_t pipeline;
    const char *path = write_file(name, text);
    char expected_with_path[1024];
    snprintf(expected_with_path, sizeof expected_with_path, "%s%s", path, expected);
    int result = load_capturing(path, &pipeline, errors, sizeof errors);
    pipeline_free(&pipeline);
    CHECK_INT_EQ(result, -1);
    if (!strstr(errors, expected_with_path)) {
        fprintf(stderr, "%s: expected \"%s\" in:\n%s\n", name, expected_with_path, errors);
        CHECK(strstr(errors, expected_with_path) != NULL);
    }
}

static void test_invalid_pipelines(void)
{
    check_invalid("program.yaml", "stages:\n  - name: a\n    program: nope\n",
                  ":3: unknown program \"nope\"");
    check_invalid("duplicate.yaml",
                  "stages:\n  - {name: a, program: clean}\n  - {name: a, program: dedup}\n",
                  ":3: duplicate stage name \"a\" (first used on line 2)");
    check_invalid("cycle.yaml",
                  "stages:\n  - name: a\n    program: clean\n    inputs: [c]\n"
                  "  - {name: b, program: dedup, inputs: [a]}\n"
                  "  - {name: c, program: dedup, inputs: ['${b}/part']}\n",
                  ":2: stages form a dependency cycle: a (line 2) -> c (line 6) -> "
                  "b (line 5) -> a");
    check_invalid("self.yaml", "stages:\n  - {name: a, program: clean, inputs: [a]}\n",
                  ":2: stage \"a\" lists itself as an input");
    check_invalid("reference.yaml",
                  "stages:\n  - name: a\n    program: train\n    args: [--x, '${nothing}/f']\n",
                  ":4: \"${nothing}\" names no stage");
    check_invalid("self-reference.yaml",
                  "stages:\n  - name: a\n    program: train\n    args: ['${a}/x']\n",
                  ":4: \"${a}\" refers to the stage itself");
    check_invalid("output-reference.yaml",
                  "stages:\n  - {name: a, program: clean, inputs: ['-']}\n"
                  "  - name: b\n    program: dedup\n    output: '${a}/x'\n",
                  ":5: output may use \"${run-dir}\" but not \"${a}\"");
    check_invalid("missing-path.yaml",
                  "stages:\n  - name: a\n    program: clean\n    inputs: [no/such/file.jsonl]\n",
                  ":4: input \"no/such/file.jsonl\" does not exist");
    check_invalid("empty-glob.yaml",
                  "stages:\n  - name: a\n    program: clean\n    inputs: ['/nonexistent-*/x']\n",
                  ":4: input glob \"/nonexistent-*/x\" matches no file");
    check_invalid("tasks.yaml",
                  "stages:\n  - name: a\n    program: clean\n    inputs: ['-']\n    tasks: 0\n",
                  ":5: tasks must be a whole number of at least 1, not \"0\"");
    check_invalid("tasks-stdout.yaml",
                  "stages:\n  - name: a\n    program: generate\n    stdout: x.txt\n"
                  "    tasks: 2\n", ":5: a stage with \"stdout\" runs as one task");
    check_invalid("memory.yaml",
                  "stages:\n  - name: a\n    program: train\n    resources:\n"
                  "      memory: lots\n", ":5: resources memory must be a size");
    check_invalid("resource-key.yaml",
                  "stages:\n  - name: a\n    program: train\n    resources: {disks: 2}\n",
                  ":4: unknown resource \"disks\"");
    check_invalid("typo.yaml", "stages:\n  - name: a\n    program: clean\n    inptus: [x]\n",
                  ":4: unknown stage key \"inptus\"");
    check_invalid("missing-input.yaml",
                  "stages:\n  - name: a\n    program: clean\n    inputs: [ingest]\n",
                  ":4: input \"ingest\" is neither a stage");
    check_invalid("syntax.yaml", "stages:\n  - name: a\n   program: [clean\n",
                  ":3:");
    check_invalid("empty.yaml", "stages: []\n", ":1: stages must be a non-empty list");
    check_invalid("blank.yaml", "", ": contains no YAML document");
    check_invalid("list.yaml", "- a\n- b\n", ":1: a pipeline file must be a mapping");
}

static void test_missing_file(void)
{
    char errors[4096];
    pipeline_t pipeline;
    char path[512];
    snprintf(path, sizeof path, "%s/does-not-exist.yaml", folder);
    CHECK_INT_EQ(load_capturing(path, &pipeline, errors, sizeof errors), -1);
    pipeline_free(&pipeline);
    CHECK(strstr(errors, "does-not-exist.yaml: failed to open the pipeline file") != NULL);
}

static void test_shell_quote(void)
{
    const char *cases[][2] = {
        {"plain/path-1.json", "plain/path-1.json"},
        {"two words", "'two words'"},
        {"it's", "'it'\\''s'"},
        {"", "''"},
        {"中文", "'中文'"},
        {"$HOME", "'$HOME'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *quoted = pipeline_shell_quote(cases[i][0]);
        CHECK_STR_EQ(quoted, cases[i][1]);
        free(quoted);
    }
}

int main(void)
{
    log_init("pipeline_test");
    if (!mkdtemp(folder)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid_pipeline();
    test_default_run_dir();
    test_dependency_order();
    test_invalid_pipelines();
    test_missing_file();
    test_shell_quote();

    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", folder);
    if (system(command) != 0)
        fprintf(stderr, "could not remove %s\n", folder);
    return CHECK_DONE();
}
