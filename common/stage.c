/*
 * Shared steps of document stages (see stage.h).
 */
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int stage_prepare(const cli_program_t *program, outdir_identity_t *identity)
{
    if (outdir_identity_from_cli(identity, program) != 0)
        return -1;
    const cli_stage_t *stage = program->stage;
    bool folder_output = stage && stage->output && doc_output_is_folder(stage->output);
    if (cli_check_only() && (!folder_output || stage->force)) {
        printf("stale: the output is not a folder with a manifest, so it is always rebuilt\n");
        return 1;
    }
    if (!folder_output || stage->force)
        return 0;
    return outdir_is_current(stage->output, identity) ? 1 : 0;
}

int stage_write_stats(const cli_program_t *program, const stats_t *stats, outdir_t *outdir)
{
    int status = 0;
    if (outdir) {
        const cli_stage_t *stage = program->stage;
        char name[64];
        if (stage && stage->task_count > 1)
            snprintf(name, sizeof name, "stats-%05lld.json", (long long)stage->task_index);
        else
            snprintf(name, sizeof name, "stats.json");
        size_t size = strlen(outdir_path(outdir)) + sizeof name + 2;
        char *path = malloc(size);
        if (!path)
            return -1;
        snprintf(path, size, "%s/%s", outdir_path(outdir), name);
        status = stats_write_json(stats, path);
        free(path);
        if (status == 0)
            status = outdir_add_file(outdir, name, 0);
    }
    if (program->stage && program->stage->stats_path &&
        stats_write_json(stats, program->stage->stats_path) != 0)
        status = -1;
    return status;
}

int stage_exit_status(size_t failed_inputs, size_t input_count)
{
    if (input_count > 0 && failed_inputs >= input_count) {
        log_error("no input could be read");
        return 1;
    }
    return 0;
}
