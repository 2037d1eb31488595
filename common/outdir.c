/*
 * Atomic output folders with manifests (see outdir.h).
 */
#include "outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "endpoint.h"
#include "lmpipe_version.h"
#include "log.h"

#define TASKS_FOLDER ".tasks"
/* Past this size an input file enters the inputs hash by name, size and
 * modification time instead of by content, so huge corpora are not re-read. */
#define CONTENT_HASH_LIMIT ((uint64_t)1 << 30)

typedef struct {
    char *name;
    uint64_t bytes;
    char checksum[33];
    uint64_t records;
} outdir_file_t;

struct outdir {
    char *path;
    outdir_identity_t identity;
    outdir_file_t *files;
    size_t file_count;
    json_t *extra;
};

static void hash_to_hex(XXH128_hash_t hash, char out_hex[33])
{
    snprintf(out_hex, 33, "%016llx%016llx", (unsigned long long)hash.high64,
             (unsigned long long)hash.low64);
}

static char *join_path(const char *folder, const char *name)
{
    size_t size = strlen(folder) + strlen(name) + 2;
    char *path = malloc(size);
    if (path)
        snprintf(path, size, "%s/%s", folder, name);
    return path;
}

/* Creates `path` and its parents. Returns 0 or -1 after logging. */
static int make_folders(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -1;
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            log_error("%s: cannot create folder: %s", copy, strerror(errno));
            free(copy);
            return -1;
        }
        *p = '/';
    }
    int status = 0;
    if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
        log_error("%s: cannot create folder: %s", copy, strerror(errno));
        status = -1;
    }
    free(copy);
    return status;
}

/* Hashes a file's content into `state`. Returns 0 or -1 after logging. */
static int hash_file_into(XXH3_state_t *state, const char *path, uint64_t *bytes_out)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        log_error("%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    unsigned char buffer[1 << 16];
    size_t got;
    uint64_t bytes = 0;
    while ((got = fread(buffer, 1, sizeof buffer, file)) > 0) {
        XXH3_128bits_update(state, buffer, got);
        bytes += got;
    }
    int status = ferror(file) ? -1 : 0;
    if (status)
        log_error("%s: read failed: %s", path, strerror(errno));
    fclose(file);
    if (bytes_out)
        *bytes_out = bytes;
    return status;
}

static int checksum_file(const char *path, char out_hex[33], uint64_t *bytes)
{
    XXH3_state_t *state = XXH3_createState();
    XXH3_128bits_reset(state);
    int status = hash_file_into(state, path, bytes);
    hash_to_hex(XXH3_128bits_digest(state), out_hex);
    XXH3_freeState(state);
    return status;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int outdir_list_names(const char *folder, cli_string_list_t *names)
{
    DIR *directory = opendir(folder);
    if (!directory) {
        log_error("%s: cannot read folder: %s", folder, strerror(errno));
        return -1;
    }
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL)
        if (entry->d_name[0] != '.')
            cli_string_list_push(names, entry->d_name);
    closedir(directory);
    qsort(names->items, names->count, sizeof *names->items, compare_strings);
    return 0;
}

/* Hashes a file or a folder (recursively, in name order) into `state`. */
static int hash_path_into(XXH3_state_t *state, const char *path)
{
    struct stat info;
    if (stat(path, &info) != 0) {
        log_error("%s: input not found: %s", path, strerror(errno));
        return -1;
    }
    if (S_ISREG(info.st_mode)) {
        XXH3_128bits_update(state, path, strlen(path) + 1);
        if ((uint64_t)info.st_size > CONTENT_HASH_LIMIT) {
            int64_t facts[2] = {(int64_t)info.st_size, (int64_t)info.st_mtime};
            XXH3_128bits_update(state, facts, sizeof facts);
            return 0;
        }
        return hash_file_into(state, path, NULL);
    }
    if (!S_ISDIR(info.st_mode))
        return 0;

    /* A finished output folder is identified by its manifest alone. */
    char *manifest = join_path(path, OUTDIR_MANIFEST_NAME);
    if (manifest && access(manifest, R_OK) == 0) {
        XXH3_128bits_update(state, "manifest", 9);
        int status = hash_file_into(state, manifest, NULL);
        free(manifest);
        return status;
    }
    free(manifest);

    cli_string_list_t names = {0};
    if (outdir_list_names(path, &names) != 0)
        return -1;
    int status = 0;
    for (size_t i = 0; i < names.count && status == 0; i++) {
        char *child = join_path(path, names.items[i]);
        status = child ? hash_path_into(state, child) : -1;
        free(child);
    }
    cli_string_list_free(&names);
    return status;
}

static bool is_stream_input(const char *input)
{
    return strcmp(input, "-") == 0 || endpoint_is_address(input);
}

int outdir_hash_inputs(const cli_string_list_t *inputs, char out_hex[33])
{
    XXH3_state_t *state = XXH3_createState();
    XXH3_128bits_reset(state);
    int status = 0;
    for (size_t i = 0; i < inputs->count && status == 0; i++) {
        const char *input = inputs->items[i];
        if (is_stream_input(input)) {
            /* A stream cannot be compared with an earlier run, so its hash
             * never repeats and the output is always rebuilt. */
            struct timespec now;
            clock_gettime(CLOCK_REALTIME, &now);
            int64_t marker[3] = {(int64_t)now.tv_sec, (int64_t)now.tv_nsec, (int64_t)getpid()};
            XXH3_128bits_update(state, marker, sizeof marker);
            continue;
        }
        status = hash_path_into(state, input);
    }
    hash_to_hex(XXH3_128bits_digest(state), out_hex);
    XXH3_freeState(state);
    return status;
}

int outdir_identity_add_file(outdir_identity_t *identity, const char *path)
{
    XXH3_state_t *state = XXH3_createState();
    XXH3_128bits_reset(state);
    XXH3_128bits_update(state, identity->inputs_hash, 32);
    int status = hash_path_into(state, path);
    hash_to_hex(XXH3_128bits_digest(state), identity->inputs_hash);
    XXH3_freeState(state);
    return status;
}

int outdir_identity_from_cli(outdir_identity_t *identity, const cli_program_t *program)
{
    memset(identity, 0, sizeof *identity);
    identity->program = program->name;
    cli_settings_hash(program, identity->settings_hash);
    identity->settings_json = cli_settings_json(program);
    identity->task_index = program->stage ? program->stage->task_index : 0;
    identity->task_count = program->stage ? program->stage->task_count : 1;
    if (program->stage)
        return outdir_hash_inputs(&program->stage->inputs, identity->inputs_hash);
    cli_string_list_t none = {0};
    return outdir_hash_inputs(&none, identity->inputs_hash);
}

void outdir_identity_free(outdir_identity_t *identity)
{
    free(identity->settings_json);
    identity->settings_json = NULL;
}

static char *task_record_path(const char *folder, int64_t index, int64_t count)
{
    char name[96];
    snprintf(name, sizeof name, "%s/task-%05lld-of-%05lld.json", TASKS_FOLDER,
             (long long)index, (long long)count);
    return join_path(folder, name);
}

static bool json_string_equals(json_t *object, const char *key, const char *expected)
{
    const char *value = json_string_value(json_object_get(object, key));
    return value && expected && strcmp(value, expected) == 0;
}

/* Checks that a manifest or task record was made by the same program, version,
 * settings and inputs, and that its files are present with their sizes.
 * Sets *reason to a static description when it does not match. */
static bool record_matches(json_t *record, const char *folder,
                           const outdir_identity_t *identity, const char **reason)
{
    if (!json_string_equals(record, "program", identity->program)) {
        *reason = "it was made by another program";
        return false;
    }
    if (!json_string_equals(record, "program_version", LMPIPE_VERSION)) {
        *reason = "the program version changed";
        return false;
    }
    if (!json_string_equals(record, "settings_hash", identity->settings_hash)) {
        *reason = "the settings changed";
        return false;
    }
    if (!json_string_equals(record, "inputs_hash", identity->inputs_hash)) {
        *reason = "the inputs changed";
        return false;
    }
    if (json_integer_value(json_object_get(record, "task_count")) != identity->task_count) {
        *reason = "the task count changed";
        return false;
    }
    size_t index;
    json_t *file;
    json_array_foreach(json_object_get(record, "files"), index, file) {
        const char *name = json_string_value(json_object_get(file, "name"));
        char *path = name ? join_path(folder, name) : NULL;
        struct stat info;
        bool present = path && stat(path, &info) == 0 &&
                       (json_int_t)info.st_size == json_integer_value(json_object_get(file, "bytes"));
        free(path);
        if (!present) {
            *reason = "a listed file is missing or has another size";
            return false;
        }
    }
    return true;
}

bool outdir_is_current(const char *path, const outdir_identity_t *identity)
{
    const char *reason = "it has no manifest";
    char *manifest_path = join_path(path, OUTDIR_MANIFEST_NAME);
    json_t *manifest = manifest_path ? json_load_file(manifest_path, 0, NULL) : NULL;
    free(manifest_path);
    bool current = manifest && record_matches(manifest, path, identity, &reason);
    json_decref(manifest);
    if (!current && identity->task_count > 1) {
        char *record_path = task_record_path(path, identity->task_index, identity->task_count);
        json_t *record = record_path ? json_load_file(record_path, 0, NULL) : NULL;
        free(record_path);
        current = record && record_matches(record, path, identity, &reason);
        json_decref(record);
    }
    if (cli_check_only()) {
        /* The decision goes to standard output for lmpipe's plan, and the caller
         * sees "current" so that it skips the build either way. */
        if (current)
            printf("current\n");
        else
            printf("stale: %s\n", reason);
        fflush(stdout);
        return true;
    }
    if (current)
        log_info("%s is up to date (same program version, settings and inputs); "
                 "skipping, use --force to rebuild", path);
    else
        log_info("%s will be built: %s", path, reason);
    return current;
}

/* Returns the process id in a temporary name "NAME.tmp-PID", or 0. */
static long temporary_owner(const char *name)
{
    const char *marker = strstr(name, ".tmp-");
    if (!marker)
        return 0;
    char *end;
    long pid = strtol(marker + 5, &end, 10);
    return *end == '\0' && pid > 0 ? pid : 0;
}

/* Returns true when process `pid` runs. A zombie (killed, not yet reaped,
 * common in containers whose first process reaps nothing) does not. */
static bool process_runs(long pid)
{
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return false;
    char path[64], stat_line[256];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file)
        return true;
    size_t length = fread(stat_line, 1, sizeof stat_line - 1, file);
    fclose(file);
    stat_line[length] = '\0';
    /* The state follows the command name in parentheses, which may contain spaces. */
    const char *close = strrchr(stat_line, ')');
    return !(close && close[1] == ' ' && close[2] == 'Z');
}

void outdir_remove_orphaned_temporaries(const char *folder)
{
    DIR *directory = opendir(folder);
    if (!directory)
        return;
    struct dirent *entry;
    while ((entry = readdir(directory)) != NULL) {
        long pid = temporary_owner(entry->d_name);
        if (pid == 0 || pid == (long)getpid() || process_runs(pid))
            continue;
        char *path = join_path(folder, entry->d_name);
        if (path && unlink(path) == 0)
            log_info("%s: removed a temporary file left by an interrupted run", path);
        free(path);
    }
    closedir(directory);
}

/* Removes the files an earlier record listed, so that a rebuilt folder holds
 * no stale parts. Only listed files are removed: the folder may hold others. */
static void remove_listed_files(const char *folder, const char *record_path)
{
    json_t *record = json_load_file(record_path, 0, NULL);
    if (!record)
        return;
    size_t index;
    json_t *file;
    json_array_foreach(json_object_get(record, "files"), index, file) {
        const char *name = json_string_value(json_object_get(file, "name"));
        if (!name || strstr(name, "..") || name[0] == '/')
            continue;
        char *path = join_path(folder, name);
        if (path)
            unlink(path);
        free(path);
    }
    json_decref(record);
}

outdir_t *outdir_open(const char *path, const outdir_identity_t *identity)
{
    if (make_folders(path) != 0)
        return NULL;
    char *tasks = join_path(path, TASKS_FOLDER);
    if (!tasks || make_folders(tasks) != 0) {
        free(tasks);
        return NULL;
    }
    free(tasks);

    outdir_t *outdir = calloc(1, sizeof *outdir);
    if (!outdir)
        return NULL;
    outdir->path = strdup(path);
    outdir->identity = *identity;
    outdir->identity.settings_json = identity->settings_json ? strdup(identity->settings_json)
                                                             : NULL;
    outdir->extra = json_object();

    char *manifest = join_path(path, OUTDIR_MANIFEST_NAME);
    char *record = task_record_path(path, identity->task_index, identity->task_count);
    if (identity->task_count == 1 && manifest)
        remove_listed_files(path, manifest);
    if (record) {
        remove_listed_files(path, record);
        unlink(record);
    }
    if (manifest && unlink(manifest) == 0)
        log_info("%s: removed the earlier manifest; the folder is being rebuilt", path);
    outdir_remove_orphaned_temporaries(path);
    free(manifest);
    free(record);
    log_debug("%s: output opened for task %lld of %lld", path, (long long)identity->task_index,
              (long long)identity->task_count);
    return outdir;
}

const char *outdir_path(const outdir_t *outdir)
{
    return outdir->path;
}

char *outdir_temp_path(const outdir_t *outdir, const char *name)
{
    size_t size = strlen(outdir->path) + strlen(name) + 40;
    char *path = malloc(size);
    if (path)
        snprintf(path, size, "%s/%s.tmp-%ld", outdir->path, name, (long)getpid());
    return path;
}

text_writer_t *outdir_create_text(outdir_t *outdir, const char *name,
                                  text_compression_t compression)
{
    char *path = join_path(outdir->path, name);
    if (!path)
        return NULL;
    text_writer_t *writer = text_writer_open(path, compression, 0);
    free(path);
    return writer;
}

int outdir_add_file(outdir_t *outdir, const char *name, uint64_t records)
{
    char *path = join_path(outdir->path, name);
    if (!path)
        return -1;
    outdir_file_t file = {.records = records};
    int status = checksum_file(path, file.checksum, &file.bytes);
    free(path);
    if (status != 0)
        return -1;
    outdir_file_t *grown = realloc(outdir->files, (outdir->file_count + 1) * sizeof *grown);
    file.name = strdup(name);
    if (!grown || !file.name) {
        free(file.name);
        return -1;
    }
    outdir->files = grown;
    outdir->files[outdir->file_count++] = file;
    return 0;
}

int outdir_commit_text(outdir_t *outdir, text_writer_t *writer, const char *name,
                       uint64_t records)
{
    if (text_writer_commit(writer) != 0)
        return -1;
    return outdir_add_file(outdir, name, records);
}

void outdir_set_extra(outdir_t *outdir, const char *key, const char *json_value)
{
    json_t *value = json_loads(json_value, JSON_DECODE_ANY, NULL);
    if (!value) {
        log_error("invalid JSON for manifest key %s: %s", key, json_value);
        return;
    }
    json_object_set_new(outdir->extra, key, value);
}

static json_t *identity_json(const outdir_identity_t *identity)
{
    json_t *record = json_object();
    json_object_set_new(record, "format", json_string("lmpipe-manifest"));
    json_object_set_new(record, "format_version", json_integer(1));
    json_object_set_new(record, "program", json_string(identity->program));
    json_object_set_new(record, "program_version", json_string(LMPIPE_VERSION));
    json_object_set_new(record, "settings_hash", json_string(identity->settings_hash));
    json_t *settings = identity->settings_json ? json_loads(identity->settings_json, 0, NULL)
                                               : NULL;
    json_object_set_new(record, "settings", settings ? settings : json_object());
    json_object_set_new(record, "inputs_hash", json_string(identity->inputs_hash));
    json_object_set_new(record, "task_count", json_integer(identity->task_count));
    return record;
}

static int write_json_atomically(json_t *value, const char *path)
{
    char *text = json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        return -1;
    int status = -1;
    text_writer_t *writer = text_writer_open(path, TEXT_PLAIN, 0);
    if (writer) {
        if (text_writer_write(writer, text, strlen(text)) == 0 &&
            text_writer_write(writer, "\n", 1) == 0)
            status = text_writer_commit(writer);
        else
            text_writer_abort(writer);
    }
    free(text);
    return status;
}

/* Adds numbers under the same key; other values: the later task wins. */
static void merge_extra(json_t *into, json_t *from)
{
    const char *key;
    json_t *value;
    json_object_foreach(from, key, value) {
        json_t *existing = json_object_get(into, key);
        if (existing && json_is_integer(existing) && json_is_integer(value))
            json_object_set_new(into, key, json_integer(json_integer_value(existing) +
                                                        json_integer_value(value)));
        else
            json_object_set(into, key, value);
    }
}

/* With the folder lock held: writes the manifest when every task record is
 * present and matches this run. Returns 0 (also when tasks are missing) or -1. */
static int write_manifest_if_complete(outdir_t *outdir)
{
    const outdir_identity_t *identity = &outdir->identity;
    json_t *manifest = identity_json(identity);
    json_t *files = json_array();
    json_t *extra = json_object();
    json_int_t total_records = 0;
    int status = 0;
    for (int64_t task = 0; task < identity->task_count; task++) {
        char *path = task_record_path(outdir->path, task, identity->task_count);
        json_t *record = path ? json_load_file(path, 0, NULL) : NULL;
        free(path);
        const char *reason = NULL;
        if (!record || !record_matches(record, outdir->path, identity, &reason)) {
            log_info("%s: task %lld of %lld has not finished; the manifest is written by the "
                     "last task", outdir->path, (long long)task, (long long)identity->task_count);
            json_decref(record);
            goto done;
        }
        size_t index;
        json_t *file;
        json_array_foreach(json_object_get(record, "files"), index, file) {
            json_array_append(files, file);
            total_records += json_integer_value(json_object_get(file, "records"));
        }
        merge_extra(extra, json_object_get(record, "extra"));
        json_decref(record);
    }
    json_object_set(manifest, "files", files);
    json_object_set_new(manifest, "records", json_integer(total_records));
    json_object_set(manifest, "extra", extra);
    char *path = join_path(outdir->path, OUTDIR_MANIFEST_NAME);
    status = path ? write_json_atomically(manifest, path) : -1;
    if (status == 0)
        log_info("%s: complete (%zu files, %lld records)", outdir->path, json_array_size(files),
                 (long long)total_records);
    free(path);
done:
    json_decref(files);
    json_decref(extra);
    json_decref(manifest);
    return status;
}

static void outdir_free(outdir_t *outdir)
{
    for (size_t i = 0; i < outdir->file_count; i++)
        free(outdir->files[i].name);
    free(outdir->files);
    json_decref(outdir->extra);
    free(outdir->identity.settings_json);
    free(outdir->path);
    free(outdir);
}

int outdir_finish(outdir_t *outdir)
{
    const outdir_identity_t *identity = &outdir->identity;
    json_t *record = identity_json(identity);
    json_object_set_new(record, "task_index", json_integer(identity->task_index));
    json_t *files = json_array();
    for (size_t i = 0; i < outdir->file_count; i++) {
        json_t *file = json_object();
        json_object_set_new(file, "name", json_string(outdir->files[i].name));
        json_object_set_new(file, "bytes", json_integer((json_int_t)outdir->files[i].bytes));
        json_object_set_new(file, "xxh3_128", json_string(outdir->files[i].checksum));
        json_object_set_new(file, "records", json_integer((json_int_t)outdir->files[i].records));
        json_object_set_new(file, "task", json_integer(identity->task_index));
        json_array_append_new(files, file);
    }
    json_object_set_new(record, "files", files);
    json_object_set(record, "extra", outdir->extra);

    int status = -1;
    char *record_path = task_record_path(outdir->path, identity->task_index, identity->task_count);
    char *lock_path = join_path(outdir->path, TASKS_FOLDER "/lock");
    int lock = lock_path ? open(lock_path, O_CREAT | O_RDWR, 0666) : -1;
    if (!record_path || lock < 0) {
        log_error("%s: cannot create the task lock: %s", outdir->path, strerror(errno));
        goto done;
    }
    /* Tasks of a job array may finish at the same moment; the lock makes the
     * check "all tasks recorded" and the manifest write one step. */
    if (flock(lock, LOCK_EX) != 0) {
        log_error("%s: cannot lock the output folder: %s", outdir->path, strerror(errno));
        goto done;
    }
    if (write_json_atomically(record, record_path) == 0)
        status = write_manifest_if_complete(outdir);
    flock(lock, LOCK_UN);
done:
    if (lock >= 0)
        close(lock);
    free(lock_path);
    free(record_path);
    json_decref(record);
    outdir_free(outdir);
    return status;
}

void outdir_abort(outdir_t *outdir)
{
    if (!outdir)
        return;
    log_warn("%s: output abandoned; no manifest written", outdir->path);
    outdir_free(outdir);
}

int outdir_list_files(const char *path, bool verify_checksums, cli_string_list_t *names)
{
    struct stat folder_info;
    if (stat(path, &folder_info) != 0) {
        log_error("%s: not found: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(folder_info.st_mode)) {
        log_error("%s: not a folder; expected an output folder written by a stage "
                  "(with a %s)", path, OUTDIR_MANIFEST_NAME);
        return -1;
    }
    char *manifest_path = join_path(path, OUTDIR_MANIFEST_NAME);
    json_error_t error;
    json_t *manifest = manifest_path ? json_load_file(manifest_path, 0, &error) : NULL;
    if (!manifest) {
        if (manifest_path && access(manifest_path, F_OK) == 0)
            log_error("%s: invalid manifest (line %d: %s)", manifest_path, error.line, error.text);
        else
            log_error("%s: no %s: the folder is an unfinished output (rerun the stage that "
                      "writes it)", path, OUTDIR_MANIFEST_NAME);
        free(manifest_path);
        return -1;
    }
    free(manifest_path);
    int status = 0;
    size_t index;
    json_t *file;
    json_array_foreach(json_object_get(manifest, "files"), index, file) {
        const char *name = json_string_value(json_object_get(file, "name"));
        char *file_path = name ? join_path(path, name) : NULL;
        struct stat info;
        if (!file_path || stat(file_path, &info) != 0 ||
            (json_int_t)info.st_size != json_integer_value(json_object_get(file, "bytes"))) {
            log_error("%s: file %s listed in the manifest is missing or has another size; "
                      "rerun the stage that writes it", path, name ? name : "?");
            status = -1;
        } else if (verify_checksums) {
            char checksum[33];
            const char *expected = json_string_value(json_object_get(file, "xxh3_128"));
            if (checksum_file(file_path, checksum, NULL) != 0 || !expected ||
                strcmp(checksum, expected) != 0) {
                log_error("%s: checksum mismatch; the file is damaged", file_path);
                status = -1;
            }
        }
        if (status == 0)
            cli_string_list_push(names, name);
        free(file_path);
    }
    json_decref(manifest);
    return status;
}

char *outdir_read_extra(const char *path, const char *key)
{
    char *manifest_path = join_path(path, OUTDIR_MANIFEST_NAME);
    json_t *manifest = manifest_path ? json_load_file(manifest_path, 0, NULL) : NULL;
    free(manifest_path);
    json_t *value = manifest ? json_object_get(json_object_get(manifest, "extra"), key) : NULL;
    char *text = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    json_decref(manifest);
    return text;
}
