/*
 * Output folders that appear complete or not at all.
 *
 * A stage writes its files into an output folder through this module. Each
 * file goes to a temporary name and is renamed when complete; manifest.json is
 * written last and lists every file with its size, xxh3-128 checksum and
 * record count, plus the program, its version, the settings hash and a hash of
 * the inputs. A folder without a manifest is unfinished and readers reject it.
 *
 * With --task I/N each task writes its own files and a task record under
 * .tasks/; the task that completes the set writes the manifest, under an
 * exclusive lock, so job-array tasks may finish in any order.
 */
#ifndef LMPIPE_OUTDIR_H
#define LMPIPE_OUTDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "textio.h"

#define OUTDIR_MANIFEST_NAME "manifest.json"

typedef struct outdir outdir_t;

typedef struct {
    const char *program;      /* program name */
    char settings_hash[33];   /* from cli_settings_hash */
    char *settings_json;      /* from cli_settings_json; outdir_open keeps its own copy */
    char inputs_hash[33];     /* from outdir_hash_inputs */
    int64_t task_index;       /* zero-based */
    int64_t task_count;
} outdir_identity_t;

/*
 * Hashes the inputs of a run: for a folder, its manifest.json bytes; for a
 * file, its content; the list order matters. Standard input and ZeroMQ
 * addresses hash to a fixed marker plus a random part, so that such a run is
 * never considered up to date. Returns 0 or -1 after logging a missing input.
 */
int outdir_hash_inputs(const cli_string_list_t *inputs, char out_hex[33]);

/* Mixes the content of one more input file (a tokenizer, a model config) into
 * the identity's inputs hash. Returns 0 or -1 after logging a missing file. */
int outdir_identity_add_file(outdir_identity_t *identity, const char *path);

/* Frees what outdir_identity_from_cli allocated. */
void outdir_identity_free(outdir_identity_t *identity);

/* Fills an identity from a parsed program (settings hash and JSON, task) and
 * its inputs. Returns 0 or -1 after logging. */
int outdir_identity_from_cli(outdir_identity_t *identity, const cli_program_t *program);

/*
 * Returns true when `path` holds a complete output with the same program,
 * version, settings hash and inputs hash, and (for a task) that task's record
 * is present: the run can be skipped. Logs the reason at INFO when it is not.
 * With --check (cli_check_only) it prints "current" or "stale: REASON" to
 * standard output instead and returns true, so the caller skips the build.
 */
bool outdir_is_current(const char *path, const outdir_identity_t *identity);

/*
 * Opens (creating if needed) the output folder. An earlier manifest is removed
 * first, because the folder is about to change. Files of this task from an
 * earlier interrupted run are removed, and so are temporary files whose
 * writing process no longer runs. Returns NULL after logging.
 */
outdir_t *outdir_open(const char *path, const outdir_identity_t *identity);
const char *outdir_path(const outdir_t *outdir);

/*
 * Removes the temporary files "NAME.tmp-PID" in `folder` (not in its subfolders)
 * whose process PID no longer runs or is a zombie, logging each one. A file of
 * this process or of one that still runs stays, because a concurrent writer
 * owns it. A missing or unreadable folder is not an error.
 */
void outdir_remove_orphaned_temporaries(const char *folder);

/* Opens a text writer for file `name` inside the folder (temporary name until
 * outdir_commit_text). */
text_writer_t *outdir_create_text(outdir_t *outdir, const char *name,
                                  text_compression_t compression);

/* Commits a text writer opened by outdir_create_text and records the file with
 * its record count. Returns 0 or -1 after logging. */
int outdir_commit_text(outdir_t *outdir, text_writer_t *writer, const char *name,
                       uint64_t records);

/*
 * Records a file that the caller wrote itself at outdir_path()/name, already
 * complete and renamed into place (e.g. a shard or safetensors file written
 * with outdir_temp_path then rename). Computes its size and checksum.
 */
int outdir_add_file(outdir_t *outdir, const char *name, uint64_t records);

/* Returns a malloc'ed temporary path inside the folder for file `name`; the
 * caller renames it to outdir_path()/name when complete. */
char *outdir_temp_path(const outdir_t *outdir, const char *name);

/* Adds a key with a JSON value string (e.g. a count) to the manifest's "extra"
 * object, for facts a later stage needs. */
void outdir_set_extra(outdir_t *outdir, const char *key, const char *json_value);

/*
 * Finishes this task: writes its task record and, when every task of the set
 * has one, manifest.json. Frees the outdir. Returns 0 or -1 after logging; on
 * failure no manifest is written.
 */
int outdir_finish(outdir_t *outdir);

/* Abandons the output: removes temporary files, writes no manifest. */
void outdir_abort(outdir_t *outdir);

/*
 * Appends the names in `folder` that do not start with a dot to `names`, sorted
 * byte-wise, so walks of a folder are the same on every file system. Returns
 * 0, or -1 after logging that the folder cannot be read.
 */
int outdir_list_names(const char *folder, cli_string_list_t *names);

/*
 * Reads the manifest of a finished folder and returns the file names it lists
 * (relative to the folder) through `names`. Returns 0, or -1 after logging that
 * the folder is unfinished (no manifest) or that a listed file is missing or
 * has the wrong size. With `verify_checksums` the xxh3 sums are checked too.
 */
int outdir_list_files(const char *path, bool verify_checksums, cli_string_list_t *names);

/* Reads one "extra" value from a finished folder's manifest as a malloc'ed JSON
 * string, or NULL when absent. */
char *outdir_read_extra(const char *path, const char *key);

#endif
