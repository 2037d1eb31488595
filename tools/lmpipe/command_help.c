/*
 * Option parsing for lmpipe's own commands (see command_help.h). The help
 * has the layout of cli_parse's help, from the same option table.
 */
#include "command_help.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The shared options of cli_parse that lmpipe's commands take. */
static const struct {
    const char *names;
    const char *help;
} common_options[] = {
    {"-q, --quiet", "log warnings and errors only (-qq: errors)"},
    {"-v, --verbose", "log debug messages"},
    {"-h, --help", "print this help and exit"},
    {"--version", "print the version and exit"},
    {NULL, NULL},
};

/* The shared options of cli_parse that only programs with settings have. */
static const char *const settings_options[] = {"config", "set", "list-settings", NULL};

/* Writes an option's default as --help shows it, or "" when it has none. */
static void format_default(const cli_option_t *option, char *out, size_t size)
{
    out[0] = '\0';
    if (option->type == CLI_INT)
        snprintf(out, size, "%lld", (long long)*(int64_t *)option->value);
    else if (option->type == CLI_DOUBLE)
        /* The shortest text that reads back as the same value, as cli_parse's help shows it. */
        for (int digits = 6; digits <= 17; digits++) {
            snprintf(out, size, "%.*g", digits, *(double *)option->value);
            if (strtod(out, NULL) == *(double *)option->value)
                break;
        }
    else if (option->type == CLI_STRING && *(char **)option->value)
        snprintf(out, size, "%s", *(char **)option->value);
}

static void print_option(const cli_option_t *option)
{
    char names[128], value[256], detail[512];
    const char *hint = "";
    if (option->type != CLI_FLAG)
        hint = option->hint ? option->hint : "VALUE";
    if (option->short_name)
        snprintf(names, sizeof names, "-%c, --%s%s%s", option->short_name, option->name,
                 hint[0] ? " " : "", hint);
    else
        snprintf(names, sizeof names, "  --%s%s%s", option->name, hint[0] ? " " : "", hint);
    detail[0] = '\0';
    if (option->unit)
        snprintf(detail, sizeof detail, " (%s)", option->unit);
    format_default(option, value, sizeof value);
    if (value[0]) {
        size_t used = strlen(detail);
        snprintf(detail + used, sizeof detail - used, " [default: %s]", value);
    }
    printf("  %-30s %s%s\n", names, option->help, detail);
}

static void print_command_help(const cli_program_t *program)
{
    printf("%s - %s\n\nUsage: %s %s\n", program->name, program->summary, program->name,
           program->usage);
    if (program->options && program->options->name) {
        printf("\nOptions:\n");
        for (const cli_option_t *option = program->options; option->name; option++)
            print_option(option);
    }
    printf("\nCommon options:\n");
    for (size_t i = 0; common_options[i].names; i++)
        printf("  %-30s %s\n", common_options[i].names, common_options[i].help);
    if (program->description)
        printf("\n%s\n", program->description);
}

/* Returns true when `arg` names long option `name` ("--name" or "--name=VALUE"),
 * with '_' read as '-' as cli_parse reads it. */
static bool names_option(const char *arg, const char *name)
{
    if (strncmp(arg, "--", 2) != 0)
        return false;
    const char *c = arg + 2;
    for (; *name; c++, name++)
        if (*c != *name && !(*c == '_' && *name == '-'))
            return false;
    return *c == '\0' || *c == '=';
}

/* Returns true when the option in `arg` is in the table and takes a separate value. */
static bool takes_next_value(const cli_program_t *program, const char *arg)
{
    for (const cli_option_t *option = program->options; option && option->name; option++) {
        bool named = (arg[1] == option->short_name && arg[2] == '\0' && option->short_name) ||
                     (strncmp(arg, "--", 2) == 0 && strcmp(arg + 2, option->name) == 0);
        if (named)
            return option->type != CLI_FLAG;
    }
    return false;
}

int command_parse(cli_program_t *program, int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_command_help(program);
            return CLI_EXIT_OK;
        }
        for (size_t k = 0; settings_options[k]; k++) {
            if (names_option(arg, settings_options[k])) {
                log_error("option --%s: %s has no settings; give a stage's settings under "
                          "settings: in the pipeline file, or run the stage program itself "
                          "with --%s", settings_options[k], program->name, settings_options[k]);
                fprintf(stderr, "Run '%s --help' for usage.\n", program->name);
                return CLI_USAGE_ERROR;
            }
        }
        if (takes_next_value(program, arg))
            i++;
    }
    return cli_parse(program, argc, argv);
}
