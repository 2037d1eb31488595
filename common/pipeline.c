/*
 * Pipeline files (see pipeline.h): loading with libfyaml, validation with
 * file:line messages, and the command line of each stage.
 *
 * Loading runs in three passes over the stage list. The first records every
 * stage's name, program and line, the second its output folder, so that the
 * third can resolve a reference to any stage, earlier or later, and record it
 * as a dependency. A depth-first search over the dependencies then rejects
 * cycles and yields the run order.
 */
#include "pipeline.h"

#include <errno.h>
#include <glob.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

static const char *const program_names[] = {
    "crawl-ingest", "clean", "dedup", "bpe-train", "tokenize", "shard", "train",
    "reward-model", "ppo", "distill", "quantize", "prune", "evaluate", "generate",
    "serve", NULL,
};

const char *const *pipeline_program_names(void)
{
    return program_names;
}

bool pipeline_is_known_program(const char *name)
{
    for (const char *const *known = program_names; *known; known++)
        if (strcmp(*known, name) == 0)
            return true;
    return false;
}

/* Allocation failures end the process: a half-built pipeline has no safe use. */
static char *copy_string(const char *text)
{
    char *copy = strdup(text);
    if (!copy) {
        log_error("out of memory while reading the pipeline");
        abort();
    }
    return copy;
}

typedef struct {
    const char *path;
    pipeline_t *pipeline;
    int errors;
} loader_t;

/*
 * Returns the 1-based line where `node` starts, or 0 when unknown. libfyaml
 * 0.7 gives marks only for tokens, so a collection takes the line of its first
 * scalar, and an empty one the line of the key that contains it.
 */
static int node_line(struct fy_node *node)
{
    if (!node)
        return 0;
    if (fy_node_is_scalar(node)) {
        struct fy_token *token = fy_node_get_scalar_token(node);
        const struct fy_mark *mark = token ? fy_token_start_mark(token) : NULL;
        return mark ? mark->line + 1 : 0;
    }

    void *iterator = NULL;
    if (fy_node_is_mapping(node)) {
        struct fy_node_pair *pair = fy_node_mapping_iterate(node, &iterator);
        if (pair)
            return node_line(fy_node_pair_key(pair));
    } else if (fy_node_is_sequence(node)) {
        struct fy_node *item = fy_node_sequence_iterate(node, &iterator);
        if (item)
            return node_line(item);
    }

    struct fy_node *parent = fy_node_get_parent(node);
    if (parent && fy_node_is_mapping(parent)) {
        iterator = NULL;
        struct fy_node_pair *pair;
        while ((pair = fy_node_mapping_iterate(parent, &iterator)) != NULL)
            if (fy_node_pair_value(pair) == node)
                return node_line(fy_node_pair_key(pair));
    }
    return parent ? node_line(parent) : 0;
}

/* Logs "FILE:LINE: message" for `node` and counts the error. */
static void report(loader_t *loader, struct fy_node *node, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static void report(loader_t *loader, struct fy_node *node, const char *format, ...)
{
    char message[1024];
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(message, sizeof message, format, arguments);
    va_end(arguments);
    int line = node_line(node);
    if (line > 0)
        log_error("%s:%d: %s", loader->path, line, message);
    else
        log_error("%s: %s", loader->path, message);
    loader->errors++;
}

/* Returns the text of a scalar node, or NULL after reporting that `what` must be one. */
static const char *scalar_text(loader_t *loader, struct fy_node *node, const char *what)
{
    const char *text = node && fy_node_is_scalar(node) ? fy_node_get_scalar0(node) : NULL;
    if (!text)
        report(loader, node, "%s must be a single value", what);
    return text;
}

/* --- references ------------------------------------------------------------------------ */

/* Records that stage `index` reads the output of stage `other`. */
static void add_dependency(pipeline_t *pipeline, size_t index, size_t other)
{
    pipeline_stage_t *stage = &pipeline->stages[index];
    for (size_t i = 0; i < stage->depend_count; i++)
        if (stage->depends[i] == other)
            return;
    size_t *grown = realloc(stage->depends, (stage->depend_count + 1) * sizeof *grown);
    if (!grown)
        abort();
    stage->depends = grown;
    stage->depends[stage->depend_count++] = other;
}

/* Where a reference may point: any other stage, only the run folder (in an
 * output), or any stage without recording a dependency (in the summary). */
typedef enum { REFER_STAGES, REFER_RUN_DIR_ONLY, REFER_SUMMARY } refer_mode_t;

/* Returns the folder that "${name}" stands for, or NULL after reporting. */
static const char *reference_value(loader_t *loader, struct fy_node *node, const char *name,
                                   size_t index, refer_mode_t mode)
{
    pipeline_t *pipeline = loader->pipeline;
    if (strcmp(name, "run-dir") == 0)
        return pipeline->run_dir;
    int referenced = pipeline_find_stage(pipeline, name);
    if (referenced < 0) {
        report(loader, node, "\"${%s}\" names no stage of this pipeline", name);
        return NULL;
    }
    if (mode == REFER_RUN_DIR_ONLY) {
        report(loader, node, "output may use \"${run-dir}\" but not \"${%s}\", another "
               "stage's folder", name);
        return NULL;
    }
    if (mode == REFER_STAGES && (size_t)referenced == index) {
        report(loader, node, "\"${%s}\" refers to the stage itself", name);
        return NULL;
    }
    if (!pipeline->stages[referenced].output) {
        report(loader, node, "\"${%s}\" refers to stage \"%s\" (line %d), which has "
               "\"output: none\"", name, name, pipeline->stages[referenced].line);
        return NULL;
    }
    if (mode == REFER_STAGES)
        add_dependency(pipeline, index, (size_t)referenced);
    return pipeline->stages[referenced].output;
}

/*
 * Returns a copy of `text` with every "${NAME}" replaced by the run folder or
 * by the output folder of stage NAME; `index` is the stage being resolved.
 * Returns NULL after reporting a bad reference.
 */
static char *expand_references(loader_t *loader, struct fy_node *node, const char *text,
                               size_t index, refer_mode_t mode)
{
    size_t capacity = strlen(text) + 1, length = 0;
    char *result = malloc(capacity);
    if (!result)
        abort();

    const char *cursor = text;
    while (*cursor) {
        const char *value = NULL;
        size_t skip = 1;
        if (cursor[0] == '$' && cursor[1] == '{') {
            const char *close = strchr(cursor + 2, '}');
            if (!close) {
                report(loader, node, "unclosed \"${\" in \"%s\"", text);
                free(result);
                return NULL;
            }
            char name[256];
            size_t name_length = (size_t)(close - cursor - 2);
            snprintf(name, sizeof name, "%.*s", (int)name_length, cursor + 2);
            value = reference_value(loader, node, name, index, mode);
            if (!value) {
                free(result);
                return NULL;
            }
            skip = name_length + 3;
        }

        size_t add = value ? strlen(value) : 1;
        if (length + add + 1 > capacity) {
            capacity = 2 * (length + add + 1);
            char *grown = realloc(result, capacity);
            if (!grown)
                abort();
            result = grown;
        }
        memcpy(result + length, value ? value : cursor, add);
        length += add;
        cursor += skip;
    }
    result[length] = '\0';
    return result;
}

/* --- stage fields ---------------------------------------------------------------------- */

static bool path_exists(const char *path)
{
    struct stat info;
    return stat(path, &info) == 0;
}

/* Returns true for "-" and ZeroMQ addresses, which name no file. */
static bool is_stream_address(const char *text)
{
    return strcmp(text, "-") == 0 || strstr(text, "://") != NULL;
}

/*
 * Makes stage `index` depend on the stage whose output folder contains the
 * literal path `text`, so that "runs/x/clean" orders like "clean" would.
 * Returns true when such a stage exists.
 */
static bool depend_on_containing_stage(pipeline_t *pipeline, size_t index, const char *text)
{
    for (size_t other = 0; other < pipeline->stage_count; other++) {
        const char *output = pipeline->stages[other].output;
        size_t length = output ? strlen(output) : 0;
        if (other == index || length == 0 || strncmp(text, output, length) != 0 ||
            (text[length] != '\0' && text[length] != '/'))
            continue;
        add_dependency(pipeline, index, other);
        return true;
    }
    return false;
}

/* Reports an input path that no stage writes and that matches no file. */
static void check_input_exists(loader_t *loader, struct fy_node *node, const char *path)
{
    if (strpbrk(path, "*?[")) {
        glob_t matches;
        int found = glob(path, 0, NULL, &matches);
        globfree(&matches);
        if (found != 0)
            report(loader, node, "input glob \"%s\" matches no file", path);
        return;
    }
    if (!path_exists(path))
        report(loader, node, "input \"%s\" does not exist; create it or fix the path", path);
}

/* Adds one input: a stage name means that stage's output folder. */
static void add_input(loader_t *loader, size_t index, struct fy_node *node)
{
    pipeline_t *pipeline = loader->pipeline;
    pipeline_stage_t *stage = &pipeline->stages[index];
    const char *text = scalar_text(loader, node, "each input");
    if (!text)
        return;

    int referenced = pipeline_find_stage(pipeline, text);
    if (referenced >= 0) {
        if ((size_t)referenced == index) {
            report(loader, node, "stage \"%s\" lists itself as an input", text);
        } else if (!pipeline->stages[referenced].output) {
            report(loader, node, "input \"%s\" is a stage with \"output: none\"", text);
        } else {
            cli_string_list_push(&stage->inputs, pipeline->stages[referenced].output);
            add_dependency(pipeline, index, (size_t)referenced);
        }
        return;
    }

    /* A bare word that is neither a stage nor a file is most likely a misspelt stage. */
    bool bare_word = !strpbrk(text, "/$*?[") && strcmp(text, "-") != 0;
    if (bare_word && !path_exists(text)) {
        report(loader, node, "input \"%s\" is neither a stage of this pipeline nor an "
               "existing path", text);
        return;
    }
    size_t depends_before = stage->depend_count;
    char *expanded = expand_references(loader, node, text, index, REFER_STAGES);
    if (!expanded)
        return;
    bool from_stage = stage->depend_count > depends_before ||
                      depend_on_containing_stage(pipeline, index, expanded);
    if (!from_stage && !is_stream_address(expanded))
        check_input_exists(loader, node, expanded);
    cli_string_list_push(&stage->inputs, expanded);
    free(expanded);
}

static void parse_inputs(loader_t *loader, size_t index, struct fy_node *node)
{
    if (node && fy_node_is_sequence(node)) {
        void *iterator = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(node, &iterator)) != NULL)
            add_input(loader, index, item);
        return;
    }
    add_input(loader, index, node);
}

/* Turns the settings mapping into "key=value" strings, one per list item. */
/* Appends one "key=value" setting with its line. */
static void push_setting(pipeline_stage_t *stage, const char *name, const char *value, int line)
{
    char assignment[4096];
    snprintf(assignment, sizeof assignment, "%s=%s", name, value);
    cli_string_list_push(&stage->settings, assignment);
    int *grown = realloc(stage->setting_lines, stage->settings.count * sizeof *grown);
    if (!grown)
        abort();
    stage->setting_lines = grown;
    stage->setting_lines[stage->settings.count - 1] = line;
}

static void parse_settings(loader_t *loader, pipeline_stage_t *stage, struct fy_node *node)
{
    if (!node || !fy_node_is_mapping(node)) {
        report(loader, node, "settings must be a mapping of setting names to values");
        return;
    }
    void *iterator = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(node, &iterator)) != NULL) {
        struct fy_node *key = fy_node_pair_key(pair);
        struct fy_node *value = fy_node_pair_value(pair);
        const char *name = scalar_text(loader, key, "a setting name");
        if (!name)
            continue;

        if (value && fy_node_is_sequence(value)) {
            void *item_iterator = NULL;
            struct fy_node *item;
            while ((item = fy_node_sequence_iterate(value, &item_iterator)) != NULL) {
                const char *text = scalar_text(loader, item, "each item of a list setting");
                if (text)
                    push_setting(stage, name, text, node_line(key));
            }
            continue;
        }
        const char *text = value ? scalar_text(loader, value, "a setting value") : "";
        if (text)
            push_setting(stage, name, text, node_line(key));
    }
}

static void parse_args(loader_t *loader, size_t index, struct fy_node *node)
{
    pipeline_stage_t *stage = &loader->pipeline->stages[index];
    if (!node || !fy_node_is_sequence(node)) {
        report(loader, node, "args must be a list, e.g. [--model-config, FILE]");
        return;
    }
    void *iterator = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(node, &iterator)) != NULL) {
        const char *text = scalar_text(loader, item, "each argument");
        char *expanded = text ? expand_references(loader, item, text, index, REFER_STAGES)
                              : NULL;
        if (expanded)
            cli_string_list_push(&stage->args, expanded);
        free(expanded);
    }
}

static bool parse_bool(const char *text, bool *value)
{
    if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0) {
        *value = true;
        return true;
    }
    if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0) {
        *value = false;
        return true;
    }
    return false;
}

/* Finds the value of `key` in a mapping, or NULL. */
static struct fy_node *mapping_value(struct fy_node *mapping, const char *key)
{
    void *iterator = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(mapping, &iterator)) != NULL) {
        const char *name = fy_node_get_scalar0(fy_node_pair_key(pair));
        if (name && strcmp(name, key) == 0)
            return fy_node_pair_value(pair);
    }
    return NULL;
}

/* --- stages ---------------------------------------------------------------------------- */

static const char *const stage_keys[] = {
    "name", "program", "inputs", "output", "settings", "config", "threads", "stats", "args",
    "stdout", "tasks", "resources", "incremental", "stream", NULL,
};

/* Programs that turn each input file into its own output independently of the
 * other files, so that `incremental: true` may run them once per input file. */
static const char *const per_file_programs[] = {"crawl-ingest", "clean", NULL};

static bool is_per_file_program(const char *program)
{
    for (const char *const *known = per_file_programs; *known; known++)
        if (strcmp(*known, program) == 0)
            return true;
    return false;
}

static bool is_stage_key(const char *key)
{
    for (const char *const *known = stage_keys; *known; known++)
        if (strcmp(*known, key) == 0)
            return true;
    return false;
}

/* First pass over one stage: name, program, line, unknown keys and the output folder. */
static void declare_stage(loader_t *loader, size_t index, struct fy_node *node)
{
    pipeline_t *pipeline = loader->pipeline;
    pipeline_stage_t *stage = &pipeline->stages[index];
    stage->line = node_line(node);
    stage->streams_from = -1;
    if (!fy_node_is_mapping(node)) {
        report(loader, node, "each stage must be a mapping with at least name and program");
        return;
    }

    void *iterator = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(node, &iterator)) != NULL) {
        struct fy_node *key = fy_node_pair_key(pair);
        const char *name = fy_node_get_scalar0(key);
        if (!name || !is_stage_key(name))
            report(loader, key, "unknown stage key \"%s\"; expected one of name, program, "
                   "inputs, output, settings, config, threads, stats, args, stdout, tasks, "
                   "resources, incremental, stream",
                   name ? name : "?");
    }

    struct fy_node *name_node = mapping_value(node, "name");
    struct fy_node *program_node = mapping_value(node, "program");
    const char *name = name_node ? scalar_text(loader, name_node, "name") : NULL;
    const char *program = program_node ? scalar_text(loader, program_node, "program") : NULL;
    if (!name_node)
        report(loader, node, "stage without a name");
    if (!program_node)
        report(loader, node, "stage without a program");

    if (name) {
        int earlier = pipeline_find_stage(pipeline, name);
        if (earlier >= 0)
            report(loader, name_node, "duplicate stage name \"%s\" (first used on line %d)",
                   name, pipeline->stages[earlier].line);
        else if (strcmp(name, "run-dir") == 0 || !name[0] || strpbrk(name, "/${} \t"))
            report(loader, name_node, "invalid stage name \"%s\": use letters, digits, '-' "
                   "and '_' (not run-dir)", name);
        else
            stage->name = copy_string(name);
    }
    if (program) {
        if (pipeline_is_known_program(program))
            stage->program = copy_string(program);
        else
            report(loader, program_node, "unknown program \"%s\" (run 'lmpipe --help' for "
                   "the list)", program);
    }
}

/* Second pass over one stage: its output folder, which other stages may refer to. */
static void assign_output(loader_t *loader, size_t index, struct fy_node *node)
{
    pipeline_t *pipeline = loader->pipeline;
    pipeline_stage_t *stage = &pipeline->stages[index];
    if (!stage->name || !stage->program)
        return;
    struct fy_node *output = mapping_value(node, "output");
    const char *output_text = output ? scalar_text(loader, output, "output") : NULL;
    if (output_text && strcmp(output_text, "none") == 0) {
        stage->output = NULL;
    } else if (output_text) {
        stage->output = expand_references(loader, output, output_text, index,
                                          REFER_RUN_DIR_ONLY);
    } else if (!output) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", pipeline->run_dir, stage->name);
        stage->output = copy_string(path);
    }
}

/* Reads a whole number of at least 1 from `node` into `value`. */
static void parse_count(loader_t *loader, struct fy_node *node, const char *what, int64_t *value)
{
    const char *text = scalar_text(loader, node, what);
    if (text && (cli_parse_int(text, value) != 0 || *value < 1))
        report(loader, node, "%s must be a whole number of at least 1, not \"%s\"", what, text);
}

/* Checks a Slurm size such as "512M" or "16G" (a number with an optional K, M, G or T). */
static bool is_memory_size(const char *text)
{
    size_t digits = strspn(text, "0123456789");
    return digits > 0 && (text[digits] == '\0' ||
                          (strchr("KMGTkmgt", text[digits]) && text[digits + 1] == '\0'));
}

/* Checks a Slurm time limit: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS. */
static bool is_time_limit(const char *text)
{
    return text[0] >= '0' && text[0] <= '9' && strspn(text, "0123456789:-") == strlen(text) &&
           !strstr(text, "::") && text[strlen(text) - 1] != ':';
}

static void parse_resources(loader_t *loader, pipeline_stage_t *stage, struct fy_node *node)
{
    if (!fy_node_is_mapping(node)) {
        report(loader, node, "resources must be a mapping of cpus, memory, gpus and time");
        return;
    }
    void *iterator = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(node, &iterator)) != NULL) {
        struct fy_node *key = fy_node_pair_key(pair);
        struct fy_node *value = fy_node_pair_value(pair);
        const char *name = fy_node_get_scalar0(key);
        const char *text = NULL;
        if (name && strcmp(name, "cpus") == 0) {
            parse_count(loader, value, "resources cpus", &stage->resources.cpus);
        } else if (name && strcmp(name, "gpus") == 0) {
            parse_count(loader, value, "resources gpus", &stage->resources.gpus);
        } else if (name && strcmp(name, "memory") == 0) {
            text = scalar_text(loader, value, "resources memory");
            if (text && !is_memory_size(text))
                report(loader, value, "resources memory must be a size such as 512M or 16G, "
                       "not \"%s\"", text);
            else if (text)
                stage->resources.memory = copy_string(text);
        } else if (name && strcmp(name, "time") == 0) {
            text = scalar_text(loader, value, "resources time");
            if (text && !is_time_limit(text))
                report(loader, value, "resources time must be minutes or [D-]HH:MM:SS, "
                       "not \"%s\"", text);
            else if (text)
                stage->resources.time = copy_string(text);
        } else {
            report(loader, key, "unknown resource \"%s\"; expected cpus, memory, gpus or time",
                   name ? name : "?");
        }
    }
}

/* Reads "incremental: true" and checks that the stage can run once per input file. */
static void parse_incremental(loader_t *loader, pipeline_stage_t *stage, struct fy_node *node)
{
    const char *text = scalar_text(loader, node, "incremental");
    if (text && !parse_bool(text, &stage->incremental)) {
        report(loader, node, "incremental must be true or false, not \"%s\"", text);
        return;
    }
    if (!stage->incremental)
        return;
    if (!is_per_file_program(stage->program))
        report(loader, node, "program %s cannot run incrementally: it needs the whole corpus at "
               "once; only crawl-ingest and clean process each input file on its own",
               stage->program);
    else if (stage->tasks > 1)
        report(loader, node, "an incremental stage runs one process per input file; remove "
               "\"tasks: %lld\"", (long long)stage->tasks);
    else if (stage->stdout_path)
        report(loader, node, "an incremental stage cannot capture \"stdout\"");
    else if (!stage->output)
        report(loader, node, "an incremental stage needs an output folder, not \"output: none\"");
}

/* Third pass over one stage, after every stage has its output folder. */
static void resolve_stage(loader_t *loader, size_t index, struct fy_node *node)
{
    pipeline_t *pipeline = loader->pipeline;
    pipeline_stage_t *stage = &pipeline->stages[index];
    if (!stage->name || !stage->program)
        return;

    char path[4096];
    struct fy_node *stats = mapping_value(node, "stats");
    bool with_stats = true;
    const char *stats_text = stats ? scalar_text(loader, stats, "stats") : NULL;
    if (stats_text && !parse_bool(stats_text, &with_stats))
        report(loader, stats, "stats must be true or false, not \"%s\"", stats_text);
    if (with_stats) {
        snprintf(path, sizeof path, "%s/%s.stats.json", pipeline->run_dir, stage->name);
        stage->stats_path = copy_string(path);
    }

    struct fy_node *field;
    if ((field = mapping_value(node, "inputs")) != NULL)
        parse_inputs(loader, index, field);
    if ((field = mapping_value(node, "settings")) != NULL)
        parse_settings(loader, stage, field);
    if ((field = mapping_value(node, "args")) != NULL)
        parse_args(loader, index, field);

    const char *text;
    if ((field = mapping_value(node, "config")) != NULL &&
        (text = scalar_text(loader, field, "config")) != NULL)
        stage->config = expand_references(loader, field, text, index, REFER_STAGES);
    if ((field = mapping_value(node, "stdout")) != NULL &&
        (text = scalar_text(loader, field, "stdout")) != NULL)
        stage->stdout_path = expand_references(loader, field, text, index, REFER_STAGES);
    if ((field = mapping_value(node, "threads")) != NULL &&
        (text = scalar_text(loader, field, "threads")) != NULL) {
        if (cli_parse_int(text, &stage->threads) != 0 || stage->threads < 1)
            report(loader, field, "threads must be a whole number of at least 1, not \"%s\"",
                   text);
    }
    stage->tasks = 1;
    if ((field = mapping_value(node, "tasks")) != NULL) {
        parse_count(loader, field, "tasks", &stage->tasks);
        if (stage->tasks > 1 && stage->stdout_path)
            report(loader, field, "a stage with \"stdout\" runs as one task, not %lld",
                   (long long)stage->tasks);
    }
    if ((field = mapping_value(node, "resources")) != NULL)
        parse_resources(loader, stage, field);
    if ((field = mapping_value(node, "incremental")) != NULL)
        parse_incremental(loader, stage, field);
    if ((field = mapping_value(node, "stream")) != NULL &&
        (text = scalar_text(loader, field, "stream")) != NULL && !parse_bool(text, &stage->stream))
        report(loader, field, "stream must be true or false, not \"%s\"", text);
}

/* --- dependency order ------------------------------------------------------------------ */

/* Depth-first search state of one stage. */
enum { UNVISITED = 0, VISITING, VISITED };

/* Visits stage `index` and its dependencies, appending each finished stage to
 * the order. On a cycle, reports the stages on it and returns false. */
static bool visit_stage(loader_t *loader, size_t index, int *state, size_t *path,
                        size_t depth, size_t *order_count)
{
    pipeline_t *pipeline = loader->pipeline;
    state[index] = VISITING;
    path[depth] = index;
    const pipeline_stage_t *stage = &pipeline->stages[index];
    for (size_t i = 0; i < stage->depend_count; i++) {
        size_t next = stage->depends[i];
        if (state[next] == VISITED)
            continue;
        if (state[next] == VISITING) {
            char chain[2048] = "";
            size_t used = 0;
            size_t first = depth;
            while (path[first] != next)
                first--;
            for (size_t j = first; j <= depth && used < sizeof chain; j++)
                used += (size_t)snprintf(chain + used, sizeof chain - used, "%s (line %d) -> ",
                                         pipeline->stages[path[j]].name,
                                         pipeline->stages[path[j]].line);
            if (used < sizeof chain)
                snprintf(chain + used, sizeof chain - used, "%s", pipeline->stages[next].name);
            log_error("%s:%d: stages form a dependency cycle: %s; each stage reads the "
                      "output of the next, so none can start; remove one of these inputs",
                      loader->path, pipeline->stages[next].line, chain);
            loader->errors++;
            return false;
        }
        if (!visit_stage(loader, next, state, path, depth + 1, order_count))
            return false;
    }
    state[index] = VISITED;
    pipeline->order[(*order_count)++] = index;
    return true;
}

/* Fills pipeline->order so that each stage comes after those it depends on,
 * in file order where the dependencies allow; reports a cycle. */
static void order_stages(loader_t *loader)
{
    pipeline_t *pipeline = loader->pipeline;
    size_t count = pipeline->stage_count;
    int *state = calloc(count, sizeof *state);
    size_t *path = calloc(count, sizeof *path);
    pipeline->order = calloc(count, sizeof *pipeline->order);
    if (!state || !path || !pipeline->order)
        abort();
    size_t order_count = 0;
    for (size_t i = 0; i < count; i++)
        if (state[i] == UNVISITED && !visit_stage(loader, i, state, path, 0, &order_count))
            break;
    free(state);
    free(path);
}

bool pipeline_depends_on(const pipeline_t *pipeline, size_t index, size_t other)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    for (size_t i = 0; i < stage->depend_count; i++)
        if (stage->depends[i] == other || pipeline_depends_on(pipeline, stage->depends[i], other))
            return true;
    return false;
}

/* --- streams ----------------------------------------------------------------------------- */

/* Returns true when `stage` lists `source` among its direct dependencies. */
static bool is_direct_reader(const pipeline_stage_t *stage, size_t source)
{
    for (size_t i = 0; i < stage->depend_count; i++)
        if (stage->depends[i] == source)
            return true;
    return false;
}

/* Programs that read documents one record at a time through common/docio, so
 * they can take the place of a stream worker, and dedup, which can end a
 * stream when its methods decide per document. */
static const char *const stream_producers[] = {"crawl-ingest", "clean", NULL};
static const char *const stream_workers[] = {"clean", NULL};
static const char *const stream_sinks[] = {"clean", "dedup", NULL};
/* shard reads a producer's batches directly, as the one worker of a stream. */
static const char *const stream_ends[] = {"clean", "dedup", "shard", NULL};

static bool is_listed(const char *const *list, const char *name)
{
    for (; *list; list++)
        if (strcmp(*list, name) == 0)
            return true;
    return false;
}

/* Finds the stage that a "stream: true" stage reads and records it in
 * streams_from; reports a stage that does not read exactly one stage. */
static void link_stream(loader_t *loader, size_t index, struct fy_node *node)
{
    pipeline_t *pipeline = loader->pipeline;
    pipeline_stage_t *stage = &pipeline->stages[index];
    if (!stage->stream || !stage->name || !stage->program)
        return;
    struct fy_node *field = mapping_value(node, "stream");
    int source = -1;
    for (size_t i = 0; i < pipeline->stage_count && stage->inputs.count == 1; i++)
        if (pipeline->stages[i].output && pipeline->stages[i].program &&
            strcmp(pipeline->stages[i].output, stage->inputs.items[0]) == 0)
            source = (int)i;
    if (source < 0) {
        report(loader, field, "stage %s cannot stream: a streamed stage reads exactly one input, "
               "the output of another stage, and it reads %zu inputs%s", stage->name,
               stage->inputs.count, stage->inputs.count == 1 ? " that no stage writes" : "");
        return;
    }
    if (stage->incremental || pipeline->stages[source].incremental)
        report(loader, field, "stage %s cannot stream: an incremental stage writes files per "
               "input, so neither it nor the stage after it may use \"stream: true\"",
               stage->name);
    stage->streams_from = source;
}

/* Returns the dedup method named in the stage's settings, or "exact" (the default). */
static const char *dedup_method_setting(const pipeline_stage_t *stage)
{
    const char *method = "exact";
    for (size_t i = 0; i < stage->settings.count; i++)
        if (strncmp(stage->settings.items[i], "method=", 7) == 0)
            method = stage->settings.items[i] + 7;
    return method;
}

/* Checks that a document-level dedup method list (url, exact) is given. */
static bool dedup_can_stream(const pipeline_stage_t *stage)
{
    const char *method = dedup_method_setting(stage);
    return !strstr(method, "minhash") && !strstr(method, "line") && !strstr(method, "substring");
}

/* Returns the index of the stage that reads stage `index` over a stream, or -1. */
static int stream_reader(const pipeline_t *pipeline, size_t index)
{
    for (size_t i = 0; i < pipeline->stage_count; i++)
        if (pipeline->stages[i].streams_from == (int64_t)index)
            return (int)i;
    return -1;
}

/* Checks the program of a stage that reads the stream and writes the folder:
 * a sink after workers, or the one worker right after the producer. */
static void check_stream_end(loader_t *loader, struct fy_node *field, const pipeline_stage_t *stage,
                             bool is_sink)
{
    if (!is_listed(is_sink ? stream_sinks : stream_ends, stage->program))
        report(loader, field, "program %s cannot read a stream %s: it needs the whole corpus; only "
               "clean, dedup (methods url and exact)%s can", stage->program,
               is_sink ? "from workers" : "from a producer", is_sink ? "" : " and shard");
    else if (strcmp(stage->program, "dedup") == 0 && !dedup_can_stream(stage))
        report(loader, field, "dedup with method \"%s\" reads its input twice and cannot read "
               "a stream; use method url or exact, or remove \"stream: true\"",
               dedup_method_setting(stage));
    if (stage->tasks > 1)
        report(loader, field, "stage %s ends the stream and writes the folder, so it runs as one "
               "process; remove \"tasks: %lld\" (only a worker between two streamed stages "
               "runs as several)", stage->name, (long long)stage->tasks);
}

/* Decides the role of each stage of a stream (producer, workers, sink) and
 * reports what cannot stream, at the line of the "stream" key. */
static void check_stream_roles(loader_t *loader, size_t index, struct fy_node *node)
{
    pipeline_t *pipeline = loader->pipeline;
    pipeline_stage_t *stage = &pipeline->stages[index];
    if (!stage->stream || stage->streams_from < 0)
        return;
    struct fy_node *field = mapping_value(node, "stream");
    pipeline_stage_t *source = &pipeline->stages[stage->streams_from];
    bool is_sink = source->streams_from >= 0;
    if (is_sink && pipeline->stages[source->streams_from].streams_from >= 0) {
        report(loader, field, "stage %s cannot stream: a stream joins at most three stages "
               "(producer, workers, sink), and %s -> %s -> %s has more", stage->name,
               pipeline->stages[source->streams_from].name, source->name, stage->name);
        return;
    }
    if (is_sink) {
        /* The source was checked as the worker when its own line was read. */
        stage->stream_role = PIPELINE_STREAM_SINK;
        check_stream_end(loader, field, stage, true);
    } else {
        source->stream_role = PIPELINE_STREAM_PRODUCER;
        stage->stream_role = PIPELINE_STREAM_WORKER;
        if (!is_listed(stream_producers, source->program))
            report(loader, field, "stage %s (program %s) cannot send a stream: only crawl-ingest "
                   "and clean write documents one at a time", source->name, source->program);
        if (source->tasks > 1)
            report(loader, field, "stage %s sends the stream and runs as one process; remove "
                   "\"tasks: %lld\" from it", source->name, (long long)source->tasks);
        if (source->stdout_path)
            report(loader, field, "stage %s streams its output, so it cannot capture \"stdout\"",
                   source->name);
        int reader = stream_reader(pipeline, index);
        if (reader < 0)
            check_stream_end(loader, field, stage, false);
        else if (!is_listed(stream_workers, stage->program))
            report(loader, field, "stage %s (program %s) cannot be a stream worker: only clean "
                   "reads and writes batches of documents", stage->name, stage->program);
    }
    for (size_t i = 0; i < pipeline->stage_count; i++)
        if (i != index && is_direct_reader(&pipeline->stages[i], (size_t)stage->streams_from))
            report(loader, field, "stage %s streams its output to %s, so stage %s (line %d) "
                   "cannot read it as a folder", source->name, stage->name,
                   pipeline->stages[i].name, pipeline->stages[i].line);
}

/* Returns the address of the socket that carries stage `index`'s output. */
static char *stream_address(const pipeline_t *pipeline, size_t index, const char *prefix)
{
    char address[4200];
    snprintf(address, sizeof address, "%sipc://%s/.lmpipe/%s.sock", prefix, pipeline->run_dir,
             pipeline->stages[index].name);
    return copy_string(address);
}

/* Replaces the folders between streamed stages by socket addresses: the
 * producer binds its output, workers connect to it and to the sink, and the
 * sink binds its input. */
static void assign_stream_addresses(pipeline_t *pipeline, size_t index)
{
    pipeline_stage_t *stage = &pipeline->stages[index];
    if (stage->streams_from < 0)
        return;
    size_t source = (size_t)stage->streams_from;
    bool sink = stage->stream_role == PIPELINE_STREAM_SINK;
    free(pipeline->stages[source].output);
    pipeline->stages[source].output = stream_address(pipeline, source, sink ? ">" : "");
    free(stage->inputs.items[0]);
    stage->inputs.items[0] = stream_address(pipeline, source, sink ? "@" : "");
}

static void parse_stages(loader_t *loader, struct fy_node *node)
{
    pipeline_t *pipeline = loader->pipeline;
    if (!node || !fy_node_is_sequence(node) || fy_node_sequence_item_count(node) == 0) {
        report(loader, node, "stages must be a non-empty list of stages");
        return;
    }
    size_t count = (size_t)fy_node_sequence_item_count(node);
    pipeline->stages = calloc(count, sizeof *pipeline->stages);
    if (!pipeline->stages)
        abort();

    void *iterator = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(node, &iterator)) != NULL)
        declare_stage(loader, pipeline->stage_count++, item);

    iterator = NULL;
    for (size_t index = 0; (item = fy_node_sequence_iterate(node, &iterator)) != NULL; index++)
        assign_output(loader, index, item);

    iterator = NULL;
    for (size_t index = 0; (item = fy_node_sequence_iterate(node, &iterator)) != NULL; index++)
        resolve_stage(loader, index, item);

    if (loader->errors == 0)
        order_stages(loader);

    iterator = NULL;
    for (size_t index = 0; (item = fy_node_sequence_iterate(node, &iterator)) != NULL; index++)
        link_stream(loader, index, item);
    iterator = NULL;
    for (size_t index = 0; (item = fy_node_sequence_iterate(node, &iterator)) != NULL; index++)
        check_stream_roles(loader, index, item);
    for (size_t index = 0; loader->errors == 0 && index < pipeline->stage_count; index++)
        assign_stream_addresses(pipeline, index);
}

/* --- summary --------------------------------------------------------------------------- */

static void parse_summary_entry(loader_t *loader, struct fy_node *node)
{
    pipeline_t *pipeline = loader->pipeline;
    pipeline_summary_t *entry = &pipeline->summary[pipeline->summary_count];
    struct fy_node *file = node;
    struct fy_node *keys = NULL;
    if (fy_node_is_mapping(node)) {
        file = mapping_value(node, "file");
        keys = mapping_value(node, "keys");
        if (!file) {
            report(loader, node, "a summary mapping needs \"file\" (and optionally \"keys\")");
            return;
        }
    }
    const char *text = scalar_text(loader, file, "a summary file");
    if (!text)
        return;
    entry->file = expand_references(loader, file, text, 0, REFER_SUMMARY);
    if (!entry->file)
        return;
    pipeline->summary_count++;

    if (!keys)
        return;
    if (!fy_node_is_sequence(keys)) {
        report(loader, keys, "summary keys must be a list of JSON keys");
        return;
    }
    void *iterator = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(keys, &iterator)) != NULL) {
        const char *key = scalar_text(loader, item, "each summary key");
        if (key)
            cli_string_list_push(&entry->keys, key);
    }
}

static void parse_summary(loader_t *loader, struct fy_node *node)
{
    pipeline_t *pipeline = loader->pipeline;
    if (!node || !fy_node_is_sequence(node)) {
        report(loader, node, "summary must be a list of files");
        return;
    }
    size_t count = (size_t)fy_node_sequence_item_count(node);
    pipeline->summary = calloc(count ? count : 1, sizeof *pipeline->summary);
    if (!pipeline->summary)
        abort();
    void *iterator = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(node, &iterator)) != NULL)
        parse_summary_entry(loader, item);
}

/* --- loading --------------------------------------------------------------------------- */

/* Builds the document, logging libfyaml's syntax errors as FILE:LINE:COLUMN. */
static struct fy_document *read_document(const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        log_error("%s: failed to open the pipeline file: %s", path, strerror(errno));
        return NULL;
    }
    fclose(file);

    struct fy_diag_cfg diag_config;
    fy_diag_cfg_default(&diag_config);
    diag_config.fp = NULL;
    diag_config.output_fn = NULL;
    struct fy_diag *diag = fy_diag_create(&diag_config);
    if (diag)
        fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg config = {
        .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG,
        .diag = diag,
    };
    struct fy_document *document = fy_document_build_from_file(&config, path);
    if (!document) {
        bool reported = false;
        void *iterator = NULL;
        struct fy_diag_error *error;
        while (diag && (error = fy_diag_errors_iterate(diag, &iterator)) != NULL) {
            /* libfyaml 0.7.12 reports collected errors with 1-based lines. */
            log_error("%s:%d:%d: invalid YAML: %s", path, error->line, error->column,
                      error->msg);
            reported = true;
        }
        if (!reported)
            log_error("%s: contains no YAML document; a pipeline file is a mapping with a "
                      "\"stages\" list", path);
    }
    if (diag)
        fy_diag_destroy(diag);
    return document;
}

/* Returns a malloc'ed "runs/NAME" from the pipeline file's name without .yaml or .yml. */
static char *default_run_dir(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t length = strlen(base);
    const char *suffixes[] = {".yaml", ".yml"};
    for (size_t i = 0; i < 2; i++) {
        size_t suffix = strlen(suffixes[i]);
        if (length > suffix && strcmp(base + length - suffix, suffixes[i]) == 0) {
            length -= suffix;
            break;
        }
    }
    char run_dir[4096];
    snprintf(run_dir, sizeof run_dir, "runs/%.*s", (int)length, base);
    return copy_string(run_dir);
}

int pipeline_load(const char *path, const char *run_dir_override, pipeline_t *pipeline)
{
    memset(pipeline, 0, sizeof *pipeline);
    pipeline->path = copy_string(path);
    loader_t loader = {.path = path, .pipeline = pipeline, .errors = 0};

    struct fy_document *document = read_document(path);
    if (!document)
        return -1;
    struct fy_node *root = fy_document_root(document);
    if (!root || !fy_node_is_mapping(root)) {
        report(&loader, root, "a pipeline file must be a mapping with a \"stages\" list");
        fy_document_destroy(document);
        return -1;
    }

    void *iterator = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(root, &iterator)) != NULL) {
        struct fy_node *key = fy_node_pair_key(pair);
        const char *name = fy_node_get_scalar0(key);
        bool known = name && (strcmp(name, "run-dir") == 0 || strcmp(name, "stages") == 0 ||
                              strcmp(name, "summary") == 0 || strcmp(name, "description") == 0);
        if (!known)
            report(&loader, key, "unknown key \"%s\"; expected run-dir, stages, summary or "
                   "description", name ? name : "?");
    }

    struct fy_node *run_dir = mapping_value(root, "run-dir");
    const char *run_dir_text = run_dir ? scalar_text(&loader, run_dir, "run-dir") : NULL;
    if (run_dir_override)
        pipeline->run_dir = copy_string(run_dir_override);
    else if (run_dir_text)
        pipeline->run_dir = copy_string(run_dir_text);
    else
        pipeline->run_dir = default_run_dir(path);

    struct fy_node *stages = mapping_value(root, "stages");
    if (stages)
        parse_stages(&loader, stages);
    else
        report(&loader, root, "missing \"stages\": a pipeline needs at least one stage");

    struct fy_node *summary = mapping_value(root, "summary");
    if (summary && loader.errors == 0)
        parse_summary(&loader, summary);

    fy_document_destroy(document);
    return loader.errors ? -1 : 0;
}

void pipeline_free(pipeline_t *pipeline)
{
    for (size_t i = 0; i < pipeline->stage_count; i++) {
        pipeline_stage_t *stage = &pipeline->stages[i];
        free(stage->name);
        free(stage->program);
        cli_string_list_free(&stage->inputs);
        free(stage->output);
        cli_string_list_free(&stage->settings);
        free(stage->config);
        free(stage->stats_path);
        cli_string_list_free(&stage->args);
        free(stage->stdout_path);
        free(stage->setting_lines);
        free(stage->resources.memory);
        free(stage->resources.time);
        free(stage->depends);
    }
    for (size_t i = 0; i < pipeline->summary_count; i++) {
        free(pipeline->summary[i].file);
        cli_string_list_free(&pipeline->summary[i].keys);
    }
    free(pipeline->stages);
    free(pipeline->summary);
    free(pipeline->order);
    free(pipeline->run_dir);
    free(pipeline->path);
    memset(pipeline, 0, sizeof *pipeline);
}

int pipeline_find_stage(const pipeline_t *pipeline, const char *name)
{
    for (size_t i = 0; i < pipeline->stage_count; i++)
        if (pipeline->stages[i].name && strcmp(pipeline->stages[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* --- command lines --------------------------------------------------------------------- */

void pipeline_stage_arguments(const pipeline_t *pipeline, size_t index, bool force,
                              cli_string_list_t *argv)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    for (size_t i = 0; i < stage->inputs.count; i++)
        cli_string_list_push(argv, stage->inputs.items[i]);
    if (stage->output) {
        cli_string_list_push(argv, "-o");
        cli_string_list_push(argv, stage->output);
    }
    if (stage->config) {
        cli_string_list_push(argv, "--config");
        cli_string_list_push(argv, stage->config);
    }
    for (size_t i = 0; i < stage->settings.count; i++) {
        cli_string_list_push(argv, "--set");
        cli_string_list_push(argv, stage->settings.items[i]);
    }
    if (stage->threads > 0) {
        char threads[32];
        snprintf(threads, sizeof threads, "%lld", (long long)stage->threads);
        cli_string_list_push(argv, "--threads");
        cli_string_list_push(argv, threads);
    }
    if (stage->stats_path) {
        cli_string_list_push(argv, "--stats");
        cli_string_list_push(argv, stage->stats_path);
    }
    if (force)
        cli_string_list_push(argv, "--force");
    for (size_t i = 0; i < stage->args.count; i++)
        cli_string_list_push(argv, stage->args.items[i]);
}

char *pipeline_shell_quote(const char *word)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_@%+=:,./-";
    if (word[0] && strspn(word, safe) == strlen(word))
        return copy_string(word);

    /* Single quotes keep everything literal; a quote inside becomes '\''. */
    size_t quotes = 0;
    for (const char *c = word; *c; c++)
        quotes += *c == '\'';
    char *quoted = malloc(strlen(word) + 3 * quotes + 3);
    if (!quoted)
        abort();
    char *out = quoted;
    *out++ = '\'';
    for (const char *c = word; *c; c++) {
        if (*c == '\'') {
            memcpy(out, "'\\''", 4);
            out += 4;
        } else {
            *out++ = *c;
        }
    }
    *out++ = '\'';
    *out = '\0';
    return quoted;
}

/* Appends " word" (quoted) to a growing string. */
static void append_word(char **text, size_t *length, const char *word, bool quote)
{
    char *quoted = quote ? pipeline_shell_quote(word) : copy_string(word);
    size_t add = strlen(quoted);
    char *grown = realloc(*text, *length + add + 2);
    if (!grown)
        abort();
    *text = grown;
    if (*length)
        (*text)[(*length)++] = ' ';
    memcpy(*text + *length, quoted, add + 1);
    *length += add;
    free(quoted);
}

char *pipeline_format_command(const pipeline_stage_t *stage, const cli_string_list_t *argv)
{
    char *text = NULL;
    size_t length = 0;
    append_word(&text, &length, "lmpipe", false);
    append_word(&text, &length, stage->program, true);
    for (size_t i = 0; i < argv->count; i++)
        append_word(&text, &length, argv->items[i], true);
    if (stage->stdout_path) {
        append_word(&text, &length, ">", false);
        append_word(&text, &length, stage->stdout_path, true);
    }
    return text;
}
