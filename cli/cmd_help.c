/*
 * help [COMMAND], quit, exit: the shell's own commands.
 */
#include "cli.h"

static int cmd_help(cli *c, int argc, char **argv)
{
	if (argc > 2)
		return cli_fail(c, EX_USAGE, "help takes at most a command's two words");
	return cli_print_help(c, argc, argv);
}

static int cmd_quit(cli *c, int argc, char **argv)
{
	(void)argv;
	if (argc > 0)
		return cli_fail(c, EX_USAGE, "quit takes no arguments");
	c->quit = 1;
	return 0;
}

static const cli_cmd help_cmds[] = {
	{NULL, "[COMMAND]", "list the commands, or show one's usage and an example", "help apikey create", cmd_help,
	 CLI_F_SELF | CLI_F_NODB, "", {CLI_ARG_COMMAND, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};
static const cli_cmd quit_cmds[] = {
	{NULL, "", "leave the shell (so does Ctrl-D)", "quit", cmd_quit, CLI_F_SELF | CLI_F_NODB, "",
	 {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};
static const cli_cmd exit_cmds[] = {
	{NULL, "", "leave the shell", "exit", cmd_quit, CLI_F_SELF | CLI_F_NODB, "",
	 {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_help = {"help", "help", help_cmds};
const cli_group cli_group_quit = {"quit", "leave", quit_cmds};
const cli_group cli_group_exit = {"exit", "leave", exit_cmds};
