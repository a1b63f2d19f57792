/*
 * postern: the administrator's shell over libaccount.
 *
 *   postern [--db PATH] [--key-file PATH] [--json] [--yes] [--keep-going] [COMMAND ARGS...]
 *   postern --login [EMAIL]
 *
 * With a COMMAND it runs once and exits with a sysexits status.
 * Without one it is the interactive shell on a terminal, or reads one
 * command per line from standard input (a script) otherwise.  This
 * file holds the invocation: options, defaults, and the script loop.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void cli_mkdir_parents(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0700) != 0 && errno != EEXIST)
				return;
			*p = '/';
		}
}

/* $POSTERN_DB, else /var/lib/postern/postern.db for root, else the XDG data directory. */
static int default_db(cli *c)
{
	const char *env = getenv("POSTERN_DB"), *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	int n;

	if (env && *env) {
		n = snprintf(c->db_path, sizeof(c->db_path), "%s", env);
	} else {
		if (geteuid() == 0)
			n = snprintf(c->db_path, sizeof(c->db_path), "/var/lib/postern/postern.db");
		else if (xdg && *xdg == '/')
			n = snprintf(c->db_path, sizeof(c->db_path), "%s/postern/postern.db", xdg);
		else if (home && *home == '/')
			n = snprintf(c->db_path, sizeof(c->db_path), "%s/.local/share/postern/postern.db", home);
		else
			return -1;
		if (n > 0 && (size_t)n < sizeof(c->db_path))
			cli_mkdir_parents(c->db_path);
	}
	return n > 0 && (size_t)n < sizeof(c->db_path) ? 0 : -1;
}

static void set_actor(cli *c)
{
	struct passwd *pw = getpwuid(getuid());

	if (pw && pw->pw_name && *pw->pw_name)
		snprintf(c->actor, sizeof(c->actor), "os:%.100s", pw->pw_name);
	else
		snprintf(c->actor, sizeof(c->actor), "os:uid%lu", (unsigned long)getuid());
}

int cli_script(cli *c)
{
	char line[CLI_LINE_MAX + 2], *av[CLI_ARGS_MAX + 1];
	const char *err = NULL;
	int first = 0, st, n;

	c->in = stdin;
	while (fgets(line, sizeof(line), stdin)) {
		size_t len = strlen(line);
		c->lineno++;
		if (len > 0 && line[len - 1] != '\n' && !feof(stdin)) {
			int ch;
			while ((ch = getchar()) != EOF && ch != '\n')
				;
			st = cli_fail(c, EX_DATAERR, "the line is longer than %d bytes", CLI_LINE_MAX);
		} else if ((n = cli_split(line, av, CLI_ARGS_MAX, &err)) < 0) {
			st = cli_fail(c, EX_USAGE, "%s", err);
		} else if (n == 0) {
			continue;
		} else {
			st = cli_run(c, n, av);
		}
		acct_wipe(line, sizeof(line)); /* it may have carried a code or a key */
		if (c->quit)
			break;
		if (st != 0) {
			if (!first)
				first = st;
			if (!c->keep_going) {
				fprintf(stderr, "postern: stopped at line %ld (status %d)\n", c->lineno, st);
				break;
			}
		}
	}
	return first;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"db", required_argument, NULL, 'd'},   {"key-file", required_argument, NULL, 'k'},
		{"json", no_argument, NULL, 'j'},       {"yes", no_argument, NULL, 'y'},
		{"keep-going", no_argument, NULL, 'K'}, {"login", no_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},       {"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	static cli c;
	const char *db = NULL, *nc = getenv("NO_COLOR"), *term = getenv("TERM");
	int ch, st, login = 0, colour_ok;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (ch) {
		case 'd': db = optarg; break;
		case 'k': c.key_file = optarg; break;
		case 'j': c.json = 1; break;
		case 'y': c.yes = 1; break;
		case 'K': c.keep_going = 1; break;
		case 'L': login = 1; break;
		case 'h': cli_print_usage(stdout); return 0;
		case 'V': printf("postern %s\n", ACCT_VERSION_STRING); return 0;
		default:
			fprintf(stderr, "error: unknown or incomplete option '%s'; 'postern --help' lists them\n",
			        argv[optind - 1]);
			return EX_USAGE;
		}
	}
	if (db) {
		if (strlen(db) >= sizeof(c.db_path) || !*db) {
			fputs("error: --db needs a path (at most 4095 bytes)\n", stderr);
			return EX_USAGE;
		}
		snprintf(c.db_path, sizeof(c.db_path), "%s", db);
	} else if (default_db(&c) != 0) {
		fputs("error: no database path: give --db PATH or set $POSTERN_DB\n", stderr);
		return EX_USAGE;
	}
	if (c.key_file == NULL && getenv("POSTERN_KEY_FILE") && *getenv("POSTERN_KEY_FILE"))
		c.key_file = getenv("POSTERN_KEY_FILE");
	if (c.key_file == NULL) {
		c.key_file = ACCT_DEFAULT_KEY_FILE;
		c.key_file_default = 1;
	}
	colour_ok = !(nc && *nc) && !(term && !strcmp(term, "dumb"));
	c.color = colour_ok && isatty(STDOUT_FILENO);
	c.color_err = colour_ok && isatty(STDERR_FILENO);
	set_actor(&c);

	if (login) {
		if (argc - optind > 1) {
			fputs("error: --login takes at most an email address, not a command\n", stderr);
			return EX_USAGE;
		}
		c.mode = isatty(STDIN_FILENO) ? CLI_SHELL : CLI_SCRIPT;
		st = cli_login(&c, optind < argc ? argv[optind] : NULL);
	} else if (optind < argc) {
		c.mode = CLI_ONESHOT;
		if (argc - optind > CLI_ARGS_MAX) {
			fprintf(stderr, "error: too many arguments (at most %d)\n", CLI_ARGS_MAX);
			return EX_USAGE;
		}
		st = cli_run(&c, argc - optind, argv + optind);
	} else if (isatty(STDIN_FILENO)) {
		c.mode = CLI_SHELL;
		cli_signals(); /* in the shell, Ctrl-C cancels the line, never the shell */
		st = cli_shell(&c);
	} else {
		c.mode = CLI_SCRIPT;
		st = cli_script(&c);
	}
	acct_close(c.db);
	fflush(stdout);
	return st;
}
