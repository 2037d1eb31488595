/*
 * shard: tokenizes documents into a folder of token shards for training, or
 * (with --inspect) prints and verifies one shard file.
 *
 * docs/shard.md describes the options and the output folder; the file format
 * is in docs/formats.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "docio.h"
#include "log.h"
#include "outdir.h"
#include "shard.h"
#include "shard_tool.h"

/* Checks option combinations cli_parse cannot. Returns 0 or CLI_USAGE_ERROR. */
static int check_options(const cli_program_t *program, const shard_settings_t *settings)
{
    if (settings->inspect_path)
        return 0;
    const cli_stage_t *stage = program->stage;
    if (!settings->tokenizer_path) {
        log_error("missing -t/--tokenizer FILE: the tokenizer.json to encode with");
        return CLI_USAGE_ERROR;
    }
    if (!stage->output || !doc_output_is_folder(stage->output)) {
        log_error("-o must name an output folder (got %s)",
                  stage->output ? stage->output : "none");
        return CLI_USAGE_ERROR;
    }
    if (stage->inputs.count == 0) {
        log_error("no input given; name document files or folders, or - for standard input");
        return CLI_USAGE_ERROR;
    }
    return 0;
}

/* Decides whether the output folder is already up to date. Returns 1 to skip,
 * 0 to build, -1 on error. The tokenizer's content enters the inputs hash. */
static int prepare_identity(const cli_program_t *program, const shard_settings_t *settings,
                            outdir_identity_t *identity)
{
    if (outdir_identity_from_cli(identity, program) != 0 ||
        outdir_identity_add_file(identity, settings->tokenizer_path) != 0)
        return -1;
    bool builtin_template = strcmp(settings->chat_template, "chatml") == 0 ||
                            strcmp(settings->chat_template, "plain") == 0;
    if (strcmp(settings->mode, "documents") != 0 && !builtin_template &&
        outdir_identity_add_file(identity, settings->chat_template) != 0)
        return -1;
    if (program->stage->force)
        return 0;
    return outdir_is_current(program->stage->output, identity) ? 1 : 0;
}

int main(int argc, char **argv)
{
    log_init("shard");
    shard_settings_t settings = {
        .val_fraction = 0.05,
        .shard_tokens = 100000000,
        .frame_tokens = SHARD_DEFAULT_FRAME_TOKENS,
        .zstd_level = 9,
        .sample_tokens = 64,
        .mode = "documents",
        .chat_template = "chatml",
    };
    cli_option_t options[] = {
        {"tokenizer", 't', CLI_STRING, &settings.tokenizer_path, "FILE", NULL,
         "tokenizer.json (Hugging Face byte-level BPE) to encode with", 0, 0, 0},
        {"val-fraction", 0, CLI_DOUBLE, &settings.val_fraction, "F", NULL,
         "fraction of documents, chosen by a hash of their id, that go to the val split",
         CLI_SETTING, 0, 1},
        {"shard-tokens", 0, CLI_INT, &settings.shard_tokens, "N", "tokens",
         "max tokens per shard file (a longer document gets a file of its own)",
         CLI_SETTING, 1, 4e18},
        {"frame-tokens", 0, CLI_INT, &settings.frame_tokens, "N", "tokens",
         "tokens per compressed frame, the unit of random access", CLI_SETTING, 1, 16777216},
        {"zstd-level", 0, CLI_INT, &settings.zstd_level, "N", NULL,
         "zstd compression level of the frames", CLI_SETTING, 1, 22},
        {"long-distance", 0, CLI_FLAG, &settings.long_distance, NULL, NULL,
         "zstd long-distance matching within each frame", CLI_SETTING, 0, 0},
        {"mode", 0, CLI_STRING, &settings.mode, "MODE", NULL,
         "documents (JSON Lines with text), sft (chat, prompt/completion, HH or instruction "
         "records with loss masks on assistant tokens) or preference (prompt, chosen and "
         "rejected pairs)", CLI_SETTING, 0, 0},
        {"chat-template", 0, CLI_STRING, &settings.chat_template, "NAME|FILE", NULL,
         "chatml, plain or a JSON file of role prefixes and suffixes (sft and preference "
         "modes)", CLI_SETTING, 0, 0},
        {"inspect", 0, CLI_STRING, &settings.inspect_path, "FILE", NULL,
         "print the header, counts and a decoded sample of one shard file, verify its "
         "checksums, and exit", 0, 0, 0},
        {"sample-tokens", 0, CLI_INT, &settings.sample_tokens, "N", "tokens",
         "tokens of the first document that --inspect decodes", 0, 0, 1000000},
        {0},
    };
    cli_stage_t stage = {0};
    cli_program_t program = {
        .name = "shard",
        .summary = "tokenize documents into train and val token shards",
        .usage = "[options] -t tokenizer.json INPUT... -o FOLDER\n"
                 "       shard --inspect FILE [-t tokenizer.json]",
        .description = "Writes FOLDER/train-NNNNN.lshard and FOLDER/val-NNNNN.lshard, a copy "
                       "of tokenizer.json and manifest.json with the token and document counts "
                       "of each split.",
        .options = options,
        .stage = &stage,
    };
    int parsed = cli_parse(&program, argc, argv);
    if (parsed == CLI_CONTINUE)
        parsed = check_options(&program, &settings);
    if (parsed != CLI_CONTINUE) {
        cli_free(&program);
        return cli_exit_status(parsed);
    }
    if (settings.inspect_path) {
        int status = shard_inspect(&settings);
        cli_free(&program);
        return status;
    }

    outdir_identity_t identity = {0};
    int status = 1;
    int prepared = prepare_identity(&program, &settings, &identity);
    if (prepared == 1) {
        status = 0; /* outdir_is_current logged why */
    } else if (prepared == 0) {
        status = shard_build(&program, &settings, &identity);
    }
    outdir_identity_free(&identity);
    cli_free(&program);
    return status;
}
