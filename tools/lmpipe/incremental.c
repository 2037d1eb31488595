/*
 * Incremental stages: one run per input file and a manifest over the parts
 * (see incremental.h).
 */
#include "incremental.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <glob.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "log.h"
#include "lmpipe_version.h"
#include "outdir.h"
#include "textio.h"

#define PARTS_FOLDER "files"
#define MAX_KEY_BASE 80

static char *join_path(const char *folder, const char *name)
{
    size_t size = strlen(folder) + strlen(name) + 2;
    char *path = malloc(size);
    if (path)
        snprintf(path, size, "%s/%s", folder, name);
    return path;
}

static bool has_suffix(const char *text, const char *suffix)
{
    size_t length = strlen(text), suffix_length = strlen(suffix);
    return length >= suffix_length && strcmp(text + length - suffix_length, suffix) == 0;
}

static bool is_document_name(const char *name)
{
    return has_suffix(name, ".jsonl") || has_suffix(name, ".jsonl.gz") ||
           has_suffix(name, ".jsonl.zst");
}

/* Appends the regular files under `folder`, recursively, in name order;
 * names starting with a dot are skipped. Returns 0 or -1 after logging. */
static int list_folder_files(const char *folder, cli_string_list_t *files)
{
    cli_string_list_t names = {0};
    if (outdir_list_names(folder, &names) != 0)
        return -1;
    int status = 0;
    for (size_t i = 0; i < names.count && status == 0; i++) {
        char *path = join_path(folder, names.items[i]);
        struct stat info;
        if (path && stat(path, &info) == 0 && S_ISDIR(info.st_mode))
            status = list_folder_files(path, files);
        else if (path && S_ISREG(info.st_mode))
            cli_string_list_push(files, path);
        free(path);
    }
    cli_string_list_free(&names);
    return status;
}

/* Appends the units of a stage output folder: its parts when it was written
 * incrementally, else its document files. */
static int list_output_folder(const char *folder, json_t *manifest, cli_string_list_t *units,
                              cli_string_list_t *keys)
{
    json_t *parts = json_object_get(manifest, "parts");
    size_t index;
    json_t *entry;
    if (json_is_array(parts)) {
        json_array_foreach(parts, index, entry) {
            const char *key = json_string_value(json_object_get(entry, "key"));
            if (!key)
                continue;
            char *parts = join_path(folder, PARTS_FOLDER);
            char *part = parts ? join_path(parts, key) : NULL;
            if (part) {
                cli_string_list_push(units, part);
                cli_string_list_push(keys, key);
            }
            free(part);
            free(parts);
        }
        return 0;
    }
    json_array_foreach(json_object_get(manifest, "files"), index, entry) {
        const char *name = json_string_value(json_object_get(entry, "name"));
        if (!name || !is_document_name(name))
            continue;
        char *path = join_path(folder, name);
        if (path) {
            cli_string_list_push(units, path);
            cli_string_list_push(keys, "");
        }
        free(path);
    }
    return 0;
}

/* Appends the units of one input path (no glob) and their part names: an
 * upstream part keeps its name, and "" requests one made from the path.
 * Returns 0 or -1 after logging. */
static int list_path_units(const char *path, cli_string_list_t *units, cli_string_list_t *keys)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        log_error("%s: input not found: %s; run the stage that writes it first", path,
                  strerror(errno));
        return -1;
    }
    if (!S_ISDIR(info.st_mode)) {
        cli_string_list_push(units, path);
        cli_string_list_push(keys, "");
        return 0;
    }
    char *manifest_path = join_path(path, OUTDIR_MANIFEST_NAME);
    json_t *manifest = manifest_path ? json_load_file(manifest_path, 0, NULL) : NULL;
    free(manifest_path);
    int status = 0;
    if (manifest) {
        status = list_output_folder(path, manifest, units, keys);
    } else {
        size_t first = units->count;
        status = list_folder_files(path, units);
        for (size_t i = first; i < units->count; i++)
            cli_string_list_push(keys, "");
    }
    json_decref(manifest);
    return status;
}

static int list_units(const pipeline_stage_t *stage, cli_string_list_t *units,
                      cli_string_list_t *keys)
{
    for (size_t i = 0; i < stage->inputs.count; i++) {
        const char *input = stage->inputs.items[i];
        if (!strpbrk(input, "*?[")) {
            if (list_path_units(input, units, keys) != 0)
                return -1;
            continue;
        }
        glob_t matches;
        if (glob(input, 0, NULL, &matches) != 0) {
            log_error("%s: no file matches this input of stage %s", input, stage->name);
            return -1;
        }
        int status = 0;
        for (size_t k = 0; k < matches.gl_pathc && status == 0; k++)
            status = list_path_units(matches.gl_pathv[k], units, keys);
        globfree(&matches);
        if (status != 0)
            return -1;
    }
    return 0;
}

/* The part folder name of an input: its file name with unsafe characters
 * replaced, plus a hash of the whole path so that equal names stay apart. */
static char *unit_key(const char *input)
{
    const char *base = input;
    size_t length = strlen(input);
    while (length > 1 && input[length - 1] == '/')
        length--;
    for (size_t i = 0; i + 1 < length; i++)
        if (input[i] == '/')
            base = input + i + 1;
    size_t base_length = (size_t)(input + length - base);
    if (base_length > MAX_KEY_BASE)
        base_length = MAX_KEY_BASE;
    char *key = malloc(base_length + 20);
    if (!key)
        return NULL;
    for (size_t i = 0; i < base_length; i++) {
        char c = base[i];
        bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
        key[i] = safe ? c : '_';
    }
    snprintf(key + base_length, 20, "-%08x", (unsigned)XXH32(input, length, 0));
    return key;
}

/* A copy of the pipeline whose stage `index` reads only `input` and writes
 * `part`, without a stats file; `stages` receives the array to free. */
static pipeline_t unit_pipeline(const pipeline_t *pipeline, size_t index, const char *input,
                                const char *part, pipeline_stage_t **stages,
                                cli_string_list_t *inputs)
{
    pipeline_t copy = *pipeline;
    *stages = malloc(pipeline->stage_count * sizeof **stages);
    memcpy(*stages, pipeline->stages, pipeline->stage_count * sizeof **stages);
    cli_string_list_push(inputs, input);
    (*stages)[index].inputs = *inputs;
    (*stages)[index].output = (char *)part;
    (*stages)[index].stats_path = NULL;
    copy.stages = *stages;
    return copy;
}

static void build_unit_arguments(const pipeline_t *pipeline, size_t index, const char *input,
                                 const char *part, bool force, cli_string_list_t *arguments,
                                 char **command)
{
    pipeline_stage_t *stages = NULL;
    cli_string_list_t inputs = {0};
    pipeline_t copy = unit_pipeline(pipeline, index, input, part, &stages, &inputs);
    pipeline_stage_arguments(&copy, index, force, arguments);
    if (command)
        *command = pipeline_format_command(&copy.stages[index], arguments);
    cli_string_list_free(&inputs);
    free(stages);
}

/* Checksum of a whole file as hex, or an empty string when it cannot be read. */
static void checksum_file(const char *path, char out_hex[33])
{
    out_hex[0] = '\0';
    FILE *file = fopen(path, "rb");
    if (!file)
        return;
    XXH3_state_t *state = XXH3_createState();
    XXH3_128bits_reset(state);
    unsigned char buffer[1 << 16];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0)
        XXH3_128bits_update(state, buffer, got);
    XXH128_hash_t hash = XXH3_128bits_digest(state);
    XXH3_freeState(state);
    fclose(file);
    snprintf(out_hex, 33, "%016llx%016llx", (unsigned long long)hash.high64,
             (unsigned long long)hash.low64);
}

/* The identity of an input between runs: size and modification time of a
 * file, or the checksum of a folder's manifest. */
static json_t *input_stamp(const char *input)
{
    json_t *stamp = json_object();
    struct stat info;
    if (stat(input, &info) != 0)
        return stamp;
    if (S_ISDIR(info.st_mode)) {
        char *manifest = join_path(input, OUTDIR_MANIFEST_NAME);
        char checksum[33];
        checksum_file(manifest, checksum);
        free(manifest);
        json_object_set_new(stamp, "manifest_xxh3", json_string(checksum));
        return stamp;
    }
    json_object_set_new(stamp, "bytes", json_integer((json_int_t)info.st_size));
    json_object_set_new(stamp, "mtime_ns", json_integer((json_int_t)info.st_mtim.tv_sec *
                                                        1000000000 + info.st_mtim.tv_nsec));
    return stamp;
}

static json_t *find_part(json_t *manifest, const char *key)
{
    size_t index;
    json_t *entry;
    json_array_foreach(json_object_get(manifest, "parts"), index, entry) {
        const char *name = json_string_value(json_object_get(entry, "key"));
        if (name && strcmp(name, key) == 0)
            return entry;
    }
    return NULL;
}

static bool json_text_equals(json_t *object, const char *key, const char *expected)
{
    const char *value = json_string_value(json_object_get(object, key));
    return value && strcmp(value, expected) == 0;
}

/* Decides whether a unit's part can be reused as it is. */
static incremental_state_t unit_state(const incremental_unit_t *unit, json_t *previous)
{
    char *manifest_path = join_path(unit->part, OUTDIR_MANIFEST_NAME);
    json_t *manifest = manifest_path ? json_load_file(manifest_path, 0, NULL) : NULL;
    if (!manifest) {
        free(manifest_path);
        return INCREMENTAL_NEW;
    }
    incremental_state_t state = INCREMENTAL_CHANGED;
    json_t *entry = find_part(previous, unit->key);
    char checksum[33];
    checksum_file(manifest_path, checksum);
    json_t *stamp = input_stamp(unit->input);
    if (entry && json_text_equals(manifest, "program_version", LMPIPE_VERSION) &&
        json_text_equals(entry, "command", unit->command) &&
        json_text_equals(entry, "manifest_xxh3", checksum) &&
        json_equal(json_object_get(entry, "input_stamp"), stamp))
        state = INCREMENTAL_REUSED;
    json_decref(stamp);
    json_decref(manifest);
    free(manifest_path);
    return state;
}

static json_t *load_stage_manifest(const pipeline_stage_t *stage)
{
    char *path = join_path(stage->output, OUTDIR_MANIFEST_NAME);
    json_t *manifest = path ? json_load_file(path, 0, NULL) : NULL;
    free(path);
    return manifest;
}

int incremental_plan(const pipeline_t *pipeline, size_t index, bool force,
                     incremental_plan_t *plan)
{
    memset(plan, 0, sizeof *plan);
    const pipeline_stage_t *stage = &pipeline->stages[index];
    cli_string_list_t inputs = {0}, keys = {0};
    if (list_units(stage, &inputs, &keys) != 0 || keys.count != inputs.count) {
        cli_string_list_free(&inputs);
        cli_string_list_free(&keys);
        return -1;
    }
    plan->units = calloc(inputs.count + 1, sizeof *plan->units);
    plan->to_run = calloc(inputs.count + 1, sizeof *plan->to_run);
    json_t *previous = load_stage_manifest(stage);
    char *parts = join_path(stage->output, PARTS_FOLDER);
    for (size_t i = 0; i < inputs.count && plan->units && plan->to_run && parts; i++) {
        incremental_unit_t *unit = &plan->units[plan->count++];
        unit->input = strdup(inputs.items[i]);
        unit->key = keys.items[i][0] ? strdup(keys.items[i]) : unit_key(unit->input);
        unit->part = join_path(parts, unit->key);
        cli_string_list_t arguments = {0};
        build_unit_arguments(pipeline, index, unit->input, unit->part, false, &arguments,
                             &unit->command);
        cli_string_list_free(&arguments);
        unit->state = unit_state(unit, previous);
        plan->counts[unit->state]++;
        if (force || unit->state != INCREMENTAL_REUSED)
            plan->to_run[plan->run_count++] = i;
    }
    free(parts);
    json_decref(previous);
    size_t listed = inputs.count;
    cli_string_list_free(&inputs);
    cli_string_list_free(&keys);
    if (plan->count != listed) {
        log_error("out of memory while planning stage %s", stage->name);
        incremental_plan_free(plan);
        return -1;
    }
    return 0;
}

void incremental_plan_free(incremental_plan_t *plan)
{
    for (size_t i = 0; i < plan->count; i++) {
        free(plan->units[i].input);
        free(plan->units[i].key);
        free(plan->units[i].part);
        free(plan->units[i].command);
    }
    free(plan->units);
    free(plan->to_run);
    memset(plan, 0, sizeof *plan);
}

void incremental_unit_arguments(const pipeline_t *pipeline, size_t index,
                                const incremental_plan_t *plan, size_t unit, bool force,
                                cli_string_list_t *arguments)
{
    build_unit_arguments(pipeline, index, plan->units[unit].input, plan->units[unit].part, force,
                         arguments, NULL);
}

void incremental_describe(const incremental_plan_t *plan, char *text, size_t size)
{
    snprintf(text, size, "%zu input files: %zu new, %zu changed, %zu reused", plan->count,
             plan->counts[INCREMENTAL_NEW], plan->counts[INCREMENTAL_CHANGED],
             plan->counts[INCREMENTAL_REUSED]);
}

void incremental_begin(const pipeline_t *pipeline, size_t index)
{
    char *path = join_path(pipeline->stages[index].output, OUTDIR_MANIFEST_NAME);
    if (path && unlink(path) == 0)
        log_info("%s: removed; the parts are being rebuilt", path);
    free(path);
}

/* Adds the numbers of `from` into `into`, recursively; other values are kept
 * from the first part. */
static void add_numbers(json_t *into, json_t *from)
{
    const char *key;
    json_t *value;
    json_object_foreach(from, key, value) {
        json_t *existing = json_object_get(into, key);
        if (!existing) {
            json_object_set_new(into, key, json_deep_copy(value));
        } else if (json_is_integer(existing) && json_is_integer(value)) {
            json_object_set_new(into, key, json_integer(json_integer_value(existing) +
                                                        json_integer_value(value)));
        } else if (json_is_number(existing) && json_is_number(value)) {
            json_object_set_new(into, key, json_real(json_number_value(existing) +
                                                     json_number_value(value)));
        } else if (json_is_object(existing) && json_is_object(value)) {
            add_numbers(existing, value);
        }
    }
}

static int remove_entry(const char *path, const struct stat *info, int type, struct FTW *walk)
{
    (void)info;
    (void)type;
    (void)walk;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Removes part folders whose input is no longer listed. */
static void remove_stale_parts(const char *output, const incremental_plan_t *plan)
{
    char *parts = join_path(output, PARTS_FOLDER);
    DIR *directory = parts ? opendir(parts) : NULL;
    struct dirent *entry;
    while (directory && (entry = readdir(directory)) != NULL) {
        if (entry->d_name[0] == '.')
            continue;
        bool listed = false;
        for (size_t i = 0; i < plan->count && !listed; i++)
            listed = strcmp(plan->units[i].key, entry->d_name) == 0;
        if (listed)
            continue;
        char *path = join_path(parts, entry->d_name);
        if (path && nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0)
            log_info("%s: removed the part of an input that is gone", path);
        free(path);
    }
    if (directory)
        closedir(directory);
    free(parts);
}

static int write_text_atomically(const char *path, const char *text)
{
    text_writer_t *writer = text_writer_open(path, TEXT_PLAIN, 0);
    if (!writer)
        return -1;
    if (text_writer_write(writer, text, strlen(text)) != 0) {
        text_writer_abort(writer);
        return -1;
    }
    return text_writer_commit(writer);
}

/* Adds one part to the manifest being built: its files under files/KEY, its
 * records, extra values and stats. Returns 0 or -1 after logging. */
static int add_part(const incremental_unit_t *unit, json_t *manifest, json_t *stats,
                    XXH3_state_t *inputs_hash)
{
    char *manifest_path = join_path(unit->part, OUTDIR_MANIFEST_NAME);
    json_t *part = manifest_path ? json_load_file(manifest_path, 0, NULL) : NULL;
    if (!part) {
        log_error("%s: the part of input %s has no manifest; rerun the stage", unit->part,
                  unit->input);
        free(manifest_path);
        return -1;
    }
    char checksum[33];
    checksum_file(manifest_path, checksum);
    free(manifest_path);
    XXH3_128bits_update(inputs_hash, unit->key, strlen(unit->key) + 1);
    XXH3_128bits_update(inputs_hash, checksum, sizeof checksum);
    if (!json_object_get(manifest, "settings_hash")) {
        json_object_set(manifest, "settings_hash", json_object_get(part, "settings_hash"));
        json_object_set(manifest, "settings", json_object_get(part, "settings"));
    }

    json_t *files = json_object_get(manifest, "files");
    size_t index;
    json_t *file;
    json_array_foreach(json_object_get(part, "files"), index, file) {
        const char *name = json_string_value(json_object_get(file, "name"));
        if (!name || strcmp(name, "stats.json") == 0)
            continue;
        json_t *copy = json_deep_copy(file);
        char prefixed[1024];
        snprintf(prefixed, sizeof prefixed, "%s/%s/%s", PARTS_FOLDER, unit->key, name);
        json_object_set_new(copy, "name", json_string(prefixed));
        json_object_set_new(copy, "task", json_integer(0));
        json_array_append_new(files, copy);
    }
    json_t *records = json_object_get(manifest, "records");
    json_object_set_new(manifest, "records", json_integer(json_integer_value(records) +
                                                          json_integer_value(json_object_get(part, "records"))));
    add_numbers(json_object_get(manifest, "extra"), json_object_get(part, "extra"));

    char *stats_path = join_path(unit->part, "stats.json");
    json_t *part_stats = stats_path ? json_load_file(stats_path, 0, NULL) : NULL;
    free(stats_path);
    if (part_stats)
        add_numbers(stats, part_stats);
    json_decref(part_stats);

    json_t *entry = json_object();
    json_object_set_new(entry, "key", json_string(unit->key));
    json_object_set_new(entry, "input", json_string(unit->input));
    json_object_set_new(entry, "input_stamp", input_stamp(unit->input));
    json_object_set_new(entry, "command", json_string(unit->command));
    json_object_set_new(entry, "manifest_xxh3", json_string(checksum));
    json_array_append_new(json_object_get(manifest, "parts"), entry);
    json_decref(part);
    return 0;
}

static json_t *new_manifest(const pipeline_stage_t *stage)
{
    json_t *manifest = json_object();
    json_object_set_new(manifest, "format", json_string("lmpipe-manifest"));
    json_object_set_new(manifest, "format_version", json_integer(1));
    json_object_set_new(manifest, "program", json_string(stage->program));
    json_object_set_new(manifest, "program_version", json_string(LMPIPE_VERSION));
    json_object_set_new(manifest, "task_count", json_integer(1));
    json_object_set_new(manifest, "files", json_array());
    json_object_set_new(manifest, "records", json_integer(0));
    json_object_set_new(manifest, "extra", json_object());
    json_object_set_new(manifest, "parts", json_array());
    return manifest;
}

/* Writes the summed stats into the folder and to the stage's stats file, and
 * lists stats.json in the manifest. Returns 0 or -1 after logging. */
static int write_stats(const pipeline_stage_t *stage, json_t *stats, json_t *manifest)
{
    json_object_set_new(stats, "program", json_string(stage->program));
    char *text = json_dumps(stats, JSON_INDENT(2) | JSON_SORT_KEYS);
    char *path = join_path(stage->output, "stats.json");
    int status = text && path ? write_text_atomically(path, text) : -1;
    if (status == 0 && stage->stats_path)
        status = write_text_atomically(stage->stats_path, text);
    if (status == 0) {
        char checksum[33];
        checksum_file(path, checksum);
        json_t *file = json_object();
        json_object_set_new(file, "name", json_string("stats.json"));
        json_object_set_new(file, "bytes", json_integer((json_int_t)strlen(text)));
        json_object_set_new(file, "xxh3_128", json_string(checksum));
        json_object_set_new(file, "records", json_integer(0));
        json_object_set_new(file, "task", json_integer(0));
        json_array_append_new(json_object_get(manifest, "files"), file);
    } else {
        log_error("%s: failed to write the stats of stage %s", path ? path : "?", stage->name);
    }
    free(text);
    free(path);
    return status;
}

/* Writes `text` as the manifest unless the file already contains exactly it. */
static int write_manifest_if_changed(const char *output, const char *text)
{
    char *path = join_path(output, OUTDIR_MANIFEST_NAME);
    if (!path)
        return -1;
    int status = 0;
    FILE *file = fopen(path, "rb");
    size_t length = strlen(text);
    char *existing = malloc(length + 2);
    size_t got = file && existing ? fread(existing, 1, length + 1, file) : 0;
    if (file)
        fclose(file);
    bool same = existing && got == length && memcmp(existing, text, length) == 0;
    free(existing);
    if (!same)
        status = write_text_atomically(path, text);
    free(path);
    return status;
}

int incremental_finish(const pipeline_t *pipeline, size_t index, const incremental_plan_t *plan)
{
    const pipeline_stage_t *stage = &pipeline->stages[index];
    remove_stale_parts(stage->output, plan);
    json_t *manifest = new_manifest(stage);
    json_t *stats = json_object();
    XXH3_state_t *inputs_hash = XXH3_createState();
    XXH3_128bits_reset(inputs_hash);
    int status = 0;
    for (size_t i = 0; i < plan->count && status == 0; i++)
        status = add_part(&plan->units[i], manifest, stats, inputs_hash);
    XXH128_hash_t hash = XXH3_128bits_digest(inputs_hash);
    XXH3_freeState(inputs_hash);
    char hex[33];
    snprintf(hex, sizeof hex, "%016llx%016llx", (unsigned long long)hash.high64,
             (unsigned long long)hash.low64);
    json_object_set_new(manifest, "inputs_hash", json_string(hex));
    if (!json_object_get(manifest, "settings_hash"))
        json_object_set_new(manifest, "settings_hash", json_string(""));
    if (status == 0)
        status = write_stats(stage, stats, manifest);
    char *text = status == 0 ? json_dumps(manifest, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text) {
        size_t length = strlen(text);
        char *line = realloc(text, length + 2);
        if (line) {
            text = line;
            memcpy(text + length, "\n", 2);
            status = write_manifest_if_changed(stage->output, text);
        } else {
            status = -1;
        }
    } else {
        status = -1;
    }
    if (status == 0)
        log_info("%s: complete (%zu parts, %lld records)", stage->output, plan->count,
                 (long long)json_integer_value(json_object_get(manifest, "records")));
    free(text);
    json_decref(stats);
    json_decref(manifest);
    return status;
}
