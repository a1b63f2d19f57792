/*
 * The admin shell's internal interface: the state one run of `postern`
 * carries (the open database, the invocation options, the mode), the
 * command table that drives dispatch, help, completion and the --help
 * text, and the helpers every cmd_<noun>.c uses to parse its options,
 * ask for secrets and confirmations, and print tables, JSON and errors.
 *
 * Adding a command group: write cli/cmd_<noun>.c defining a
 * `const cli_group cli_group_<noun>` (see cmd_account.c), and add one
 * line for it to cli_groups[] in cmds.c.  The build picks up every
 * cli/cmd_*.c by itself.
 */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sysexits.h>

#include <jansson.h>
#include <postern/account.h>

#define CLI_LINE_MAX 4096  /* one command line, script or shell */
#define CLI_ARGS_MAX 64    /* words on one line */
#define CLI_SECRET_MAX 1100 /* a password (1024 bytes) or a code, with room to say it is too long */

/* The answer "no" of a check (ip check, apikey check, 2fa verify, user login). */
#define CLI_NO 1

typedef enum cli_mode {
	CLI_ONESHOT, /* postern COMMAND ARGS... */
	CLI_SCRIPT,  /* commands read from a non-terminal standard input */
	CLI_SHELL    /* the interactive libedit shell */
} cli_mode;

typedef struct cli {
	acct_db *db;        /* opened on first use */
	char db_path[4096];
	const char *key_file;
	int key_file_default; /* no --key-file nor $POSTERN_KEY_FILE: its directory is made on first use */
	int json, yes, keep_going;
	cli_mode mode;
	int color;          /* colour on standard output */
	int color_err;      /* colour on standard error */
	FILE *in;           /* the script being read (script mode), else NULL */
	long lineno;        /* its current line (script mode) */
	char actor[ACCT_EMAIL_MAX + 16]; /* "os:NAME" or "user:EMAIL" */
	/* Self-service (postern --login): the logged-in user and their account. */
	int self;
	char self_email[ACCT_EMAIL_MAX + 1];
	char self_account[ACCT_NAME_MAX + 1];
	char self_address[64]; /* the SSH client's address, "" if none */
	int warned_mode;    /* the file-mode warning was shown */
	int quit;           /* quit/exit was run */
	const struct cli_group *cur_group; /* the command running, for its usage line */
	const struct cli_cmd *cur_cmd;
} cli;

typedef int (*cli_fn)(cli *c, int argc, char **argv);

/* What a positional argument completes to in the shell. */
typedef enum cli_arg_kind {
	CLI_ARG_NONE = 0,
	CLI_ARG_ACCOUNT,
	CLI_ARG_EMAIL,
	CLI_ARG_KEYID,
	CLI_ARG_COMMAND
} cli_arg_kind;

#define CLI_F_SELF   0x1u /* allowed in self-service mode (the command checks the scope) */
#define CLI_F_SECRET 0x2u /* its line carries a secret (key, code): never kept in history */
#define CLI_F_NODB   0x4u /* runs without the database */
#define CLI_F_CHECK  0x8u /* a check: exit 0 for yes, 1 for no */

typedef struct cli_cmd {
	const char *verb;     /* "create"; NULL for a one-word command such as "audit" */
	const char *args;     /* usage after the words: "NAME [--parent NAME] [--require-2fa]" */
	const char *summary;  /* one line for `help` */
	const char *example;  /* one example line for `help CMD` */
	cli_fn fn;
	unsigned int flags;
	const char *options;  /* the options, space-separated, for completion */
	cli_arg_kind arg[3];  /* what positional arguments 1..3 complete to */
} cli_cmd;

typedef struct cli_group {
	const char *noun;     /* "account" */
	const char *summary;
	const cli_cmd *cmds;  /* ends with an entry whose fn is NULL */
} cli_group;

/* cmds.c: the registry, NULL-terminated. */
extern const cli_group *const cli_groups[];

/* Find the command for argv; *used = how many words named it (1 or 2).
 * NULL with a message printed (usage status) when there is none. */
const cli_cmd *cli_lookup(cli *c, int argc, char **argv, const cli_group **grp, int *used);
/* Run one command line (already split); returns its exit status. */
int cli_run(cli *c, int argc, char **argv);
/* Whether a split line may enter history. */
int cli_line_is_secret(int argc, char **argv);
/* The --help text and `help`. */
void cli_print_usage(FILE *f);
int cli_print_help(cli *c, int argc, char **argv);
/* "account create NAME ..." for a command; buf gets it. */
void cli_cmd_usage(char *buf, size_t len, const cli_group *g, const cli_cmd *cmd);

/* util.c: splitting a line into words (quotes, backslashes, # comments).
 * Returns the word count, or -1 with *err set.  Words point into buf. */
int cli_split(char *buf, char **argv, int max, const char **err);

/* Options of one command.  Positional arguments are collected into pos. */
typedef struct cli_opt {
	const char *name;  /* "--parent" */
	int has_arg;
	const char **val;  /* has_arg: receives the value */
	int *flag;         /* !has_arg: set to 1 */
} cli_opt;

/* Parse argv (after the command words).  Returns 0, or EX_USAGE with
 * the message and the command's usage printed. */
int cli_parse(cli *c, int argc, char **argv, const cli_opt *opts, const char **pos, int minpos, int maxpos);
/* "on"/"off" (also yes/no, true/false, 1/0) -> 1/0; -1 otherwise. */
int cli_onoff(const char *s);

/* The database, opened on first use.  0, or the exit status after an error. */
int cli_db(cli *c);

/* Errors: "error: MSG" on stderr (and {"error":..,"status":..} on
 * stdout with --json); return `status`. */
int cli_fail(cli *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A libaccount failure `r` (negative): its message and its sysexits status. */
int cli_acct_fail(cli *c, int r);
int cli_status(int acct_code);
/* Notes for a person (text mode only), to stdout. */
void cli_say(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_warn(cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a JSON document (takes the reference) and return 0. */
int cli_json(cli *c, json_t *doc);
/* UTC ISO 8601 text of a time, or NULL for 0. */
const char *cli_time(char buf[32], int64_t t);
json_t *cli_json_time(int64_t t);

/* Aligned text tables. */
typedef struct cli_table cli_table;
cli_table *cli_table_new(int ncols, const char *const *headers);
void cli_table_row(cli_table *t, const char *const *cells);
void cli_table_print(cli *c, cli_table *t);
void cli_table_free(cli_table *t);
int cli_table_empty(const cli_table *t);

/* A listing: a JSON array with --json, else a table with these headers.
 * cli_list_begin sets exactly one of *arr and *t; cli_list_end takes
 * both (transferred) with the foreach's status and prints the one that
 * was filled, or frees both and reports a failure. */
void cli_list_begin(cli *c, json_t **arr, cli_table **t, int ncols, const char *const *headers);
int cli_list_end(cli *c, json_t *arr, cli_table *t, int r);

/* prompt.c: secrets and confirmations. */
/* Read a secret: with `from_stdin` the next line of standard input (the
 * next script line in script mode), else without echo from the
 * terminal; `twice` asks again and compares.  0, or an exit status
 * after an error.  The caller wipes buf. */
int cli_secret(cli *c, const char *prompt, int from_stdin, int twice, char *buf, size_t len);
/* Ask a yes/no question; yes with --yes.  0 = yes, else the status. */
int cli_confirm(cli *c, int yes_opt, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A line from the terminal with echo (for a code in the shell).  0 or status. */
int cli_ask(cli *c, const char *prompt, char *buf, size_t len);
/* Set by SIGINT; prompts return cancelled.  cli_signals() keeps the
 * handler for good (the shell); prompts install it while they read. */
extern volatile int cli_interrupted;
void cli_signals(void);

/* Self-service scope: 0 when the logged-in user may act on it, else
 * the status after an error (always 0 for an administrator). */
int cli_scope_account(cli *c, const char *account);
int cli_scope_email(cli *c, const char *email);
int cli_scope_key(cli *c, const char *key_id);

/* main.c: run commands from standard input, one a line */
int cli_script(cli *c);
/* Make the directories above `path` (mode 0700) that are missing. */
void cli_mkdir_parents(const char *path);
/* shell.c */
int cli_shell(cli *c);
/* login.c */
int cli_login(cli *c, const char *email);

#endif
