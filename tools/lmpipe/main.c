/*
 * lmpipe: runs pipeline files and dispatches to the stage programs.
 *
 *   lmpipe run PIPELINE.yaml [--run-dir DIR] [--from STAGE | --only STAGE] [--force]
 *              [--dry-run] [--jobs N] [--executor local|slurm [--no-wait] [--slurm-...]]
 *   lmpipe status RUN-DIR | PIPELINE.yaml [--run-dir DIR]
 *   lmpipe report RUN-DIR | PIPELINE.yaml [--run-dir DIR] [-o DIR]
 *   lmpipe PROGRAM ARGS...      runs the stage program PROGRAM (git-style)
 *   lmpipe --help | --version
 *
 * Exit status: 0 on success, 1 when a stage fails, 2 on a usage error or an
 * invalid pipeline file (nothing was run).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "command_help.h"
#include "dispatch.h"
#include "lmpipe_version.h"
#include "log.h"
#include "pipeline.h"
#include "report.h"
#include "runner.h"
#include "slurm_executor.h"
#include "status.h"

static void print_help(void)
{
    printf("lmpipe - build a language model from crawl files to samples\n\n"
           "Usage: lmpipe run PIPELINE.yaml [options]   run a pipeline file\n"
           "       lmpipe status RUN-DIR|PIPELINE.yaml  show each stage: done, stale, missing\n"
           "       lmpipe report RUN-DIR|PIPELINE.yaml  write an HTML and JSON report of a run\n"
           "       lmpipe inspect FILE.lshard [-t FILE] check a token shard (shard --inspect)\n"
           "       lmpipe PROGRAM [ARGS...]            run one stage program\n"
           "       lmpipe run --help                   options of run\n\n"
           "Programs (found beside lmpipe, in the build tree, or on PATH):\n");
    /* Known names without an executable, such as programs of later versions, are left out. */
    size_t found = 0;
    for (const char *const *name = pipeline_program_names(); *name; name++) {
        char *path = dispatch_find_program(*name);
        if (path)
            printf("  %-14s %s\n", *name, path);
        found += path != NULL;
        free(path);
    }
    if (found == 0)
        printf("  none; build them with ninja in the build folder or put them on PATH\n");
    printf("\nlmpipe run prints each stage's command line with --dry-run; running those\n"
           "lines in a shell does the same work.\n");
}

/* Options of `lmpipe run`; the pipeline file is the one positional argument. */
static char *run_dir = NULL;
static char *from_stage = NULL;
static char *only_stage = NULL;
static bool force = false;
static bool dry_run = false;
static int64_t jobs = 1;
static char *executor = "local";
static bool no_wait = false;
static char *slurm_partition = NULL;
static char *slurm_account = NULL;
static cli_string_list_t slurm_args = {0};
static double slurm_poll = 10;

static cli_option_t run_options[] = {
    {"run-dir", 0, CLI_STRING, &run_dir, "DIR", NULL,
     "folder for stage outputs, instead of the pipeline's run-dir", 0, 0, 0},
    {"from", 0, CLI_STRING, &from_stage, "STAGE", NULL,
     "skip the stages before STAGE; rerun STAGE and every later stage", 0, 0, 0},
    {"only", 0, CLI_STRING, &only_stage, "STAGE", NULL, "rerun only STAGE", 0, 0, 0},
    {"force", 0, CLI_FLAG, &force, NULL, NULL,
     "rerun every stage even when its output is up to date", 0, 0, 0},
    {"dry-run", 'n', CLI_FLAG, &dry_run, NULL, NULL,
     "print the plan to stdout: each stage's command line and why it runs or is skipped; "
     "run nothing", 0, 0, 0},
    {"jobs", 'j', CLI_INT, &jobs, "N", NULL,
     "processes at once: independent stages and the tasks of a stage run in parallel "
     "(default: the number of online CPUs)", 0, 1, 4096},
    {"executor", 0, CLI_STRING, &executor, "local|slurm", NULL,
     "local runs the stages as processes here; slurm submits each as an sbatch job or job "
     "array and waits for them (see docs/lmpipe.md)", 0, 0, 0},
    {"no-wait", 0, CLI_FLAG, &no_wait, NULL, NULL,
     "with --executor slurm: return after submitting; lmpipe status RUN-DIR shows the jobs",
     0, 0, 0},
    {"slurm-partition", 0, CLI_STRING, &slurm_partition, "NAME", NULL,
     "with --executor slurm: the partition of every job (sbatch --partition)", 0, 0, 0},
    {"slurm-account", 0, CLI_STRING, &slurm_account, "NAME", NULL,
     "with --executor slurm: the account charged for every job (sbatch --account)", 0, 0, 0},
    {"slurm-arg", 0, CLI_STRING_LIST, &slurm_args, "ARG", NULL,
     "with --executor slurm: one more sbatch argument, e.g. --slurm-arg=--qos=high "
     "(repeatable)", 0, 0, 0},
    {"slurm-poll", 0, CLI_DOUBLE, &slurm_poll, "SECONDS", "s",
     "with --executor slurm: time between two squeue calls while waiting", 0, 0.1, 3600},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, 0},
};

static cli_program_t run_program = {
    .name = "lmpipe run",
    .summary = "run the stages of a pipeline file, each after the stages it reads",
    .usage = "PIPELINE.yaml [options]",
    .description =
        "Each stage runs as its own process with the command line --dry-run prints.\n"
        "The state of the run is kept in RUN-DIR/.lmpipe/state.json for lmpipe status.\n"
        "A stage program skips its work when its output folder's manifest matches\n"
        "its version, settings and inputs, so a rerun redoes only what changed.\n"
        "--force, --from and --only pass --force to the stages they rerun.\n"
        "Exit status: 0 on success, 1 when a stage fails, 2 on a usage error or an\n"
        "invalid pipeline file.",
    .options = run_options,
    .stage = NULL,
};

/* Options that take a value, so their value is not mistaken for the pipeline file. */
static bool takes_value(const char *arg)
{
    static const char *const with_value[] = {"--run-dir", "--from", "--only", "--config",
                                             "--set", "--jobs", "-j", "--output", "-o",
                                             "--executor", "--slurm-partition",
                                             "--slurm-account", "--slurm-arg", "--slurm-poll",
                                             NULL};
    for (const char *const *name = with_value; *name; name++)
        if (strcmp(arg, *name) == 0)
            return true;
    return false;
}

/*
 * Moves the positional arguments of argv out into `positional` and leaves the
 * options in place (argc updated), because cli_parse accepts positional
 * arguments only for stage programs.
 */
static void split_positional(int *argc, char **argv, cli_string_list_t *positional)
{
    int kept = 1;
    bool options_ended = false;
    for (int i = 1; i < *argc; i++) {
        const char *arg = argv[i];
        if (!options_ended && strcmp(arg, "--") == 0) {
            options_ended = true;
            continue;
        }
        if (options_ended || arg[0] != '-' || strcmp(arg, "-") == 0) {
            cli_string_list_push(positional, arg);
            continue;
        }
        argv[kept++] = argv[i];
        if (takes_value(arg) && i + 1 < *argc)
            argv[kept++] = argv[++i];
    }
    *argc = kept;
}

/* Checks --executor and the options that only the Slurm executor takes.
 * Returns 0, or -1 after logging a usage error. */
static int check_executor(bool *use_slurm)
{
    *use_slurm = strcmp(executor, "slurm") == 0;
    if (!*use_slurm && strcmp(executor, "local") != 0) {
        log_error("--executor \"%s\" is not known; use local or slurm", executor);
        return -1;
    }
    const char *slurm_only = no_wait ? "--no-wait"
                             : slurm_partition ? "--slurm-partition"
                             : slurm_account ? "--slurm-account"
                             : slurm_args.count ? "--slurm-arg" : NULL;
    if (!*use_slurm && slurm_only) {
        log_error("%s needs --executor slurm", slurm_only);
        return -1;
    }
    return 0;
}

static int run_command(int argc, char **argv)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    jobs = cpus > 0 ? cpus : 1;
    cli_string_list_t positional = {0};
    split_positional(&argc, argv, &positional);
    int status = command_parse(&run_program, argc, argv);
    if (status != CLI_CONTINUE) {
        cli_string_list_free(&positional);
        cli_free(&run_program);
        return status == CLI_EXIT_OK ? 0 : 2;
    }

    if (positional.count != 1 || (from_stage && only_stage)) {
        if (positional.count == 0)
            log_error("missing the pipeline file, e.g. lmpipe run pipelines/demo.yaml");
        else if (positional.count > 1)
            log_error("expected one pipeline file, got %zu (first two: %s, %s)",
                      positional.count, positional.items[0], positional.items[1]);
        else
            log_error("--from and --only exclude each other; use one of them");
        fprintf(stderr, "Run 'lmpipe run --help' for usage.\n");
        cli_string_list_free(&positional);
        cli_free(&run_program);
        return 2;
    }

    slurm_options_t slurm = {
        .partition = slurm_partition, .account = slurm_account, .sbatch_args = &slurm_args,
        .no_wait = no_wait, .poll_seconds = slurm_poll,
    };
    bool use_slurm = false;
    if (check_executor(&use_slurm) != 0) {
        cli_string_list_free(&positional);
        cli_free(&run_program);
        return 2;
    }

    pipeline_t pipeline;
    int result = RUNNER_USAGE_ERROR;
    if (pipeline_load(positional.items[0], run_dir, &pipeline) == 0) {
        runner_options_t options = {
            .dry_run = dry_run, .force = force, .from = from_stage, .only = only_stage,
            .jobs = jobs, .slurm = use_slurm ? &slurm : NULL,
        };
        result = runner_run(&pipeline, &options);
    }
    pipeline_free(&pipeline);
    cli_string_list_free(&positional);
    cli_free(&run_program);
    return result;
}

/* Options of `lmpipe status`; the run folder or pipeline file is the one positional argument. */
static char *status_run_dir = NULL;

static cli_option_t status_options[] = {
    {"run-dir", 0, CLI_STRING, &status_run_dir, "DIR", NULL,
     "with a pipeline file: the run folder, instead of the pipeline's run-dir", 0, 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, 0},
};

static cli_program_t status_program = {
    .name = "lmpipe status",
    .summary = "show each stage of a run as done, stale, missing, running or failed",
    .usage = "RUN-DIR | PIPELINE.yaml [options]",
    .description =
        "Prints one line per stage, in run order: its state, the records in its output\n"
        "manifest, the records in, kept and dropped from its stats, and a detail: why a\n"
        "stage is stale (asked from its program with --check), or how long it has run.\n"
        "Exit status: 0 when the table was printed, 2 on a usage error.",
    .options = status_options,
    .stage = NULL,
};

static int status_command(int argc, char **argv)
{
    cli_string_list_t positional = {0};
    split_positional(&argc, argv, &positional);
    int status = command_parse(&status_program, argc, argv);
    if (status != CLI_CONTINUE) {
        cli_string_list_free(&positional);
        cli_free(&status_program);
        return status == CLI_EXIT_OK ? 0 : 2;
    }
    int result = 2;
    if (positional.count != 1) {
        log_error("expected one run folder or pipeline file, got %zu", positional.count);
        fprintf(stderr, "Run 'lmpipe status --help' for usage.\n");
    } else {
        /* status_show may enter the run's directory, so the run folder is resolved first. */
        char *run_folder = realpath(positional.items[0], NULL);
        result = status_show(positional.items[0], status_run_dir);
        struct stat info;
        if (result == 0 && run_folder && stat(run_folder, &info) == 0 && S_ISDIR(info.st_mode))
            slurm_status_show(run_folder);
        free(run_folder);
    }
    cli_string_list_free(&positional);
    cli_free(&status_program);
    return result;
}

/* Options of `lmpipe report`. */
static char *report_run_dir = NULL;
static char *report_output = NULL;

static cli_option_t report_options[] = {
    {"run-dir", 0, CLI_STRING, &report_run_dir, "DIR", NULL,
     "with a pipeline file: the run folder, instead of the pipeline's run-dir", 0, 0, 0},
    {"output", 'o', CLI_STRING, &report_output, "DIR", NULL,
     "folder for report.html and report.json (default: RUN-DIR/report)", 0, 0, 0},
    {NULL, 0, 0, NULL, NULL, NULL, NULL, 0, 0, 0},
};

static cli_program_t report_program = {
    .name = "lmpipe report",
    .summary = "write an HTML page and JSON with the data funnel and training curves of a run",
    .usage = "RUN-DIR | PIPELINE.yaml [options]",
    .description =
        "The page is self-contained (inline SVG, no scripts): the documents and bytes\n"
        "kept per stage, the drops per filter, and for train stages the training and\n"
        "validation loss, learning rate and tokens/s. report.json holds the numbers.\n"
        "Exit status: 0 on success, 1 when a file cannot be written, 2 on a usage error.",
    .options = report_options,
    .stage = NULL,
};

static int report_command(int argc, char **argv)
{
    cli_string_list_t positional = {0};
    split_positional(&argc, argv, &positional);
    int status = command_parse(&report_program, argc, argv);
    if (status != CLI_CONTINUE) {
        cli_string_list_free(&positional);
        cli_free(&report_program);
        return status == CLI_EXIT_OK ? 0 : 2;
    }
    int result = 2;
    if (positional.count != 1) {
        log_error("expected one run folder or pipeline file, got %zu", positional.count);
        fprintf(stderr, "Run 'lmpipe report --help' for usage.\n");
    } else {
        result = report_write(positional.items[0], report_run_dir, report_output);
    }
    cli_string_list_free(&positional);
    cli_free(&report_program);
    return result;
}

/*
 * lmpipe inspect FILE [OPTIONS]: runs `shard --inspect FILE [OPTIONS]`, which
 * prints the shard's header, counts and a decoded sample and verifies its
 * checksums. FILE is the first argument that is not an option or the value
 * of -t/--tokenizer or --sample-tokens.
 */
static int inspect_command(int argc, char **argv)
{
    int file = 0;
    for (int i = 1; i < argc && !file; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return dispatch_exec("shard", argc, argv);
        bool takes_value = strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--tokenizer") == 0 ||
                           strcmp(argv[i], "--sample-tokens") == 0;
        if (takes_value)
            i++;
        else if (argv[i][0] != '-')
            file = i;
    }
    if (!file) {
        log_error("missing the shard file: lmpipe inspect FILE.lshard [-t tokenizer.json]");
        return 2;
    }
    char **shard_argv = calloc((size_t)argc + 2, sizeof *shard_argv);
    if (!shard_argv) {
        log_error("out of memory");
        return 1;
    }
    int count = 0;
    shard_argv[count++] = "shard";
    shard_argv[count++] = "--inspect";
    shard_argv[count++] = argv[file];
    for (int i = 1; i < argc; i++)
        if (i != file)
            shard_argv[count++] = argv[i];
    int status = dispatch_exec("shard", count, shard_argv);
    free(shard_argv);
    return status;
}

int main(int argc, char **argv)
{
    log_init("lmpipe");
    if (argc < 2) {
        log_error("missing a command: run PIPELINE.yaml, a program name, or --help");
        return 2;
    }
    const char *command = argv[1];
    if (strcmp(command, "-h") == 0 || strcmp(command, "--help") == 0) {
        print_help();
        return 0;
    }
    if (strcmp(command, "--version") == 0) {
        printf("lmpipe %s\n", LMPIPE_VERSION);
        return 0;
    }
    if (strcmp(command, "run") == 0)
        return run_command(argc - 1, argv + 1);
    if (strcmp(command, "status") == 0)
        return status_command(argc - 1, argv + 1);
    if (strcmp(command, "report") == 0)
        return report_command(argc - 1, argv + 1);
    if (strcmp(command, "inspect") == 0)
        return inspect_command(argc - 1, argv + 1);
    if (pipeline_is_known_program(command))
        return dispatch_exec(command, argc - 1, argv + 1);

    log_error("unknown command \"%s\": expected run, status, report, inspect or a program name (see lmpipe --help)",
              command);
    return 2;
}
