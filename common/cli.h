/*
 * One option table for every program: parsing, --help, settings files.
 *
 * A program lists its options once in an array of cli_option_t. That table
 * drives the command-line parser, the --help text (defaults are printed from
 * the variables the code reads), the keys accepted in a --config YAML file and
 * by --set key=value, and the settings hash written into output manifests.
 *
 * Options marked CLI_SETTING change what a stage computes and so enter the
 * settings hash; the others (paths, threads, verbosity) do not.
 */
#ifndef LMPIPE_CLI_H
#define LMPIPE_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    CLI_FLAG,        /* bool: present means true; YAML true/false */
    CLI_INT,         /* int64_t, parsed strictly, checked against [min, max] */
    CLI_DOUBLE,      /* double, checked against [min, max] */
    CLI_STRING,      /* char *, owned by the caller's default or strdup'ed */
    CLI_STRING_LIST, /* cli_string_list_t, repeatable */
} cli_type_t;

enum {
    CLI_SETTING = 1u << 0, /* enters the settings hash and may come from --config */
};

typedef struct {
    char **items;
    size_t count;
} cli_string_list_t;

typedef struct {
    const char *name;  /* long option and settings key, e.g. "min-chars" */
    char short_name;   /* 0 when there is none */
    cli_type_t type;
    void *value;       /* points at the variable that holds the default */
    const char *hint;  /* value placeholder in --help, e.g. "N" or "FILE" */
    const char *unit;  /* unit shown in --help, or NULL */
    const char *help;
    unsigned flags;
    double min;        /* bounds for CLI_INT and CLI_DOUBLE; min == max means none */
    double max;
} cli_option_t;

/* The options every stage program shares (ARCHITECTURE "Contracts"). */
typedef struct {
    cli_string_list_t inputs; /* -i and positional arguments */
    char *output;             /* -o; NULL when the program has a default */
    char *stats_path;         /* --stats */
    int64_t threads;          /* --threads */
    int64_t task_index;       /* --task I/N, zero-based internally */
    int64_t task_count;
    bool force;               /* --force: rebuild an up-to-date output */
} cli_stage_t;

typedef struct {
    const char *name;         /* program name, e.g. "clean" */
    const char *summary;      /* one line shown by --help */
    const char *usage;        /* e.g. "[options] INPUT..." */
    const char *description;  /* paragraphs after the option list, or NULL */
    cli_option_t *options;    /* terminated by an entry with name == NULL */
    cli_stage_t *stage;       /* non-NULL for stage programs: adds the shared options */
} cli_program_t;

/* Parse results. CLI_EXIT_OK means --help or --version was printed; CLI_FAILED
 * means a file the options name could not be read (a --config file), which is
 * a failure (exit 1) rather than a usage error (exit 2). */
enum { CLI_CONTINUE = 0, CLI_EXIT_OK = 1, CLI_USAGE_ERROR = 2, CLI_FAILED = 3 };

/* Maps a parse result to the exit status: 0 for CLI_EXIT_OK (and CLI_CONTINUE),
 * 1 for CLI_FAILED, 2 for CLI_USAGE_ERROR. */
int cli_exit_status(int parsed);

/*
 * Parses argv against the program's table plus the shared options (-h/--help,
 * --version, -q, -v, --config FILE, --set KEY=VALUE and, for stage programs,
 * -i, -o, --stats, --threads, --task, --force, --check; also --list-settings, which
 * prints the CLI_SETTING names and returns CLI_EXIT_OK). --config files are applied
 * first and command-line values after them, whatever their order.
 * Returns CLI_CONTINUE, CLI_EXIT_OK, CLI_USAGE_ERROR after printing an error
 * that names the option and the value, or CLI_FAILED after printing an error
 * that names a --config file that cannot be opened.
 */
int cli_parse(cli_program_t *program, int argc, char **argv);

/*
 * Returns true when the program was started with --check: it must decide
 * whether its output folder is up to date, print the answer to standard output
 * (outdir_is_current does) and exit without building anything.
 */
bool cli_check_only(void);

/* Applies one "key=value" setting, as --set does. Returns 0 or -1 after logging. */
int cli_set(cli_program_t *program, const char *assignment, const char *origin);

/* Applies a YAML mapping of settings from a file. Returns 0, -1 after logging
 * the file, line and key of invalid content, or CLI_CONFIG_UNREADABLE after
 * logging a file that cannot be opened. */
enum { CLI_CONFIG_UNREADABLE = -2 };
int cli_load_config(cli_program_t *program, const char *path);

/*
 * Writes a 128-bit hash (32 hex digits and a NUL, 33 bytes) over the names and
 * current values of every CLI_SETTING option, in table order. Equal settings
 * give equal hashes across runs and machines.
 */
void cli_settings_hash(const cli_program_t *program, char out_hex[33]);

/* Writes the CLI_SETTING options and their values as a JSON object string;
 * the caller frees it. Used in manifests so a reader sees what produced a file. */
char *cli_settings_json(const cli_program_t *program);

/* Parses a whole decimal integer; returns 0, or -1 on junk, overflow or empty. */
int cli_parse_int(const char *text, int64_t *out);
int cli_parse_double(const char *text, double *out);

void cli_string_list_push(cli_string_list_t *list, const char *item);
void cli_string_list_free(cli_string_list_t *list);

/* Frees strings the parser allocated for CLI_STRING and CLI_STRING_LIST options. */
void cli_free(cli_program_t *program);

#endif
