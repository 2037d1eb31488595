/*
 * Batch scripts of the Slurm executor: RUN-DIR/slurm/STAGE.sbatch with the
 * stage's #SBATCH lines (job name, log files, resources, partition, account)
 * and the same command line as the local executor runs, so a user can read
 * and resubmit each script by hand.
 */
#include "slurm_script.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

void slurm_script_task_list(const bool *pending, int64_t tasks, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (int64_t first = 0; first < tasks; first++) {
        if (!pending[first])
            continue;
        int64_t last = first;
        while (last + 1 < tasks && pending[last + 1])
            last++;
        int written = first == last
                          ? snprintf(out + used, size - used, "%s%lld", used ? "," : "",
                                     (long long)first)
                          : snprintf(out + used, size - used, "%s%lld-%lld", used ? "," : "",
                                     (long long)first, (long long)last);
        if (written < 0 || (size_t)written >= size - used)
            return;
        used += (size_t)written;
        first = last;
    }
}


char *slurm_script_command_line(const char *first, const cli_string_list_t *words)
{
    size_t length = strlen(first) + 1;
    char **quoted = calloc(words->count + 1, sizeof *quoted);
    for (size_t i = 0; quoted && i < words->count; i++) {
        quoted[i] = pipeline_shell_quote(words->items[i]);
        length += (quoted[i] ? strlen(quoted[i]) : 0) + 1;
    }
    char *line = quoted ? malloc(length) : NULL;
    if (line) {
        strcpy(line, first);
        for (size_t i = 0; i < words->count; i++) {
            strcat(line, " ");
            strcat(line, quoted[i] ? quoted[i] : "");
        }
    }
    for (size_t i = 0; quoted && i < words->count; i++)
        free(quoted[i]);
    free(quoted);
    return line;
}


/* Returns a size such as "512M" or "16G" in MiB (a bare number is MiB, as in Slurm). */
static int64_t memory_mebibytes(const char *memory)
{
    char *end;
    double value = strtod(memory, &end);
    switch (*end) {
    case 'K': case 'k': return (int64_t)(value / 1024 + 0.999);
    case 'G': case 'g': return (int64_t)(value * 1024);
    case 'T': case 't': return (int64_t)(value * 1024 * 1024);
    default: return (int64_t)value;
    }
}

/* Writes the #SBATCH lines of `job`: name, logs, resources, partition, account. */
static void write_directives(const slurm_script_t *job, FILE *script)
{
    const pipeline_stage_t *stage = &job->pipeline->stages[job->index];
    const char *run_name = strrchr(job->run_dir, '/');
    run_name = run_name && run_name[1] ? run_name + 1 : job->run_dir;
    fprintf(script, "#SBATCH --job-name=lmpipe-%s-%s\n", run_name, stage->name);
    /* %a is the array index; a stage without tasks is task 0. */
    const char *task = stage->tasks > 1 ? "%a" : "0";
    fprintf(script, "#SBATCH --output=%s/%s/%s.%s.out\n", job->run_dir, SLURM_LOG_FOLDER,
            stage->name, task);
    fprintf(script, "#SBATCH --error=%s/%s/%s.%s.err\n", job->run_dir, SLURM_LOG_FOLDER,
            stage->name, task);
    const pipeline_resources_t *resources = &stage->resources;
    if (job->ranks > 1)
        fprintf(script, "#SBATCH --ntasks=%lld\n", (long long)job->ranks);
    if (resources->cpus > 0)
        fprintf(script, "#SBATCH --cpus-per-task=%lld\n", (long long)resources->cpus);
    if (resources->memory && job->ranks > 1) {
        /* --mem is per node; a rank's memory is given per CPU so ranks may spread. */
        int64_t cpus = resources->cpus > 0 ? resources->cpus : 1;
        fprintf(script, "#SBATCH --mem-per-cpu=%lldM\n",
                (long long)((memory_mebibytes(resources->memory) + cpus - 1) / cpus));
    } else if (resources->memory) {
        fprintf(script, "#SBATCH --mem=%s\n", resources->memory);
    }
    if (resources->gpus > 0 && job->ranks > 1)
        fprintf(script, "#SBATCH --gpus-per-task=%lld\n", (long long)resources->gpus);
    else if (resources->gpus > 0)
        fprintf(script, "#SBATCH --gres=gpu:%lld\n", (long long)resources->gpus);
    if (resources->time)
        fprintf(script, "#SBATCH --time=%s\n", resources->time);
    if (job->partition)
        fprintf(script, "#SBATCH --partition=%s\n", job->partition);
    if (job->account)
        fprintf(script, "#SBATCH --account=%s\n", job->account);
}

/*
 * Removes "--nproc N" from `arguments` and sets "--threads" for one rank:
 * the stage's CPUs per task when given, else its --threads divided among
 * the ranks, as --nproc divides them on one machine. Without either, each
 * rank keeps the program's default (all online CPUs of its node).
 */
static void rank_arguments(const pipeline_stage_t *stage, int64_t ranks,
                           cli_string_list_t *arguments)
{
    cli_string_list_t kept = {0};
    if (stage->threads == 0 && stage->resources.cpus > 0) {
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)stage->resources.cpus);
        cli_string_list_push(&kept, "--threads");
        cli_string_list_push(&kept, text);
    }
    for (size_t i = 0; i < arguments->count; i++) {
        const char *arg = arguments->items[i];
        if (strcmp(arg, "--nproc") == 0 && i + 1 < arguments->count) {
            i++;
            continue;
        }
        if (strncmp(arg, "--nproc=", 8) == 0)
            continue;
        if (strcmp(arg, "--threads") == 0 && i + 1 < arguments->count) {
            int64_t threads = stage->resources.cpus > 0 ? stage->resources.cpus
                                                        : stage->threads / ranks;
            char text[32];
            snprintf(text, sizeof text, "%lld", (long long)(threads > 0 ? threads : 1));
            cli_string_list_push(&kept, arg);
            cli_string_list_push(&kept, text);
            i++;
            continue;
        }
        cli_string_list_push(&kept, arg);
    }
    cli_string_list_free(arguments);
    *arguments = kept;
}

/* Writes `words` to the script, each quoted for the shell, separated by spaces. */
static void write_words(FILE *script, const cli_string_list_t *words)
{
    for (size_t i = 0; i < words->count; i++) {
        char *quoted = pipeline_shell_quote(words->items[i]);
        fprintf(script, " %s", quoted ? quoted : "''");
        free(quoted);
    }
}

/*
 * Writes the body: enter lmpipe's directory, then run the stage's command
 * line. A split stage takes its task from SLURM_ARRAY_TASK_ID. A stage with
 * --nproc N starts N ranks with srun, which join at a rendezvous on the first
 * node. A stage with stdout: writes FILE.partial and renames it on success.
 */
static void write_body(const slurm_script_t *job, FILE *script)
{
    const pipeline_stage_t *stage = &job->pipeline->stages[job->index];
    char *directory = pipeline_shell_quote(job->directory);
    char *lmpipe = pipeline_shell_quote(job->lmpipe);
    fprintf(script, "cd %s || exit 1\n", directory);

    cli_string_list_t arguments = {0};
    pipeline_stage_arguments(job->pipeline, job->index, job->force, &arguments);
    if (job->ranks > 1) {
        rank_arguments(stage, job->ranks, &arguments);
        fprintf(script,
                "# Rank 0 binds the rendezvous on the first node; the port follows the job id.\n"
                "node=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)\n"
                "address=$(getent ahostsv4 \"$node\" | awk 'NR == 1 {print $1}')\n"
                "export LMPIPE_RENDEZVOUS=\"tcp://${address:-127.0.0.1}:"
                "$((20000 + SLURM_JOB_ID %% 20000))\"\n"
                "srun --kill-on-bad-exit=1 sh -c 'exec \"$0\" \"$@\" --rank \"$SLURM_PROCID\" "
                "--world-size \"$SLURM_NTASKS\" --rendezvous \"$LMPIPE_RENDEZVOUS\"' %s %s",
                lmpipe, stage->program);
        write_words(script, &arguments);
        fprintf(script, "\n");
    } else {
        fprintf(script, "%s%s %s", stage->stdout_path ? "" : "exec ", lmpipe, stage->program);
        write_words(script, &arguments);
        if (stage->tasks > 1)
            fprintf(script, " --task \"$SLURM_ARRAY_TASK_ID/%lld\"", (long long)stage->tasks);
        if (stage->stdout_path) {
            char partial[PATH_MAX + 16];
            snprintf(partial, sizeof partial, "%s.partial", stage->stdout_path);
            char *quoted_partial = pipeline_shell_quote(partial);
            char *quoted_final = pipeline_shell_quote(stage->stdout_path);
            fprintf(script, " > %s || exit $?\nmv -f %s %s\n", quoted_partial, quoted_partial,
                    quoted_final);
            free(quoted_partial);
            free(quoted_final);
        } else {
            fprintf(script, "\n");
        }
    }
    cli_string_list_free(&arguments);
    free(directory);
    free(lmpipe);
}

int slurm_script_write(const slurm_script_t *job, const char *submit_line, const char *path)
{
    const pipeline_stage_t *stage = &job->pipeline->stages[job->index];
    char temporary[PATH_MAX + 128];
    snprintf(temporary, sizeof temporary, "%s.tmp-%ld", path, (long)getpid());
    FILE *script = fopen(temporary, "w");
    if (!script) {
        log_error("failed to create batch script %s: %s", temporary, strerror(errno));
        return -1;
    }
    fprintf(script, "#!/bin/sh\n");
    write_directives(job, script);
    fprintf(script, "# Stage %s of %s, written by lmpipe run --executor slurm.\n", stage->name,
            job->pipeline->path);
    fprintf(script, "# Submitted with: %s\n", submit_line);
    write_body(job, script);
    bool failed = ferror(script) != 0;
    if (fclose(script) != 0 || failed || rename(temporary, path) != 0) {
        log_error("failed to write batch script %s: %s", path, strerror(errno));
        unlink(temporary);
        return -1;
    }
    chmod(path, 0755);
    return 0;
}

