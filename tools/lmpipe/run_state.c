/*
 * The state file of a run (see run_state.h).
 */
#include "run_state.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "outdir.h"

json_t *run_state_create(const pipeline_t *pipeline)
{
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    json_t *state = json_object();
    json_object_set_new(state, "format", json_string("lmpipe-run-state"));
    json_object_set_new(state, "pipeline", json_string(pipeline->path));
    json_object_set_new(state, "directory", json_string(cwd));
    json_object_set_new(state, "run_dir", json_string(pipeline->run_dir));
    json_t *stages = json_object();
    for (size_t i = 0; i < pipeline->stage_count; i++) {
        json_t *stage = json_object();
        json_object_set_new(stage, "state", json_string("waiting"));
        json_object_set_new(stage, "tasks", json_integer(pipeline->stages[i].tasks));
        json_object_set_new(stage, "tasks_done", json_integer(0));
        json_object_set_new(stages, pipeline->stages[i].name, stage);
    }
    json_object_set_new(state, "stages", stages);
    return state;
}

json_t *run_state_stage(json_t *state, const char *stage_name)
{
    return json_object_get(json_object_get(state, "stages"), stage_name);
}

int run_state_write(json_t *state, const char *run_dir)
{
    char folder[4096], path[4200], temporary[4300];
    snprintf(folder, sizeof folder, "%s/%s", run_dir, RUN_STATE_FOLDER);
    snprintf(path, sizeof path, "%s/%s", folder, RUN_STATE_NAME);
    snprintf(temporary, sizeof temporary, "%s.tmp-%ld", path, (long)getpid());
    if (mkdir(folder, 0777) != 0 && errno != EEXIST) {
        log_error("failed to create folder %s: %s", folder, strerror(errno));
        return -1;
    }
    if (json_dump_file(state, temporary, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0) {
        log_error("failed to write %s: %s", temporary, strerror(errno));
        unlink(temporary);
        return -1;
    }
    if (rename(temporary, path) != 0) {
        log_error("failed to rename %s to %s: %s", temporary, path, strerror(errno));
        unlink(temporary);
        return -1;
    }
    return 0;
}

void run_state_remove_temporaries(const char *run_dir)
{
    char folder[4200];
    snprintf(folder, sizeof folder, "%s/%s", run_dir, RUN_STATE_FOLDER);
    outdir_remove_orphaned_temporaries(folder);
    /* Stages write their --stats files and single-file outputs here. */
    outdir_remove_orphaned_temporaries(run_dir);
}

json_t *run_state_read(const char *run_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s/%s", run_dir, RUN_STATE_FOLDER, RUN_STATE_NAME);
    json_t *state = json_load_file(path, 0, NULL);
    if (state && !json_is_object(json_object_get(state, "stages"))) {
        json_decref(state);
        return NULL;
    }
    return state;
}
