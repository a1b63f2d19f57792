/*
 * What every command shares: splitting a line into words, parsing a
 * command's options, mapping libaccount's status codes to sysexits,
 * and the three ways of answering (text, aligned tables, JSON), with
 * errors always as one `error: ...` line on standard error.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_split(char *buf, char **argv, int max, const char **err)
{
	char *r = buf, *w = buf;
	int n = 0;

	for (;;) {
		char quote = 0;

		while (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n')
			r++;
		if (*r == '\0' || *r == '#')
			break;
		if (n == max) {
			*err = "too many words on one line";
			return -1;
		}
		argv[n] = w;
		while (*r) {
			if (quote) {
				if (*r == quote) {
					quote = 0;
					r++;
				} else if (quote == '"' && *r == '\\' && (r[1] == '"' || r[1] == '\\')) {
					*w++ = r[1];
					r += 2;
				} else {
					*w++ = *r++;
				}
			} else if (*r == '\'' || *r == '"') {
				quote = *r++;
			} else if (*r == '\\' && r[1]) {
				*w++ = r[1];
				r += 2;
			} else if (*r == ' ' || *r == '\t' || *r == '\r' || *r == '\n') {
				break;
			} else {
				*w++ = *r++;
			}
		}
		if (quote) {
			*err = "unbalanced quote";
			return -1;
		}
		if (*r)
			r++;
		*w++ = '\0';
		n++;
	}
	argv[n] = NULL;
	return n;
}

int cli_onoff(const char *s)
{
	if (!strcmp(s, "on") || !strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "1"))
		return 1;
	if (!strcmp(s, "off") || !strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "0"))
		return 0;
	return -1;
}

static int parse(cli *c, int argc, char **argv, const cli_opt *opts, const char **pos, int minpos, int maxpos);

int cli_parse(cli *c, int argc, char **argv, const cli_opt *opts, const char **pos, int minpos, int maxpos)
{
	int r = parse(c, argc, argv, opts, pos, minpos, maxpos);

	if (r != 0 && c->cur_cmd) {
		char u[512];
		cli_cmd_usage(u, sizeof(u), c->cur_group, c->cur_cmd);
		fprintf(stderr, "usage: %s\n", u);
	}
	return r;
}

static int parse(cli *c, int argc, char **argv, const cli_opt *opts, const char **pos, int minpos, int maxpos)
{
	int npos = 0, dashdash = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const cli_opt *o = NULL;
		const char *val = NULL;
		size_t nl;

		if (!dashdash && !strcmp(a, "--")) {
			dashdash = 1;
			continue;
		}
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			if (npos == maxpos)
				return cli_fail(c, EX_USAGE, "unexpected argument '%.80s'", a);
			pos[npos++] = a;
			continue;
		}
		nl = strcspn(a, "=");
		for (const cli_opt *p = opts; p && p->name; p++)
			if (strlen(p->name) == nl && !strncmp(p->name, a, nl))
				o = p;
		if (o == NULL)
			return cli_fail(c, EX_USAGE, "unknown option '%.*s'", (int)(nl > 80 ? 80 : nl), a);
		if (o->has_arg) {
			if (a[nl] == '=')
				val = a + nl + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return cli_fail(c, EX_USAGE, "%s needs a value", o->name);
			*o->val = val;
		} else {
			if (a[nl] == '=')
				return cli_fail(c, EX_USAGE, "%s takes no value", o->name);
			*o->flag = 1;
		}
	}
	if (npos < minpos)
		return cli_fail(c, EX_USAGE, "missing argument%s", minpos - npos > 1 ? "s" : "");
	for (int i = npos; i < maxpos; i++)
		pos[i] = NULL;
	return 0;
}

int cli_status(int r)
{
	switch (r) {
	case ACCT_OK: return EX_OK;
	case ACCT_EINVAL: return EX_DATAERR;
	case ACCT_ENOTFOUND: return EX_NOINPUT;
	case ACCT_EEXISTS: return EX_DATAERR;
	case ACCT_ECONFLICT: return EX_DATAERR;
	case ACCT_EDENIED: return EX_DATAERR;
	case ACCT_EBUSY: return EX_TEMPFAIL;
	case ACCT_EUNAVAIL: return EX_UNAVAILABLE;
	case ACCT_EPERM: return EX_NOPERM;
	case ACCT_EVERSION: return EX_UNAVAILABLE;
	case ACCT_ENOMEM: return EX_OSERR;
	default: return EX_SOFTWARE;
	}
}

__attribute__((format(printf, 3, 0))) static void vfail(cli *c, int status, const char *fmt, va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	fflush(stdout);
	if (c->mode == CLI_SCRIPT && c->lineno > 0)
		fprintf(stderr, "%serror:%s line %ld: %s\n", c->color_err ? "\033[1;31m" : "",
		        c->color_err ? "\033[0m" : "", c->lineno, msg);
	else
		fprintf(stderr, "%serror:%s %s\n", c->color_err ? "\033[1;31m" : "", c->color_err ? "\033[0m" : "",
		        msg);
	if (c->json) {
		json_t *doc = json_pack("{s:s, s:i}", "error", msg, "status", status);
		if (c->mode == CLI_SCRIPT && c->lineno > 0)
			json_object_set_new(doc, "line", json_integer(c->lineno));
		(void)cli_json(c, doc);
	}
}

int cli_fail(cli *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(c, status, fmt, ap);
	va_end(ap);
	return status;
}

int cli_acct_fail(cli *c, int r)
{
	const char *m = c->db ? acct_errmsg(c->db) : "";
	return cli_fail(c, cli_status(r), "%s", m && *m ? m : acct_strerror(r));
}

void cli_say(cli *c, const char *fmt, ...)
{
	va_list ap;

	if (c->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void cli_warn(cli *c, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%swarning:%s ", c->color_err ? "\033[1;33m" : "", c->color_err ? "\033[0m" : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_json(cli *c, json_t *doc)
{
	(void)c;
	if (doc == NULL) {
		fputs("error: out of memory\n", stderr);
		return EX_OSERR;
	}
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
	putchar('\n');
	json_decref(doc);
	fflush(stdout);
	return 0;
}

const char *cli_time(char buf[32], int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0 || gmtime_r(&tt, &tm) == NULL)
		return NULL;
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

json_t *cli_json_time(int64_t t)
{
	char buf[32];
	const char *s = cli_time(buf, t);
	return s ? json_string(s) : json_null();
}

/* ---------------------------------------------------------------- */
/* Tables */

struct cli_table {
	int ncols;
	size_t nrows, cap;
	char **cells; /* (nrows + 1) * ncols, row 0 the headers */
};

static char *dupstr(const char *s)
{
	char *d = strdup(s ? s : "");
	if (d == NULL) {
		fputs("postern: out of memory\n", stderr);
		exit(EX_OSERR);
	}
	return d;
}

cli_table *cli_table_new(int ncols, const char *const *headers)
{
	cli_table *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		fputs("postern: out of memory\n", stderr);
		exit(EX_OSERR);
	}
	t->ncols = ncols;
	cli_table_row(t, headers);
	return t;
}

void cli_table_row(cli_table *t, const char *const *cells)
{
	size_t n = (size_t)t->ncols;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		char **p = realloc(t->cells, cap * n * sizeof(*p));
		if (p == NULL) {
			fputs("postern: out of memory\n", stderr);
			exit(EX_OSERR);
		}
		t->cells = p;
		t->cap = cap;
	}
	for (size_t i = 0; i < n; i++)
		t->cells[t->nrows * n + i] = dupstr(cells[i]);
	t->nrows++;
}

/* Display width: count UTF-8 sequences, not bytes. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

void cli_table_print(cli *c, cli_table *t)
{
	size_t n = (size_t)t->ncols, w[16] = {0};

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t i = 0; i < n && i < 16; i++) {
			size_t x = width(t->cells[r * n + i]);
			if (x > w[i])
				w[i] = x;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		if (r == 0 && c->color)
			fputs("\033[1m", stdout);
		for (size_t i = 0; i < n; i++) {
			const char *s = t->cells[r * n + i];
			fputs(s, stdout);
			if (i + 1 < n)
				for (size_t k = width(s); k < w[i < 16 ? i : 15] + 2; k++)
					putchar(' ');
		}
		if (r == 0 && c->color)
			fputs("\033[0m", stdout);
		putchar('\n');
	}
	if (t->nrows == 1)
		puts("(none)");
}

int cli_table_empty(const cli_table *t)
{
	return t->nrows <= 1;
}

void cli_table_free(cli_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

void cli_list_begin(cli *c, json_t **arr, cli_table **t, int ncols, const char *const *headers)
{
	*arr = NULL;
	*t = NULL;
	if (c->json)
		*arr = json_array();
	else
		*t = cli_table_new(ncols, headers);
}

int cli_list_end(cli *c, json_t *arr, cli_table *t, int r)
{
	if (r != ACCT_OK) {
		json_decref(arr);
		cli_table_free(t);
		return cli_acct_fail(c, r);
	}
	if (c->json)
		return cli_json(c, arr);
	cli_table_print(c, t);
	cli_table_free(t);
	return 0;
}
