/*
 * Asking a person: passwords and codes without echo, yes/no
 * confirmations, and lines from standard input for --password-stdin.
 * Secrets are never taken from argv (where ps(1) and history would see
 * them).  SIGINT (Ctrl-C) cancels a prompt: the handler only sets a
 * flag, and reads return EINTR because it is installed without
 * SA_RESTART.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define CLI_CANCELLED 130

volatile int cli_interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	cli_interrupted = 1;
}

void cli_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: a read at a prompt returns EINTR */
	sigaction(SIGINT, &sa, NULL);
}

enum { LINE_OK = 0, LINE_EOF = -1, LINE_INTR = -2, LINE_LONG = -3 };

/* One line from fd, byte by byte so nothing after it is consumed. */
static int read_fd_line(int fd, char *buf, size_t len)
{
	size_t n = 0;
	int toolong = 0;

	for (;;) {
		char ch;
		ssize_t k = read(fd, &ch, 1);
		if (k < 0) {
			if (errno == EINTR && cli_interrupted)
				return LINE_INTR;
			if (errno == EINTR)
				continue;
			return LINE_EOF;
		}
		if (k == 0) {
			if (n == 0)
				return LINE_EOF;
			break;
		}
		if (ch == '\n')
			break;
		if (n + 1 < len)
			buf[n++] = ch;
		else
			toolong = 1;
	}
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	return toolong ? LINE_LONG : LINE_OK;
}

/* One line from the script (a FILE), for --password-stdin in script mode. */
static int read_file_line(FILE *f, char *buf, size_t len)
{
	size_t n;

	if (fgets(buf, (int)len, f) == NULL)
		return LINE_EOF;
	n = strlen(buf);
	if (n > 0 && buf[n - 1] != '\n' && !feof(f)) {
		int ch;
		while ((ch = fgetc(f)) != EOF && ch != '\n')
			;
		return LINE_LONG;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return LINE_OK;
}

static int tty_read(const char *prompt, int echo, char *buf, size_t len)
{
	struct termios old, quiet;
	struct sigaction sa, prev;
	int r, restore = 0;

	/* Ctrl-C cancels this prompt (and restores the echo) rather than
	 * killing the program with the terminal left silent. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &prev);

	fflush(stdout);
	fputs(prompt, stderr);
	fflush(stderr);
	if (!echo && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
		quiet.c_lflag |= ECHONL;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0)
			restore = 1;
	}
	cli_interrupted = 0;
	r = read_fd_line(STDIN_FILENO, buf, len);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	sigaction(SIGINT, &prev, NULL);
	if (r == LINE_INTR || r == LINE_EOF)
		fputc('\n', stderr);
	return r;
}

static int line_status(cli *c, int r, const char *what)
{
	switch (r) {
	case LINE_OK: return 0;
	case LINE_INTR: return cli_fail(c, CLI_CANCELLED, "cancelled");
	case LINE_LONG: return cli_fail(c, EX_DATAERR, "the %s is too long (at most %d bytes)", what, CLI_SECRET_MAX - 100);
	default: return cli_fail(c, EX_DATAERR, "no %s given (end of input)", what);
	}
}

int cli_secret(cli *c, const char *prompt, int from_stdin, int twice, char *buf, size_t len)
{
	char again[CLI_SECRET_MAX];
	int r, st;

	buf[0] = '\0';
	if (from_stdin) {
		r = c->in ? read_file_line(c->in, buf, len) : read_fd_line(STDIN_FILENO, buf, len);
		return line_status(c, r, "password");
	}
	if (!isatty(STDIN_FILENO))
		return cli_fail(c, EX_USAGE, "no terminal to ask for the password on; use --password-stdin");
	if ((st = line_status(c, tty_read(prompt, 0, buf, len), "password")) != 0) {
		acct_wipe(buf, len);
		return st;
	}
	if (!twice)
		return 0;
	st = line_status(c, tty_read("again: ", 0, again, sizeof(again)), "password");
	if (st == 0 && strcmp(buf, again) != 0)
		st = cli_fail(c, EX_DATAERR, "the two passwords differ; nothing was changed");
	acct_wipe(again, sizeof(again));
	if (st)
		acct_wipe(buf, len);
	return st;
}

int cli_ask(cli *c, const char *prompt, char *buf, size_t len)
{
	if (!isatty(STDIN_FILENO))
		return cli_fail(c, EX_USAGE, "no terminal to ask on");
	return line_status(c, tty_read(prompt, 1, buf, len), "answer");
}

int cli_confirm(cli *c, int yes_opt, const char *fmt, ...)
{
	char q[512], a[16];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(q, sizeof(q), fmt, ap);
	va_end(ap);
	if (c->yes || yes_opt)
		return 0;
	if (c->mode == CLI_SCRIPT || !isatty(STDIN_FILENO))
		return cli_fail(c, EX_USAGE, "%s: this asks for confirmation; add --yes to run it without a terminal",
		                q);
	fflush(stdout);
	fprintf(stderr, "%s [y/N] ", q);
	r = tty_read("", 1, a, sizeof(a));
	if (r == LINE_OK && (!strcasecmp(a, "y") || !strcasecmp(a, "yes")))
		return 0;
	if (r == LINE_INTR)
		return cli_fail(c, CLI_CANCELLED, "cancelled");
	fputs("cancelled: nothing was changed\n", stderr);
	return CLI_NO;
}
