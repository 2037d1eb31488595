/*
 * Tests option parsing, settings files, --set and the settings hash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "cli.h"

static int64_t min_chars;
static double ratio;
static bool lowercase;
static char *label;
static cli_string_list_t tokens;
static cli_stage_t stage;

static cli_option_t options[] = {
    {"min-chars", 'm', CLI_INT, &min_chars, "N", "characters", "minimum length", CLI_SETTING, 0, 1e6},
    {"ratio", 0, CLI_DOUBLE, &ratio, "R", NULL, "a ratio", CLI_SETTING, 0, 1},
    {"lowercase", 0, CLI_FLAG, &lowercase, NULL, NULL, "fold case", CLI_SETTING, 0, 0},
    {"label", 0, CLI_STRING, &label, "TEXT", NULL, "a label", 0, 0, 0},
    {"token", 0, CLI_STRING_LIST, &tokens, "T", NULL, "tokens", CLI_SETTING, 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, 0},
};

static cli_program_t program = {
    .name = "test-cli", .summary = "test", .usage = "[options] INPUT...",
    .options = options, .stage = &stage,
};

static void reset(void)
{
    cli_free(&program);
    min_chars = 200;
    ratio = 0.5;
    lowercase = false;
    label = "default";
    tokens = (cli_string_list_t){0};
    cli_string_list_push(&tokens, "<|endoftext|>");
    stage = (cli_stage_t){0};
}

static int parse(int argc, char **argv)
{
    reset();
    return cli_parse(&program, argc, argv);
}

static void test_parse_values(void)
{
    char *argv[] = {"test-cli", "--min-chars", "50", "--ratio=0.25", "--lowercase", "-o", "out",
                    "in1", "-i", "in2", "--task", "1/4", "--threads", "3", NULL};
    CHECK_INT_EQ(parse(14, argv), CLI_CONTINUE);
    CHECK_INT_EQ(min_chars, 50);
    CHECK_NEAR(ratio, 0.25, 0);
    CHECK(lowercase);
    CHECK_STR_EQ(stage.output, "out");
    CHECK_INT_EQ(stage.inputs.count, 2);
    CHECK_STR_EQ(stage.inputs.items[0], "in1");
    CHECK_INT_EQ(stage.task_index, 1);
    CHECK_INT_EQ(stage.task_count, 4);
    CHECK_INT_EQ(stage.threads, 3);
}

static void test_strict_numbers(void)
{
    char *junk[] = {"test-cli", "--min-chars", "12x", NULL};
    CHECK_INT_EQ(parse(3, junk), CLI_USAGE_ERROR);
    char *range[] = {"test-cli", "--ratio", "1.5", NULL};
    CHECK_INT_EQ(parse(3, range), CLI_USAGE_ERROR);
    char *task[] = {"test-cli", "--task", "4/4", NULL};
    CHECK_INT_EQ(parse(3, task), CLI_USAGE_ERROR);
    char *unknown[] = {"test-cli", "--no-such-option", NULL};
    CHECK_INT_EQ(parse(2, unknown), CLI_USAGE_ERROR);
    char *missing[] = {"test-cli", "--min-chars", NULL};
    CHECK_INT_EQ(parse(2, missing), CLI_USAGE_ERROR);
}

static void test_config_and_set(void)
{
    char path[] = "/tmp/lmpipe-test-cli-XXXXXX";
    int fd = mkstemp(path);
    FILE *file = fdopen(fd, "w");
    fputs("min_chars: 7\nratio: 0.75\ntoken: [a, b]\n", file);
    fclose(file);
    /* The command line wins over the file whatever the order. */
    char *argv[] = {"test-cli", "--set", "ratio=0.125", "--config", path, NULL};
    CHECK_INT_EQ(parse(5, argv), CLI_CONTINUE);
    CHECK_INT_EQ(min_chars, 7);
    CHECK_NEAR(ratio, 0.125, 0);
    CHECK_INT_EQ(tokens.count, 2);
    CHECK_STR_EQ(tokens.items[0], "a");

    file = fopen(path, "w");
    fputs("min_chars: 7\nno_such_setting: 1\n", file);
    fclose(file);
    CHECK_INT_EQ(parse(5, argv), CLI_USAGE_ERROR);
    unlink(path);

    char *bad_set[] = {"test-cli", "--set", "label=x", NULL};
    CHECK_INT_EQ(parse(3, bad_set), CLI_USAGE_ERROR); /* label is not a setting */
}

static void test_settings_hash(void)
{
    char first[33], second[33], third[33];
    char *a[] = {"test-cli", "--min-chars", "10", "--label", "one", NULL};
    parse(5, a);
    cli_settings_hash(&program, first);
    char *b[] = {"test-cli", "--label", "two", "--min-chars", "10", NULL};
    parse(5, b);
    cli_settings_hash(&program, second);
    char *c[] = {"test-cli", "--min-chars", "11", NULL};
    parse(3, c);
    cli_settings_hash(&program, third);
    CHECK_STR_EQ(first, second); /* label is not a setting */
    CHECK(strcmp(first, third) != 0);
    char *json = cli_settings_json(&program);
    CHECK(json && strstr(json, "\"min-chars\":11") != NULL);
    free(json);
}

int main(void)
{
    test_parse_values();
    test_strict_numbers();
    test_config_and_set();
    test_settings_hash();
    cli_free(&program);
    return CHECK_DONE();
}
