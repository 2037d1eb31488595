/*
 * Option parsing, --help and settings files for every program (see cli.h).
 */
#include "cli.h"

#include <errno.h>
#include <ctype.h>
#include <float.h>
#include <jansson.h>
#include <libfyaml.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "log.h"
#include "lmpipe_version.h"

/* Strings the parser allocated, freed together by cli_free. */
static char **owned_strings;
static size_t owned_count;

static char *own_string(const char *text)
{
    char *copy = strdup(text);
    char **grown = realloc(owned_strings, (owned_count + 1) * sizeof *grown);
    if (!copy || !grown) {
        free(copy);
        return NULL;
    }
    owned_strings = grown;
    owned_strings[owned_count++] = copy;
    return copy;
}

void cli_string_list_push(cli_string_list_t *list, const char *item)
{
    char **grown = realloc(list->items, (list->count + 1) * sizeof *grown);
    char *copy = strdup(item);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            list->items = grown;
        log_error("out of memory while storing \"%s\"", item);
        return;
    }
    list->items = grown;
    list->items[list->count++] = copy;
}

void cli_string_list_free(cli_string_list_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free(list->items[i]);
    free(list->items);
    list->items = NULL;
    list->count = 0;
}

int cli_parse_int(const char *text, int64_t *out)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    long long value = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text)
        return -1;
    *out = value;
    return 0;
}

int cli_parse_double(const char *text, double *out)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    if (errno != 0 || *end != '\0' || end == text || !isfinite(value))
        return -1;
    *out = value;
    return 0;
}

/* Shared options, filled in for every program. Stage options only for stage programs. */
static int64_t verbosity_delta;
static cli_string_list_t config_paths;
static cli_string_list_t set_assignments;
static char *task_text;
static bool help_requested;
static bool version_requested;
static bool check_requested;
static bool list_settings_requested;

enum { SHARED_HELP = 1, SHARED_VERSION, SHARED_QUIET, SHARED_VERBOSE, SHARED_CONFIG,
       SHARED_SET, SHARED_INPUT, SHARED_OUTPUT, SHARED_STATS, SHARED_THREADS,
       SHARED_TASK, SHARED_FORCE, SHARED_CHECK, SHARED_LIST_SETTINGS };

typedef struct {
    const char *name;
    char short_name;
    int id;
    bool takes_value;
    bool stage_only;
    const char *hint;
    const char *help;
} shared_option_t;

static const shared_option_t shared_options[] = {
    {"input", 'i', SHARED_INPUT, true, true, "PATH",
     "input file, folder, glob or - for standard input (repeatable; also positional)"},
    {"output", 'o', SHARED_OUTPUT, true, true, "PATH", "output file, folder or - for standard output"},
    {"stats", 0, SHARED_STATS, true, true, "FILE", "write record counts and drop reasons as JSON"},
    {"threads", 0, SHARED_THREADS, true, true, "N", "worker threads"},
    {"task", 0, SHARED_TASK, true, true, "I/N",
     "process part I of N (I counted from 0); default from SLURM_ARRAY_TASK_ID"},
    {"force", 0, SHARED_FORCE, false, true, NULL, "rebuild the output even when it is up to date"},
    {"check", 0, SHARED_CHECK, false, true, NULL,
     "print \"current\" or \"stale: REASON\" for the output folder and exit without building"},
    {"list-settings", 0, SHARED_LIST_SETTINGS, false, false, NULL,
     "print the names of the settings, one per line, and exit"},
    {"config", 0, SHARED_CONFIG, true, false, "FILE", "read settings from a YAML mapping"},
    {"set", 0, SHARED_SET, true, false, "KEY=VALUE", "override one setting (repeatable)"},
    {"quiet", 'q', SHARED_QUIET, false, false, NULL, "log warnings and errors only (-qq: errors)"},
    {"verbose", 'v', SHARED_VERBOSE, false, false, NULL, "log debug messages"},
    {"help", 'h', SHARED_HELP, false, false, NULL, "print this help and exit"},
    {"version", 0, SHARED_VERSION, false, false, NULL, "print the version and exit"},
    {NULL, 0, 0, false, false, NULL, NULL},
};

/* Compares option names treating '-' and '_' alike, so YAML keys may use either. */
static bool names_equal(const char *a, const char *b, size_t b_length)
{
    size_t i = 0;
    for (; i < b_length && a[i]; i++) {
        char x = a[i] == '_' ? '-' : a[i];
        char y = b[i] == '_' ? '-' : b[i];
        if (x != y)
            return false;
    }
    return i == b_length && a[i] == '\0';
}

static cli_option_t *find_option(cli_program_t *program, const char *name, size_t length)
{
    for (cli_option_t *option = program->options; option && option->name; option++)
        if (names_equal(option->name, name, length))
            return option;
    return NULL;
}

static const shared_option_t *find_shared(const cli_program_t *program, const char *name,
                                          size_t length, char short_name)
{
    for (const shared_option_t *option = shared_options; option->name; option++) {
        if (option->stage_only && !program->stage)
            continue;
        if (short_name ? option->short_name == short_name
                       : names_equal(option->name, name, length))
            return option;
    }
    return NULL;
}

static bool bounds_apply(const cli_option_t *option)
{
    return option->min != option->max;
}

/* List options given by the user replace the default items instead of adding
 * to them; these are the lists already replaced in this run. */
static const cli_option_t **replaced_lists;
static size_t replaced_count;

static void clear_list_default(const cli_option_t *option)
{
    for (size_t i = 0; i < replaced_count; i++)
        if (replaced_lists[i] == option)
            return;
    const cli_option_t **grown = realloc(replaced_lists, (replaced_count + 1) * sizeof *grown);
    if (!grown)
        return;
    replaced_lists = grown;
    replaced_lists[replaced_count++] = option;
    cli_string_list_free(option->value);
}

/* Stores `text` into the option's variable; `origin` names where it came from. */
static int assign_value(cli_option_t *option, const char *text, const char *origin)
{
    switch (option->type) {
    case CLI_FLAG: {
        bool *flag = option->value;
        if (!text || strcmp(text, "true") == 0 || strcmp(text, "1") == 0 ||
            strcmp(text, "yes") == 0)
            *flag = true;
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0 || strcmp(text, "no") == 0)
            *flag = false;
        else {
            log_error("%s: invalid value \"%s\" for %s: expected true or false", origin, text,
                      option->name);
            return -1;
        }
        return 0;
    }
    case CLI_INT: {
        int64_t value;
        if (cli_parse_int(text, &value) != 0) {
            log_error("%s: invalid value \"%s\" for --%s: expected a whole number", origin, text,
                      option->name);
            return -1;
        }
        if (bounds_apply(option) && ((double)value < option->min || (double)value > option->max)) {
            log_error("%s: --%s %lld is out of range [%.0f, %.0f]", origin, option->name,
                      (long long)value, option->min, option->max);
            return -1;
        }
        *(int64_t *)option->value = value;
        return 0;
    }
    case CLI_DOUBLE: {
        double value;
        if (cli_parse_double(text, &value) != 0) {
            log_error("%s: invalid value \"%s\" for --%s: expected a number", origin, text,
                      option->name);
            return -1;
        }
        if (bounds_apply(option) && (value < option->min || value > option->max)) {
            log_error("%s: --%s %g is out of range [%g, %g]", origin, option->name, value,
                      option->min, option->max);
            return -1;
        }
        *(double *)option->value = value;
        return 0;
    }
    case CLI_STRING: {
        char *copy = own_string(text);
        if (!copy)
            return -1;
        *(char **)option->value = copy;
        return 0;
    }
    case CLI_STRING_LIST:
        clear_list_default(option);
        cli_string_list_push(option->value, text);
        return 0;
    }
    return -1;
}

int cli_set(cli_program_t *program, const char *assignment, const char *origin)
{
    const char *equals = strchr(assignment, '=');
    if (!equals || equals == assignment) {
        log_error("%s: invalid setting \"%s\": expected KEY=VALUE", origin, assignment);
        return -1;
    }
    cli_option_t *option = find_option(program, assignment, (size_t)(equals - assignment));
    if (!option || !(option->flags & CLI_SETTING)) {
        log_error("%s: unknown setting \"%.*s\" for %s (see %s --help)", origin,
                  (int)(equals - assignment), assignment, program->name, program->name);
        return -1;
    }
    return assign_value(option, equals + 1, origin);
}

/* Reads a YAML scalar or a sequence of scalars into one option. */
static int apply_yaml_value(cli_option_t *option, struct fy_node *value, const char *where)
{
    if (fy_node_is_sequence(value)) {
        if (option->type != CLI_STRING_LIST) {
            log_error("%s: setting %s takes one value, not a list", where, option->name);
            return -1;
        }
        clear_list_default(option);
        void *iterator = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(value, &iterator)) != NULL) {
            const char *text = fy_node_get_scalar0(item);
            if (!text) {
                log_error("%s: items of setting %s must be plain values", where, option->name);
                return -1;
            }
            cli_string_list_push(option->value, text);
        }
        return 0;
    }
    const char *text = fy_node_get_scalar0(value);
    if (!text) {
        log_error("%s: setting %s must be a plain value", where, option->name);
        return -1;
    }
    return assign_value(option, text, where);
}

int cli_load_config(cli_program_t *program, const char *path)
{
    /* Opened here first because libfyaml prints its own "[ERR]" line for a
     * file it cannot open, even with FYPCF_QUIET (seen with libfyaml 0.7.12). */
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        log_error("%s: cannot read the settings file given to --config: %s", path,
                  strerror(errno));
        return CLI_CONFIG_UNREADABLE;
    }
    fclose(probe);
    struct fy_parse_cfg config = {.flags = FYPCF_QUIET};
    struct fy_document *document = fy_document_build_from_file(&config, path);
    if (!document) {
        log_error("%s: the settings file is not valid YAML", path);
        return -1;
    }
    int status = 0;
    struct fy_node *root = fy_document_root(document);
    if (!root) {
        fy_document_destroy(document);
        return 0;
    }
    if (!fy_node_is_mapping(root)) {
        log_error("%s: expected a mapping of setting names to values", path);
        fy_document_destroy(document);
        return -1;
    }
    void *iterator = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(root, &iterator)) != NULL) {
        struct fy_node *key = fy_node_pair_key(pair);
        const char *name = fy_node_get_scalar0(key);
        struct fy_token *key_token = fy_node_get_scalar_token(key);
        const struct fy_mark *mark = key_token ? fy_token_start_mark(key_token) : NULL;
        char where[1100];
        snprintf(where, sizeof where, "%s:%d", path, mark ? mark->line + 1 : 0);
        cli_option_t *option = name ? find_option(program, name, strlen(name)) : NULL;
        if (!option || !(option->flags & CLI_SETTING)) {
            log_error("%s: unknown setting \"%s\" for %s (see %s --help)", where,
                      name ? name : "?", program->name, program->name);
            status = -1;
            continue;
        }
        if (apply_yaml_value(option, fy_node_pair_value(pair), where) != 0)
            status = -1;
    }
    fy_document_destroy(document);
    return status;
}

static void format_value(const cli_option_t *option, char *out, size_t size)
{
    switch (option->type) {
    case CLI_FLAG:
        snprintf(out, size, "%s", *(bool *)option->value ? "true" : "false");
        break;
    case CLI_INT:
        snprintf(out, size, "%lld", (long long)*(int64_t *)option->value);
        break;
    case CLI_DOUBLE: {
        /* The shortest text that reads back as the same double, so 6e-4
         * shows as 0.0006 and still hashes exactly. */
        double value = *(double *)option->value;
        for (int digits = 6; digits <= 17; digits++) {
            snprintf(out, size, "%.*g", digits, value);
            if (strtod(out, NULL) == value)
                break;
        }
        break;
    }
    case CLI_STRING: {
        const char *text = *(char **)option->value;
        snprintf(out, size, "%s", text ? text : "");
        break;
    }
    case CLI_STRING_LIST: {
        const cli_string_list_t *list = option->value;
        size_t used = 0;
        out[0] = '\0';
        for (size_t i = 0; i < list->count && used < size; i++)
            used += (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "",
                                     list->items[i]);
        break;
    }
    }
}

void cli_settings_hash(const cli_program_t *program, char out_hex[33])
{
    XXH3_state_t *state = XXH3_createState();
    XXH3_128bits_reset(state);
    XXH3_128bits_update(state, program->name, strlen(program->name) + 1);
    for (const cli_option_t *option = program->options; option && option->name; option++) {
        if (!(option->flags & CLI_SETTING))
            continue;
        XXH3_128bits_update(state, option->name, strlen(option->name) + 1);
        if (option->type == CLI_STRING_LIST) {
            /* Lists are hashed item by item so that no separator can collide. */
            const cli_string_list_t *list = option->value;
            for (size_t i = 0; i < list->count; i++)
                XXH3_128bits_update(state, list->items[i], strlen(list->items[i]) + 1);
            XXH3_128bits_update(state, "\x1e", 1);
            continue;
        }
        char value[4096];
        format_value(option, value, sizeof value);
        XXH3_128bits_update(state, value, strlen(value) + 1);
    }
    XXH128_hash_t hash = XXH3_128bits_digest(state);
    XXH3_freeState(state);
    snprintf(out_hex, 33, "%016llx%016llx", (unsigned long long)hash.high64,
             (unsigned long long)hash.low64);
}

char *cli_settings_json(const cli_program_t *program)
{
    json_t *object = json_object();
    for (const cli_option_t *option = program->options; option && option->name; option++) {
        if (!(option->flags & CLI_SETTING))
            continue;
        json_t *value = NULL;
        switch (option->type) {
        case CLI_FLAG:
            value = json_boolean(*(bool *)option->value);
            break;
        case CLI_INT:
            value = json_integer(*(int64_t *)option->value);
            break;
        case CLI_DOUBLE:
            value = json_real(*(double *)option->value);
            break;
        case CLI_STRING: {
            const char *text = *(char **)option->value;
            value = text ? json_string(text) : json_null();
            break;
        }
        case CLI_STRING_LIST: {
            const cli_string_list_t *list = option->value;
            value = json_array();
            for (size_t i = 0; i < list->count; i++)
                json_array_append_new(value, json_string(list->items[i]));
            break;
        }
        }
        json_object_set_new(object, option->name, value ? value : json_null());
    }
    char *text = json_dumps(object, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(object);
    return text;
}

static void print_option_line(const char *short_and_long, const char *help, const char *detail)
{
    printf("  %-30s %s%s\n", short_and_long, help, detail ? detail : "");
}

static void print_help(const cli_program_t *program)
{
    printf("%s - %s\n\nUsage: %s %s\n", program->name, program->summary, program->name,
           program->usage);
    if (program->options && program->options->name) {
        printf("\nOptions:\n");
        for (const cli_option_t *option = program->options; option->name; option++) {
            char names[128], value[256], detail[512];
            snprintf(names, sizeof names, "%s%c%s--%s%s%s", option->short_name ? "-" : "",
                     option->short_name ? option->short_name : ' ',
                     option->short_name ? ", " : "   ", option->name,
                     option->type == CLI_FLAG ? "" : " ",
                     option->type == CLI_FLAG ? "" : (option->hint ? option->hint : "VALUE"));
            if (!option->short_name)
                memmove(names, names + 2, strlen(names + 2) + 1);
            format_value(option, value, sizeof value);
            detail[0] = '\0';
            if (option->unit)
                snprintf(detail, sizeof detail, " (%s)", option->unit);
            if (option->type != CLI_FLAG && value[0]) {
                size_t used = strlen(detail);
                snprintf(detail + used, sizeof detail - used, " [default: %s]", value);
            }
            print_option_line(names, option->help, detail);
        }
    }
    printf("\nCommon options:\n");
    for (const shared_option_t *option = shared_options; option->name; option++) {
        if (option->stage_only && !program->stage)
            continue;
        char names[128];
        if (option->short_name)
            snprintf(names, sizeof names, "-%c, --%s%s%s", option->short_name, option->name,
                     option->takes_value ? " " : "", option->takes_value ? option->hint : "");
        else
            snprintf(names, sizeof names, "--%s%s%s", option->name,
                     option->takes_value ? " " : "", option->takes_value ? option->hint : "");
        print_option_line(names, option->help, NULL);
    }
    printf("\nSettings (options marked as such in the program's table) may also come from\n"
           "--config FILE (a YAML mapping) and --set KEY=VALUE; command-line values win.\n");
    if (program->description)
        printf("\n%s\n", program->description);
}

/* Parses "I/N" with 0 <= I < N. */
static int parse_task(const char *text, int64_t *index, int64_t *count)
{
    const char *slash = text ? strchr(text, '/') : NULL;
    if (!slash)
        return -1;
    char index_text[32];
    size_t length = (size_t)(slash - text);
    if (length == 0 || length >= sizeof index_text)
        return -1;
    memcpy(index_text, text, length);
    index_text[length] = '\0';
    if (cli_parse_int(index_text, index) != 0 || cli_parse_int(slash + 1, count) != 0)
        return -1;
    return (*count >= 1 && *index >= 0 && *index < *count) ? 0 : -1;
}

/* Applies a shared option. Returns 0 or CLI_USAGE_ERROR. */
static int apply_shared(cli_program_t *program, const shared_option_t *option, const char *value)
{
    cli_stage_t *stage = program->stage;
    switch (option->id) {
    case SHARED_HELP:
        help_requested = true;
        break;
    case SHARED_VERSION:
        version_requested = true;
        break;
    case SHARED_QUIET:
        verbosity_delta--;
        break;
    case SHARED_VERBOSE:
        verbosity_delta++;
        break;
    case SHARED_CONFIG:
        cli_string_list_push(&config_paths, value);
        break;
    case SHARED_SET:
        cli_string_list_push(&set_assignments, value);
        break;
    case SHARED_INPUT:
        cli_string_list_push(&stage->inputs, value);
        break;
    case SHARED_OUTPUT:
        stage->output = own_string(value);
        break;
    case SHARED_STATS:
        stage->stats_path = own_string(value);
        break;
    case SHARED_THREADS:
        if (cli_parse_int(value, &stage->threads) != 0 || stage->threads < 1 ||
            stage->threads > 4096) {
            log_error("invalid value \"%s\" for --threads: expected a whole number from 1 to 4096",
                      value);
            return CLI_USAGE_ERROR;
        }
        break;
    case SHARED_TASK:
        task_text = own_string(value);
        if (parse_task(value, &stage->task_index, &stage->task_count) != 0) {
            log_error("invalid value \"%s\" for --task: expected I/N with 0 <= I < N", value);
            return CLI_USAGE_ERROR;
        }
        break;
    case SHARED_FORCE:
        stage->force = true;
        break;
    case SHARED_CHECK:
        check_requested = true;
        break;
    case SHARED_LIST_SETTINGS:
        list_settings_requested = true;
        break;
    }
    return 0;
}

int cli_exit_status(int parsed)
{
    if (parsed == CLI_CONTINUE || parsed == CLI_EXIT_OK)
        return 0;
    return parsed == CLI_FAILED ? 1 : 2;
}

static int usage_error(const cli_program_t *program)
{
    fprintf(stderr, "Run '%s --help' for usage.\n", program->name);
    return CLI_USAGE_ERROR;
}

/* Takes the task from a Slurm job array when --task was not given. */
static int task_from_environment(cli_stage_t *stage)
{
    const char *id = getenv("SLURM_ARRAY_TASK_ID");
    const char *count = getenv("SLURM_ARRAY_TASK_COUNT");
    const char *min = getenv("SLURM_ARRAY_TASK_MIN");
    if (!id || !count)
        return 0;
    int64_t task_id, task_count, task_min = 0;
    if (cli_parse_int(id, &task_id) != 0 || cli_parse_int(count, &task_count) != 0 ||
        (min && cli_parse_int(min, &task_min) != 0) || task_count < 1 ||
        task_id - task_min < 0 || task_id - task_min >= task_count) {
        log_error("invalid Slurm array variables SLURM_ARRAY_TASK_ID=%s "
                  "SLURM_ARRAY_TASK_COUNT=%s: pass --task I/N instead", id, count);
        return -1;
    }
    stage->task_index = task_id - task_min;
    stage->task_count = task_count;
    return 0;
}

/* One argument: returns the number of argv entries consumed, or -1 on error. */
static int parse_one(cli_program_t *program, int argc, char **argv, int index,
                     bool *options_ended)
{
    const char *arg = argv[index];
    if (*options_ended || arg[0] != '-' || strcmp(arg, "-") == 0) {
        if (program->stage) {
            cli_string_list_push(&program->stage->inputs, arg);
            return 1;
        }
        log_error("unexpected argument \"%s\"", arg);
        return -1;
    }
    if (strcmp(arg, "--") == 0) {
        *options_ended = true;
        return 1;
    }

    const char *name;
    size_t name_length;
    const char *inline_value = NULL;
    char short_name = 0;
    if (arg[1] == '-') {
        name = arg + 2;
        const char *equals = strchr(name, '=');
        name_length = equals ? (size_t)(equals - name) : strlen(name);
        inline_value = equals ? equals + 1 : NULL;
    } else {
        name = arg + 1;
        name_length = 1;
        short_name = arg[1];
        if (arg[2])
            inline_value = arg + 2;
    }

    cli_option_t *option = NULL;
    const shared_option_t *shared = NULL;
    if (short_name) {
        for (cli_option_t *o = program->options; o && o->name; o++)
            if (o->short_name == short_name)
                option = o;
    } else {
        option = find_option(program, name, name_length);
    }
    if (!option)
        shared = find_shared(program, name, name_length, short_name);
    if (!option && !shared) {
        log_error("unknown option \"%s\"", arg);
        return -1;
    }

    bool takes_value = option ? option->type != CLI_FLAG : shared->takes_value;
    if (short_name && inline_value && !takes_value) {
        /* Bundled flags such as -qq or -vv. */
        if (shared && (shared->id == SHARED_QUIET || shared->id == SHARED_VERBOSE)) {
            for (const char *c = arg + 1; *c; c++) {
                if (*c != short_name) {
                    log_error("unknown option \"%s\"", arg);
                    return -1;
                }
                apply_shared(program, shared, NULL);
            }
            return 1;
        }
        log_error("option -%c takes no value: \"%s\"", short_name, arg);
        return -1;
    }
    const char *value = inline_value;
    int consumed = 1;
    if (takes_value && !value) {
        if (index + 1 >= argc) {
            log_error("option \"%s\" needs a value", arg);
            return -1;
        }
        value = argv[index + 1];
        consumed = 2;
    }
    if (!takes_value && inline_value && !short_name) {
        if (option) {
            char origin[256];
            snprintf(origin, sizeof origin, "option --%s", option->name);
            return assign_value(option, inline_value, origin) == 0 ? 1 : -1;
        }
        log_error("option --%.*s takes no value", (int)name_length, name);
        return -1;
    }
    if (option) {
        char origin[256];
        snprintf(origin, sizeof origin, "option --%s", option->name);
        return assign_value(option, value, origin) == 0 ? consumed : -1;
    }
    return apply_shared(program, shared, value) == 0 ? consumed : -1;
}

int cli_parse(cli_program_t *program, int argc, char **argv)
{
    log_init(program->name);
    if (program->stage) {
        cli_stage_t *stage = program->stage;
        if (stage->threads <= 0)
            stage->threads = 1;
        if (stage->task_count <= 0) {
            stage->task_index = 0;
            stage->task_count = 1;
        }
    }

    /* First pass: collect everything; settings files are applied before the
     * command-line values, so options are parsed twice. */
    bool options_ended = false;
    int index = 1;
    while (index < argc) {
        const char *arg = argv[index];
        if (!options_ended && (strcmp(arg, "--config") == 0 || strncmp(arg, "--config=", 9) == 0)) {
            const char *value = arg[8] == '=' ? arg + 9 : (index + 1 < argc ? argv[index + 1] : NULL);
            if (!value) {
                log_error("option \"--config\" needs a value");
                return usage_error(program);
            }
            int loaded = cli_load_config(program, value);
            if (loaded == CLI_CONFIG_UNREADABLE)
                return CLI_FAILED;
            if (loaded != 0)
                return usage_error(program);
            index += arg[8] == '=' ? 1 : 2;
            continue;
        }
        if (strcmp(arg, "--") == 0)
            options_ended = true;
        index++;
    }

    /* Lists given on the command line replace those from settings files. */
    replaced_count = 0;
    options_ended = false;
    index = 1;
    while (index < argc) {
        const char *arg = argv[index];
        if (!options_ended && (strcmp(arg, "--config") == 0 || strncmp(arg, "--config=", 9) == 0)) {
            index += arg[8] == '=' ? 1 : 2;
            continue;
        }
        int consumed = parse_one(program, argc, argv, index, &options_ended);
        if (consumed < 0)
            return usage_error(program);
        index += consumed;
    }

    for (size_t i = 0; i < set_assignments.count; i++)
        if (cli_set(program, set_assignments.items[i], "option --set") != 0)
            return usage_error(program);

    int level = LOG_LEVEL_INFO + (int)verbosity_delta;
    log_set_level(level < LOG_LEVEL_ERROR ? LOG_LEVEL_ERROR
                  : level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : (log_level_t)level);

    if (help_requested) {
        print_help(program);
        return CLI_EXIT_OK;
    }
    if (version_requested) {
        printf("%s (lmpipe) %s\n", program->name, LMPIPE_VERSION);
        return CLI_EXIT_OK;
    }
    if (list_settings_requested) {
        for (const cli_option_t *option = program->options; option && option->name; option++)
            if (option->flags & CLI_SETTING)
                printf("%s\n", option->name);
        return CLI_EXIT_OK;
    }
    if (program->stage && !task_text && task_from_environment(program->stage) != 0)
        return usage_error(program);
    return CLI_CONTINUE;
}

bool cli_check_only(void)
{
    return check_requested;
}

void cli_free(cli_program_t *program)
{
    for (cli_option_t *option = program->options; option && option->name; option++)
        if (option->type == CLI_STRING_LIST)
            cli_string_list_free(option->value);
    if (program->stage)
        cli_string_list_free(&program->stage->inputs);
    cli_string_list_free(&config_paths);
    cli_string_list_free(&set_assignments);
    free(replaced_lists);
    replaced_lists = NULL;
    replaced_count = 0;
    for (size_t i = 0; i < owned_count; i++)
        free(owned_strings[i]);
    free(owned_strings);
    owned_strings = NULL;
    owned_count = 0;
}
