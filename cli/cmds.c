/*
 * The command table and what it drives: finding the command for a
 * line, running it (opening the database on first use), `help`, the
 * --help text, and which lines carry secrets.  The table itself is the
 * union of the groups below; each group lives in its own cmd_<noun>.c.
 */
#include "cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern const cli_group cli_group_account, cli_group_user, cli_group_2fa, cli_group_apikey, cli_group_ip,
	cli_group_tls, cli_group_audit, cli_group_help, cli_group_quit, cli_group_exit;
extern const cli_group cli_group_events; /* cli/cmd_events.c */
extern const cli_group cli_group_postfix_config, cli_group_postfix_check; /* cli/cmd_postfix.c */

const cli_group *const cli_groups[] = {
	&cli_group_account,
	&cli_group_user,
	&cli_group_2fa,
	&cli_group_apikey,
	&cli_group_ip,
	&cli_group_tls,
	&cli_group_audit,
	&cli_group_events,
	&cli_group_postfix_config, &cli_group_postfix_check,
	&cli_group_help,
	&cli_group_quit,
	&cli_group_exit,
	NULL,
};

static const cli_group *find_group(const char *noun)
{
	for (const cli_group *const *g = cli_groups; *g; g++)
		if (!strcmp((*g)->noun, noun))
			return *g;
	return NULL;
}

static void verbs(char *buf, size_t len, const cli_group *g)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const cli_cmd *k = g->cmds; k->fn; k++) {
		int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", k->verb);
		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
	}
}

const cli_cmd *cli_lookup(cli *c, int argc, char **argv, const cli_group **grp, int *used)
{
	const cli_group *g;
	char list[512];

	if (argc < 1)
		return NULL;
	if ((g = find_group(argv[0])) == NULL) {
		cli_fail(c, EX_USAGE, "unknown command '%.80s'; 'help' lists the commands", argv[0]);
		return NULL;
	}
	*grp = g;
	if (g->cmds[0].verb == NULL) {
		*used = 1;
		return &g->cmds[0];
	}
	verbs(list, sizeof(list), g);
	if (argc < 2) {
		cli_fail(c, EX_USAGE, "'%s' needs one of: %s", g->noun, list);
		return NULL;
	}
	for (const cli_cmd *k = g->cmds; k->fn; k++)
		if (!strcmp(k->verb, argv[1])) {
			*used = 2;
			return k;
		}
	cli_fail(c, EX_USAGE, "unknown command '%s %.80s'; '%s' takes: %s", g->noun, argv[1], g->noun, list);
	return NULL;
}

void cli_cmd_usage(char *buf, size_t len, const cli_group *g, const cli_cmd *k)
{
	snprintf(buf, len, "%s%s%s%s%s", g->noun, k->verb ? " " : "", k->verb ? k->verb : "",
	         k->args && *k->args ? " " : "", k->args ? k->args : "");
}

int cli_line_is_secret(int argc, char **argv)
{
	const cli_group *g;
	const cli_cmd *k;

	for (int i = 0; i < argc; i++)
		if (strstr(argv[i], "pstn_") || !strncmp(argv[i], "--code", 6) || !strncmp(argv[i], "--password", 10))
			return 1;
	if (argc < 1 || find_group(argv[0]) == NULL)
		return 1; /* not a command: perhaps a password typed at the wrong prompt */
	g = find_group(argv[0]);
	if (g->cmds[0].verb == NULL)
		return (g->cmds[0].flags & CLI_F_SECRET) != 0;
	if (argc < 2)
		return 0;
	for (k = g->cmds; k->fn; k++)
		if (!strcmp(k->verb, argv[1]))
			return (k->flags & CLI_F_SECRET) != 0;
	return 1;
}

/* ---------------------------------------------------------------- */
/* The database, opened on first use */

int cli_db(cli *c)
{
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	int r;

	if (c->db)
		return 0;
	o.actor = c->actor;
	o.key_file = c->key_file;
	if (c->key_file_default && geteuid() == 0)
		cli_mkdir_parents(c->key_file); /* /etc/postern, so that 2FA works on a fresh machine */
	r = acct_open(&c->db, c->db_path, &o);
	if (r != ACCT_OK) {
		const char *m = c->db ? acct_errmsg(c->db) : "";
		int st = cli_fail(c, cli_status(r), "cannot open the database %s: %s", c->db_path,
		                  m && *m ? m : acct_strerror(r));
		acct_close(c->db);
		c->db = NULL;
		return st;
	}
	if ((acct_warnings(c->db) & ACCT_WARN_FILE_MODE) && !c->warned_mode) {
		c->warned_mode = 1;
		cli_warn(c, "%s is readable or writable by group or others; chmod 600 it", c->db_path);
	}
	return 0;
}

int cli_run(cli *c, int argc, char **argv)
{
	const cli_group *g = NULL;
	const cli_cmd *k;
	int used = 0, r;

	if (argc == 0)
		return 0;
	if ((k = cli_lookup(c, argc, argv, &g, &used)) == NULL)
		return EX_USAGE;
	if (c->self && !(k->flags & CLI_F_SELF)) {
		return cli_fail(c, EX_NOPERM, "'%s%s%s' is for administrators, not in a self-service login", g->noun,
		                k->verb ? " " : "", k->verb ? k->verb : "");
	}
	if (!(k->flags & CLI_F_NODB) && (r = cli_db(c)) != 0)
		return r;
	c->cur_group = g;
	c->cur_cmd = k;
	r = k->fn(c, argc - used, argv + used);
	c->cur_group = NULL;
	c->cur_cmd = NULL;
	fflush(stdout);
	return r;
}

/* ---------------------------------------------------------------- */
/* Self-service scope */

struct subs {
	char names[64][ACCT_NAME_MAX + 1];
	int n;
};

int cli_scope_account(cli *c, const char *account)
{
	acct_account *a = NULL;
	int ok;

	if (!c->self)
		return 0;
	if (account && !strcmp(account, c->self_account))
		return 0;
	/* A subaccount of the user's own account is in scope too. */
	ok = account && acct_account_get(&a, c->db, account) == ACCT_OK && a->parent &&
	     !strcmp(a->parent, c->self_account);
	acct_account_free(a);
	if (ok)
		return 0;
	return cli_fail(c, EX_NOPERM, "you can manage only account '%s' and its subaccounts", c->self_account);
}

int cli_scope_email(cli *c, const char *email)
{
	if (!c->self || (email && !strcasecmp(email, c->self_email)))
		return 0;
	return cli_fail(c, EX_NOPERM, "in a self-service login you manage only your own user, %s", c->self_email);
}

int cli_scope_key(cli *c, const char *key_id)
{
	acct_apikey *k = NULL;
	int r;

	if (!c->self)
		return 0;
	if ((r = acct_apikey_get(&k, c->db, key_id)) != ACCT_OK)
		return cli_acct_fail(c, r);
	r = cli_scope_account(c, k->account);
	acct_apikey_free(k);
	return r;
}

/* ---------------------------------------------------------------- */
/* Help */

void cli_print_usage(FILE *f)
{
	char u[512];

	fputs("usage: postern [--db PATH] [--key-file PATH] [--json] [--yes] [--keep-going] [COMMAND ARGS...]\n"
	      "       postern --login [EMAIL]\n"
	      "\n"
	      "Without a COMMAND, postern starts the interactive shell when standard input is\n"
	      "a terminal, and otherwise reads one command per line from standard input.\n"
	      "\n"
	      "options:\n"
	      "  --db PATH         the database (default $POSTERN_DB, else /var/lib/postern/postern.db\n"
	      "                    as root, else ${XDG_DATA_HOME:-~/.local/share}/postern/postern.db)\n"
	      "  --key-file PATH   the 2FA master key (default $POSTERN_KEY_FILE, else " ACCT_DEFAULT_KEY_FILE ")\n"
	      "  --json            print one JSON document per command\n"
	      "  --yes             do not ask for confirmations\n"
	      "  --keep-going      in a script, run every line even after a failure\n"
	      "  --login [EMAIL]   self-service: log in as a user and manage that user's account\n"
	      "  --help, --version\n"
	      "\n"
	      "commands:\n",
	      f);
	for (const cli_group *const *g = cli_groups; *g; g++)
		for (const cli_cmd *k = (*g)->cmds; k->fn; k++) {
			cli_cmd_usage(u, sizeof(u), *g, k);
			fprintf(f, "  %s\n      %s\n", u, k->summary);
		}
	fputs("\nexit status: 0 ok (a check: yes), 1 a check's no, 64 usage, 65 bad data,\n"
	      "66 no such account/user/key, 69 store unavailable, 75 store busy, 77 permission.\n",
	      f);
}

int cli_print_help(cli *c, int argc, char **argv)
{
	int found = 0;

	char u[512];
	const cli_group *g;

	if (argc == 0) {
		size_t w = 0;
		for (const cli_group *const *gg = cli_groups; *gg; gg++)
			for (const cli_cmd *k = (*gg)->cmds; k->fn; k++) {
				size_t n = strlen((*gg)->noun) + (k->verb ? strlen(k->verb) + 1 : 0);
				if (n > w)
					w = n;
			}
		for (const cli_group *const *gg = cli_groups; *gg; gg++)
			for (const cli_cmd *k = (*gg)->cmds; k->fn; k++) {
				if (c->self && !(k->flags & CLI_F_SELF))
					continue;
				snprintf(u, sizeof(u), "%s%s%s", (*gg)->noun, k->verb ? " " : "", k->verb ? k->verb : "");
				printf("  %s%-*s%s  %s\n", c->color ? "\033[1m" : "", (int)w, u, c->color ? "\033[0m" : "",
				       k->summary);
			}
		printf("\n'help COMMAND' shows a command's usage and an example.\n");
		return 0;
	}
	for (const cli_group *const *gg = cli_groups; *gg; gg++) {
		g = *gg;
		if (strcmp(g->noun, argv[0]))
			continue;
		for (const cli_cmd *k = g->cmds; k->fn; k++) {
			if (argc > 1 && k->verb && strcmp(k->verb, argv[1]))
				continue;
			cli_cmd_usage(u, sizeof(u), g, k);
			printf("usage: %s\n  %s\n", u, k->summary);
			if (k->example && *k->example)
				printf("  example: %s\n", k->example);
			found = 1;
		}
		if (found)
			return 0;
		return cli_fail(c, EX_USAGE, "'%s' has no command '%.80s'; 'help %s' lists them", g->noun, argv[1], g->noun);
	}
	return cli_fail(c, EX_USAGE, "no command '%.80s'; 'help' lists the commands", argv[0]);
}
