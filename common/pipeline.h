/*
 * Pipeline files: a YAML list of stages that lmpipe turns into command lines.
 *
 * A pipeline file is a mapping with these keys:
 *
 *   run-dir: runs/demo          folder for stage outputs (default runs/<file name>)
 *   stages:                     the stages; they run in dependency order
 *     - name: clean             unique name; the default output is RUN-DIR/<name>
 *       program: clean          a stage program (see pipeline_program_names)
 *       inputs: [crawl]         paths, globs, or names of other stages (their output folder)
 *       output: PATH            output folder; "none" passes no -o
 *       settings: {k: v}        each becomes --set k=v (a list gives one --set per item)
 *       config: FILE            passed as --config FILE
 *       threads: N              passed as --threads N
 *       stats: false            drops the default --stats RUN-DIR/<name>.stats.json
 *       args: [--flag, value]   program-specific arguments, appended as written
 *       stdout: PATH            file that receives the program's standard output
 *       tasks: N                N processes with --task I/N, run in parallel
 *       resources: {cpus: 4, memory: 16G, gpus: 1, time: "2:00:00"}   for cluster jobs
 *       incremental: true       one process per input file, each into OUTPUT/files/KEY, so a
 *                               rerun processes only new or changed files (per-file programs)
 *       stream: true            read the one input stage over a ZeroMQ socket instead of its
 *                               folder: producer -> workers (tasks: N) [-> sink], all at once
 *   summary:                    printed after a successful run
 *     - FILE                    the whole file
 *     - {file: FILE, keys: [k]} selected top-level keys of a JSON object
 *
 * In inputs, args, config, stdout and summary, "${NAME}" stands for the output
 * folder of stage NAME and "${run-dir}" for the run folder; output may use
 * only "${run-dir}". Every reference to a stage, and every input path inside
 * another stage's output folder, makes the stage depend on that stage. A
 * dependency cycle is rejected. Relative paths stay relative to the current
 * directory, exactly as a user would type them.
 */
#ifndef LMPIPE_PIPELINE_H
#define LMPIPE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"

/* What one task of a stage needs on a cluster node; 0 or NULL leaves the
 * scheduler's default. */
typedef struct {
    int64_t cpus;               /* CPUs per task */
    char *memory;               /* e.g. "16G", in Slurm's --mem syntax */
    int64_t gpus;               /* GPUs per task */
    char *time;                 /* time limit, e.g. "2:00:00" or "90" (minutes) */
} pipeline_resources_t;

/* A stage's place in a stream of documents over ZeroMQ (see endpoint.h). */
typedef enum {
    PIPELINE_STREAM_NONE = 0,
    PIPELINE_STREAM_PRODUCER,   /* binds ipc://RUN-DIR/.lmpipe/NAME.sock as its output */
    PIPELINE_STREAM_WORKER,     /* connects to the producer; to the sink when there is one */
    PIPELINE_STREAM_SINK,       /* binds its input and writes the output folder */
} pipeline_stream_role_t;

typedef struct {
    char *name;
    char *program;
    int line;                   /* 1-based line of the stage in the pipeline file */
    cli_string_list_t inputs;   /* stage references already replaced by folders */
    char *output;               /* NULL when the stage has "output: none" */
    cli_string_list_t settings; /* "key=value", one per --set */
    char *config;               /* NULL when absent */
    int64_t threads;            /* 0 leaves the program's default */
    char *stats_path;           /* NULL when "stats: false" */
    cli_string_list_t args;
    char *stdout_path;          /* NULL: the program's stdout is lmpipe's stderr */
    int *setting_lines;         /* line of each item of `settings` */
    int64_t tasks;              /* parts run as --task I/N; 1 runs the stage whole */
    pipeline_resources_t resources;
    bool incremental;           /* run once per input file and reuse unchanged parts */
    bool stream;                /* "stream: true": reads its input stage over a socket */
    int64_t streams_from;       /* index of the stage read over a socket, or -1 */
    pipeline_stream_role_t stream_role;
    size_t *depends;            /* indexes of the stages this one reads, no repeats */
    size_t depend_count;
} pipeline_stage_t;

typedef struct {
    char *file;                 /* JSON or text file, references replaced */
    cli_string_list_t keys;     /* empty: print the whole file */
} pipeline_summary_t;

typedef struct {
    char *path;                 /* the pipeline file as given */
    char *run_dir;
    pipeline_stage_t *stages;
    size_t stage_count;
    pipeline_summary_t *summary;
    size_t summary_count;
    size_t *order;              /* stage indexes, each after the stages it depends on */
} pipeline_t;

/*
 * Reads and validates a pipeline file. `run_dir_override`, when not NULL,
 * replaces the file's run-dir. Every problem is logged as "FILE:LINE: ..."
 * (YAML syntax errors, unknown keys or programs, duplicate stage names,
 * references to unknown stages, input paths that do not exist, dependency
 * cycles, invalid tasks or resources) before returning -1; on success
 * returns 0 and the caller frees the pipeline with pipeline_free.
 */
int pipeline_load(const char *path, const char *run_dir_override, pipeline_t *pipeline);

void pipeline_free(pipeline_t *pipeline);

/* Returns true when stage `index` depends on stage `other`, directly or through
 * other stages. */
bool pipeline_depends_on(const pipeline_t *pipeline, size_t index, size_t other);

/* Returns the index of the stage called `name`, or -1. */
int pipeline_find_stage(const pipeline_t *pipeline, const char *name);

/*
 * Appends the arguments of stage `index` that follow the program name to
 * `argv`: inputs, -o, --config, --set, --threads, --stats, --force when
 * `force`, then the stage's own args. The list owns copies of the strings.
 */
void pipeline_stage_arguments(const pipeline_t *pipeline, size_t index, bool force,
                              cli_string_list_t *argv);

/*
 * Returns "lmpipe PROGRAM ARG..." with each word quoted for a POSIX shell
 * where needed, plus " > FILE" when the stage captures standard output.
 * The caller frees the string.
 */
char *pipeline_format_command(const pipeline_stage_t *stage, const cli_string_list_t *argv);

/* Quotes one word for a POSIX shell: unchanged when it needs no quoting,
 * otherwise in single quotes. The caller frees the string. */
char *pipeline_shell_quote(const char *word);

/* The stage programs a pipeline may name, terminated by NULL. */
const char *const *pipeline_program_names(void);

bool pipeline_is_known_program(const char *name);

#endif
