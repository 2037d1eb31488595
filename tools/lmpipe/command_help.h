/*
 * Option parsing for lmpipe's own commands (run, status, report). These
 * commands have no settings, so their --help lists no --config, --set or
 * --list-settings, and those options are rejected with a message that names
 * where stage settings go.
 */
#ifndef LMPIPE_TOOLS_COMMAND_HELP_H
#define LMPIPE_TOOLS_COMMAND_HELP_H

#include "cli.h"

/*
 * Parses argv (command name first, positional arguments already removed)
 * against `program`'s option table, as cli_parse does, but prints the help
 * itself for -h/--help and rejects --config, --set and --list-settings.
 * Returns CLI_CONTINUE, CLI_EXIT_OK after printing the help or the version,
 * or CLI_USAGE_ERROR after logging the invalid option.
 */
int command_parse(cli_program_t *program, int argc, char **argv);

#endif
