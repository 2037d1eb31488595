/*
 * Internal interface of the shard program: building a shard folder from
 * documents (build.c) and inspecting one shard file (inspect.c).
 */
#ifndef LMPIPE_SHARD_TOOL_H
#define LMPIPE_SHARD_TOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "outdir.h"
#include "stats.h"

typedef struct {
    char *tokenizer_path;
    double val_fraction;
    int64_t shard_tokens;       /* max tokens per shard file */
    int64_t frame_tokens;
    int64_t zstd_level;
    bool long_distance;         /* zstd long-distance matching */
    char *mode;                 /* documents, sft or preference */
    char *chat_template;        /* chatml, plain or a JSON file */
    char *inspect_path;
    int64_t sample_tokens;      /* tokens decoded by --inspect */
} shard_settings_t;

/*
 * Tokenizes the documents of `stage` into train and val shards in the folder
 * stage->output. Returns the exit status: 0, or 1 after logging.
 */
int shard_build(const cli_program_t *program, const shard_settings_t *settings,
                const outdir_identity_t *identity);

/* Prints the header, counts and a decoded sample of one shard file and verifies
 * every checksum. Returns the exit status: 0, or 1 after logging. */
int shard_inspect(const shard_settings_t *settings);

#endif
