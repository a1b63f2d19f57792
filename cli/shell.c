/*
 * The interactive shell (libedit): a prompt that names the database,
 * history kept across sessions without any line that carries a secret,
 * tab completion driven by the command table and by the live database
 * (account names, user emails, key ids), and Ctrl-C that cancels the
 * line being typed rather than the shell.
 *
 * Ctrl-C: the SIGINT handler (prompt.c) only sets a flag and does not
 * restart reads, and libedit reads through our own character function,
 * which reports the interruption as a read error; el_gets() then
 * returns NULL, and the loop tells that apart from Ctrl-D by the flag.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <histedit.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#define HISTORY_SIZE 1000
#define CANDIDATES_MAX 512

static cli *shell_cli; /* for the prompt and completion callbacks */
static char prompt_buf[512];

static char *prompt_fn(EditLine *el)
{
	(void)el;
	return prompt_buf;
}

/*
 * One byte from the terminal, or -2 once Ctrl-C was pressed.  SIGINT is
 * blocked except inside ppoll(), which unblocks it atomically: a Ctrl-C
 * that arrives while libedit is redrawing (not in read) is still seen
 * here, instead of setting the flag and leaving read() blocked until
 * the next key.
 */
static ssize_t wait_read(char *byte)
{
	struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
	sigset_t block, old;
	ssize_t k;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	if (sigprocmask(SIG_BLOCK, &block, &old) != 0)
		return read(STDIN_FILENO, byte, 1);
	while (!cli_interrupted && ppoll(&pfd, 1, NULL, &old) < 0 && errno == EINTR)
		;
	if (cli_interrupted) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -2;
	}
	k = read(STDIN_FILENO, byte, 1);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return k;
}

/* Read one character for libedit, reporting Ctrl-C as an error. */
static int getc_fn(EditLine *el, wchar_t *out)
{
	char buf[MB_LEN_MAX];
	size_t n = 0;
	mbstate_t st;

	(void)el;
	memset(&st, 0, sizeof(st));
	for (;;) {
		ssize_t k = wait_read(buf + n);
		if (k == -2)
			return -1; /* Ctrl-C */
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return (int)k;
		n++;
		{
			wchar_t w;
			size_t r = mbrtowc(&w, buf, n, &st);
			if (r == (size_t)-2 && n < sizeof(buf))
				continue;
			if (r == (size_t)-1 || r == (size_t)-2) {
				*out = (wchar_t)(unsigned char)buf[0];
				return 1;
			}
			*out = w;
			return 1;
		}
	}
}

/* ---------------------------------------------------------------- */
/* Completion */

struct cands {
	char *v[CANDIDATES_MAX];
	int n;
	const char *prefix;
	size_t plen;
	cli *c;
};

static void cand_add(struct cands *s, const char *w)
{
	if (s->n >= CANDIDATES_MAX || strncmp(w, s->prefix, s->plen))
		return;
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], w))
			return;
	if ((s->v[s->n] = strdup(w)) != NULL)
		s->n++;
}

static int cand_account(const acct_account *a, void *ctx)
{
	struct cands *s = ctx;
	if (!s->c->self || !strcmp(a->name, s->c->self_account) || (a->parent && !strcmp(a->parent, s->c->self_account)))
		cand_add(s, a->name);
	return 0;
}

static int cand_user(const acct_user *u, void *ctx)
{
	cand_add(ctx, u->email);
	return 0;
}

static int cand_key(const acct_apikey *k, void *ctx)
{
	if (!k->revoked_at)
		cand_add(ctx, k->id);
	return 0;
}

/* Accounts, then (for emails and keys) what each account holds. */
static void cand_live(struct cands *s, cli_arg_kind kind)
{
	struct cands acc;
	cli *c = s->c;

	if (c->db == NULL)
		return;
	if (kind == CLI_ARG_ACCOUNT) {
		(void)acct_account_foreach(c->db, NULL, cand_account, s);
		return;
	}
	if (c->self && kind == CLI_ARG_EMAIL) {
		cand_add(s, c->self_email);
		return;
	}
	memset(&acc, 0, sizeof(acc));
	acc.prefix = "";
	acc.c = c;
	(void)acct_account_foreach(c->db, NULL, cand_account, &acc);
	for (int i = 0; i < acc.n; i++) {
		if (kind == CLI_ARG_EMAIL)
			(void)acct_user_foreach(c->db, acc.v[i], cand_user, s);
		else if (kind == CLI_ARG_KEYID)
			(void)acct_apikey_foreach(c->db, acc.v[i], cand_key, s);
		free(acc.v[i]);
	}
}

static const cli_group *group_named(const char *noun)
{
	for (const cli_group *const *g = cli_groups; *g; g++)
		if (!strcmp((*g)->noun, noun))
			return *g;
	return NULL;
}

static void cand_words(struct cands *s, const char *list)
{
	char buf[512], *p = buf;

	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	while (*p) {
		char *e = p + strcspn(p, " ");
		char save = *e;
		*e = '\0';
		if (*p) {
			size_t l = strlen(p);
			if (l && p[l - 1] == '=')
				p[l - 1] = '\0';
			cand_add(s, p);
		}
		if (!save)
			break;
		p = e + 1;
	}
}

/* Does this option (in the command's list) take a value? */
static int opt_takes_value(const cli_cmd *k, const char *opt)
{
	const char *o = k->options ? k->options : "";
	size_t l = strlen(opt);

	while ((o = strstr(o, opt)) != NULL) {
		if ((o == k->options || o[-1] == ' ') && o[l] == '=')
			return 1;
		o += l;
	}
	return 0;
}

static void candidates(struct cands *s, int nw, char **w)
{
	const cli_group *g;
	const cli_cmd *k = NULL;
	int first, npos = 0;

	if (nw == 0) {
		for (const cli_group *const *gg = cli_groups; *gg; gg++)
			for (const cli_cmd *kk = (*gg)->cmds; kk->fn; kk++)
				if (!s->c->self || (kk->flags & CLI_F_SELF)) {
					cand_add(s, (*gg)->noun);
					break;
				}
		return;
	}
	if ((g = group_named(w[0])) == NULL)
		return;
	if (g->cmds[0].verb == NULL) {
		k = &g->cmds[0];
		first = 1;
	} else if (nw == 1) {
		for (const cli_cmd *kk = g->cmds; kk->fn; kk++)
			if (!s->c->self || (kk->flags & CLI_F_SELF))
				cand_add(s, kk->verb);
		return;
	} else {
		for (const cli_cmd *kk = g->cmds; kk->fn; kk++)
			if (!strcmp(kk->verb, w[1]))
				k = kk;
		first = 2;
	}
	if (k == NULL)
		return;
	if (nw > first && w[nw - 1][0] == '-' && opt_takes_value(k, w[nw - 1])) {
		/* The value of an option: the few that have a fixed set. */
		static const struct {
			const char *opt, *values;
		} vals[] = {
			{"--mode", "opportunistic enforced none"}, {"--require-valid-cert", "on off"},
			{"--require-2fa", "on off"}, {"--smtp-password-auth", "on off"}, {"--min-version", "1.2 1.3"},
			{"--expires", "90d 30d 1w never"},
		};
		if (!strcmp(w[nw - 1], "--parent"))
			cand_live(s, CLI_ARG_ACCOUNT);
		for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
			if (!strcmp(w[nw - 1], vals[i].opt))
				cand_words(s, vals[i].values);
		return;
	}
	if (s->plen > 0 && s->prefix[0] == '-') {
		cand_words(s, k->options);
		return;
	}
	for (int i = first; i < nw; i++) {
		if (w[i][0] == '-') {
			if (opt_takes_value(k, w[i]))
				i++;
			continue;
		}
		npos++;
	}
	if (npos < 3 && k->arg[npos] == CLI_ARG_COMMAND) {
		if (npos == 0) {
			for (const cli_group *const *gg = cli_groups; *gg; gg++)
				cand_add(s, (*gg)->noun);
		} else if (npos == 1 && (g = group_named(w[first])) != NULL && g->cmds[0].verb) {
			for (const cli_cmd *kk = g->cmds; kk->fn; kk++)
				cand_add(s, kk->verb);
		}
	} else if (npos < 3 && k->arg[npos] != CLI_ARG_NONE) {
		cand_live(s, k->arg[npos]);
	} else if (s->plen == 0 && k->options && *k->options && npos >= 3) {
		cand_words(s, k->options);
	}
}

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static unsigned char complete_fn(EditLine *el, int ch)
{
	const LineInfo *li = el_line(el);
	char line[CLI_LINE_MAX], prefix[CLI_LINE_MAX], *w[CLI_ARGS_MAX + 1], *p;
	size_t len = (size_t)(li->cursor - li->buffer), common;
	struct cands s;
	int nw = 0;
	unsigned char ret = CC_ERROR;

	(void)ch;
	if (len >= sizeof(line))
		return CC_ERROR;
	memcpy(line, li->buffer, len);
	line[len] = '\0';
	memset(&s, 0, sizeof(s));
	s.c = shell_cli;
	/* The word being completed is the text after the last blank. */
	p = line + len;
	while (p > line && p[-1] != ' ' && p[-1] != '\t')
		p--;
	memcpy(prefix, p, strlen(p) + 1);
	s.prefix = prefix;
	s.plen = strlen(prefix);
	*p = '\0';
	for (char *q = strtok_r(line, " \t", &p); q && nw < CLI_ARGS_MAX; q = strtok_r(NULL, " \t", &p))
		w[nw++] = q;
	candidates(&s, nw, w);
	if (s.n == 0)
		return CC_ERROR;
	qsort(s.v, (size_t)s.n, sizeof(s.v[0]), cmpstr);
	common = strlen(s.v[0]);
	for (int i = 1; i < s.n; i++) {
		size_t j = 0;
		while (j < common && s.v[i][j] == s.v[0][j])
			j++;
		common = j;
	}
	if (s.n == 1) {
		char ins[600];
		snprintf(ins, sizeof(ins), "%s ", s.v[0] + s.plen);
		el_insertstr(el, ins);
		ret = CC_REFRESH;
	} else if (common > s.plen) {
		char ins[600];
		snprintf(ins, sizeof(ins), "%.*s", (int)(common - s.plen), s.v[0] + s.plen);
		el_insertstr(el, ins);
		ret = CC_REFRESH;
	} else {
		fputc('\n', stdout);
		for (int i = 0; i < s.n; i++)
			printf("%s%s", s.v[i], i + 1 < s.n ? "  " : "\n");
		fflush(stdout);
		ret = CC_REDISPLAY;
	}
	for (int i = 0; i < s.n; i++)
		free(s.v[i]);
	return ret;
}

/* ---------------------------------------------------------------- */
/* History */

static int history_path(char *buf, size_t len)
{
	const char *env = getenv("POSTERN_HISTORY"), *home = getenv("HOME");
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.postern_history", home);
	else
		return -1;
	return n > 0 && (size_t)n < len ? 0 : -1;
}

static void history_store(History *h, const char *path)
{
	HistEvent ev;
	int fd;

	/* Create it 0600 before libedit writes it (fopen would use the umask). */
	fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	(void)fchmod(fd, 0600);
	close(fd);
	(void)history(h, &ev, H_SAVE, path);
}

int cli_shell(cli *c)
{
	EditLine *el;
	History *h;
	HistEvent ev;
	char hpath[4096], line[CLI_LINE_MAX + 1], *av[CLI_ARGS_MAX + 1];
	const char *base = strrchr(c->db_path, '/');
	int have_hist, last = 0;

	setlocale(LC_CTYPE, "");
	shell_cli = c;
	base = base ? base + 1 : c->db_path;
	if (c->self)
		snprintf(prompt_buf, sizeof(prompt_buf), "postern %s (%.300s)> ", c->self_account, c->self_email);
	else
		snprintf(prompt_buf, sizeof(prompt_buf), "postern %.200s> ", base);

	h = history_init();
	el = el_init("postern", stdin, stdout, stderr);
	if (h == NULL || el == NULL) {
		if (el)
			el_end(el);
		if (h)
			history_end(h);
		return cli_fail(c, EX_OSERR, "cannot start the line editor");
	}
	(void)history(h, &ev, H_SETSIZE, HISTORY_SIZE);
	(void)history(h, &ev, H_SETUNIQUE, 1);
	have_hist = history_path(hpath, sizeof(hpath)) == 0;
	if (have_hist)
		(void)history(h, &ev, H_LOAD, hpath);
	el_set(el, EL_EDITOR, "emacs");
	el_set(el, EL_PROMPT, prompt_fn);
	el_set(el, EL_HIST, history, h);
	el_set(el, EL_GETCFN, getc_fn);
	el_set(el, EL_ADDFN, "postern-complete", "complete a command, option or name", complete_fn);
	el_set(el, EL_BIND, "^I", "postern-complete", NULL);
	el_source(el, NULL); /* the user's ~/.editrc */

	printf("postern %s on %s; 'help' lists the commands, Ctrl-D leaves.\n", ACCT_VERSION_STRING, c->db_path);
	if (!c->self)
		(void)cli_db(c); /* early, so a problem shows now and names complete; the shell goes on either way */

	while (!c->quit) {
		const char *in;
		const char *err = NULL;
		int count = 0, n;
		size_t l;

		cli_interrupted = 0;
		in = el_gets(el, &count);
		if (in == NULL || count <= 0) {
			if (cli_interrupted) {
				/* Ctrl-C: drop the line, show a fresh prompt. */
				fputs("^C\n", stdout);
				fflush(stdout);
				el_reset(el);
				continue;
			}
			fputc('\n', stdout);
			break;
		}
		l = strlen(in);
		if (l > CLI_LINE_MAX) {
			cli_fail(c, EX_DATAERR, "the line is longer than %d bytes", CLI_LINE_MAX);
			continue;
		}
		memcpy(line, in, l + 1);
		n = cli_split(line, av, CLI_ARGS_MAX, &err);
		if (n < 0) {
			cli_fail(c, EX_USAGE, "%s", err);
			continue;
		}
		if (n == 0)
			continue;
		if (!cli_line_is_secret(n, av)) {
			char copy[CLI_LINE_MAX + 1];
			memcpy(copy, in, l + 1);
			if (l && copy[l - 1] == '\n')
				copy[l - 1] = '\0';
			(void)history(h, &ev, H_ENTER, copy);
			if (have_hist)
				history_store(h, hpath);
		}
		last = cli_run(c, n, av);
		acct_wipe(line, sizeof(line));
	}
	if (have_hist)
		history_store(h, hpath);
	el_end(el);
	history_end(h);
	(void)last;
	return 0;
}
