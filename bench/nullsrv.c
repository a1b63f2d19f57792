/*
 * nullsrv: a server that does nothing but speak the three protocols of
 * postern-hookd, as fast as one epoll loop can: the ceiling of this
 * machine and of the load generator, against which the real servers
 * are measured.
 *
 *   nullsrv [-a ADDRESS] [-p ADDRESS] [-m ADDRESS] [-r READYFILE] [-T SECONDS]
 *
 * -a  Dovecot auth server: sends the handshake (VERSION 1.2, MECH PLAIN
 *     and LOGIN, SPID, CUID, COOKIE, DONE) and answers every
 *     AUTH <id> ... with OK <id> user=x, without looking at it.
 * -p  policy delegation: answers every request (name=value lines up to
 *     an empty line) with action=DUNNO.
 * -m  socketmap (Postfix's smtp_tls_policy_maps): answers every netstring
 *     request with the netstring "OK secure match=nullsrv.invalid",
 *     without looking at what it asks.
 * Addresses are loopback only (see addr.h); port 0 asks for a free one.
 * -r writes "auth ADDRESS", "policy ADDRESS" and "socketmap ADDRESS"
 * lines once listening.
 * The server exits on SIGTERM/SIGINT, or by itself after -T seconds
 * (default 3600), so a forgotten one does not run for ever.
 * Requests are bounded: a line or request over 16 KiB closes the
 * connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "addr.h"

#define BUF_MAX 16384
#define MAX_CONNS 4096

enum proto { P_AUTH, P_POLICY, P_SOCKETMAP };
#define NLISTEN 3
#define SM_ANSWER "OK secure match=nullsrv.invalid"
#define SM_LEN_DIGITS 6
_Static_assert(sizeof(SM_ANSWER) - 1 == 31, "the netstring length in serve()");

struct listener {
	int fd;
	enum proto proto;
};

struct conn {
	int fd;
	enum proto proto;
	size_t rlen, wlen, woff;
	char rbuf[BUF_MAX];
	char wbuf[BUF_MAX];
};

static volatile sig_atomic_t stop;
static unsigned long cuid;
static int nconns;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: nullsrv [-a ADDRESS] [-p ADDRESS] [-m ADDRESS] [-r READYFILE] [-T SECONDS]\n"
	                "  -a ADDRESS  Dovecot auth service (127.0.0.1:PORT, [::1]:PORT or unix:/path)\n"
	                "  -p ADDRESS  policy service\n"
	                "  -m ADDRESS  socketmap service (TLS policy lookups)\n"
	                "  -r FILE     write the bound addresses there once listening\n"
	                "  -T SECONDS  exit by itself after this long (1..86400, default 3600)\n");
	exit(64);
}

static int listen_on(const char *text, bench_addr *bound)
{
	char err[256];
	int fd, one = 1;

	if (bench_addr_parse(bound, text, 1, err, sizeof(err)) != 0) {
		fprintf(stderr, "nullsrv: %s\n", err);
		exit(64);
	}
	if ((fd = socket(bound->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (bound->sa.ss_family == AF_UNIX)
		(void)unlink(((struct sockaddr_un *)&bound->sa)->sun_path);
	else
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&bound->sa, bound->len) != 0 || listen(fd, 1024) != 0)
		goto fail;
	if (bound->sa.ss_family != AF_UNIX) {
		bound->len = (socklen_t)sizeof(bound->sa);
		if (getsockname(fd, (struct sockaddr *)&bound->sa, &bound->len) != 0)
			goto fail;
	}
	return fd;
fail:
	fprintf(stderr, "nullsrv: %s: %s\n", text, strerror(errno));
	exit(71);
}

static void close_conn(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
	nconns--;
}

static int queue(struct conn *c, const char *s, size_t n)
{
	if (c->wlen + n > sizeof(c->wbuf))
		return -1;
	memcpy(c->wbuf + c->wlen, s, n);
	c->wlen += n;
	return 0;
}

/* Write what is queued; 0 when all is out, 1 for later, -1 on error. */
static int flush(int ep, struct conn *c)
{
	struct epoll_event ev;

	while (c->woff < c->wlen) {
		ssize_t w = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			ev.events = EPOLLIN | EPOLLOUT;
			ev.data.ptr = c;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			return 1;
		}
		if (w <= 0)
			return -1;
		c->woff += (size_t)w;
	}
	if (c->woff != 0) {
		c->woff = c->wlen = 0;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
	return 0;
}

/* Answer every complete request in rbuf; -1 to close. */
static int serve(struct conn *c)
{
	size_t off = 0;
	char reply[128];

	for (;;) {
		char *p = c->rbuf + off, *nl;
		size_t avail = c->rlen - off;

		if (c->proto == P_SOCKETMAP) {
			/* LEN ":" PAYLOAD "," */
			size_t i = 0, len = 0;
			static const char answer[] = "31:" SM_ANSWER ",";

			while (i < avail && p[i] >= '0' && p[i] <= '9' && i < SM_LEN_DIGITS)
				len = len * 10 + (size_t)(p[i++] - '0');
			if (i == avail)
				break;
			if (i == 0 || p[i] != ':')
				return -1;
			if (avail - i - 1 < len + 1)
				break;
			if (p[i + 1 + len] != ',' || queue(c, answer, sizeof(answer) - 1) != 0)
				return -1;
			off += i + 1 + len + 1;
		} else if (c->proto == P_AUTH) {
			if ((nl = memchr(p, '\n', avail)) == NULL)
				break;
			if (strncmp(p, "AUTH\t", 5) == 0) {
				char *id = p + 5, *end = memchr(id, '\t', (size_t)(nl - id));
				int n;

				if (end == NULL || end == id || end - id > 10)
					return -1;
				n = snprintf(reply, sizeof(reply), "OK\t%.*s\tuser=x\n", (int)(end - id), id);
				if (queue(c, reply, (size_t)n) != 0)
					return -1;
			} else if (strncmp(p, "VERSION\t", 8) != 0 && strncmp(p, "CPID\t", 5) != 0) {
				return -1; /* as Dovecot: an unknown command ends the connection */
			}
			off += (size_t)(nl - p) + 1;
		} else {
			char *end;

			if (avail >= 1 && p[0] == '\n')
				end = p;
			else if ((end = memmem(p, avail, "\n\n", 2)) != NULL)
				end++;
			else
				break;
			if (queue(c, "action=DUNNO\n\n", 14) != 0)
				return -1;
			off += (size_t)(end - p) + 1;
		}
	}
	if (off == 0 && c->rlen == sizeof(c->rbuf))
		return -1; /* a line or request longer than the limit */
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= off;
	return 0;
}

static void accept_on(int ep, const struct listener *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;
		struct epoll_event ev;
		struct conn *c;

		if (fd < 0)
			return;
		if (nconns >= MAX_CONNS || (c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->proto = l->proto;
		nconns++;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
			close(fd);
			free(c);
			nconns--;
			continue;
		}
		if (c->proto == P_AUTH) {
			char hs[256];
			int n;

			cuid++;
			n = snprintf(hs, sizeof(hs),
			                 "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t%ld\n"
			                 "CUID\t%lu\nCOOKIE\t%016lx%016lx\nDONE\n",
			                 (long)getpid(), cuid, (unsigned long)getpid(), cuid);
			if (queue(c, hs, (size_t)n) != 0 || flush(ep, c) < 0)
				close_conn(ep, c);
		}
	}
}

int main(int argc, char **argv)
{
	const char *auth = NULL, *policy = NULL, *smap = NULL, *ready = NULL;
	struct listener ls[NLISTEN];
	bench_addr bound;
	char where[NLISTEN][160];
	unsigned long lifetime = 3600;
	int nl = 0, ep, opt;
	time_t end;

	while ((opt = getopt(argc, argv, "a:p:m:r:T:")) != -1) {
		switch (opt) {
		case 'a': auth = optarg; break;
		case 'p': policy = optarg; break;
		case 'm': smap = optarg; break;
		case 'r': ready = optarg; break;
		case 'T': {
			char *e;
			errno = 0;
			lifetime = strtoul(optarg, &e, 10);
			if (errno || *e || e == optarg || optarg[0] == '-' || lifetime < 1 || lifetime > 86400) {
				fprintf(stderr, "nullsrv: -T '%s': expected 1..86400 seconds\n", optarg);
				return 64;
			}
			break;
		}
		default: usage();
		}
	}
	if (optind != argc || (auth == NULL && policy == NULL && smap == NULL))
		usage();
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return 71;
	if (auth) {
		ls[nl].fd = listen_on(auth, &bound);
		ls[nl].proto = P_AUTH;
		bench_addr_format(&bound, where[nl], sizeof(where[nl]));
		nl++;
	}
	if (policy) {
		ls[nl].fd = listen_on(policy, &bound);
		ls[nl].proto = P_POLICY;
		bench_addr_format(&bound, where[nl], sizeof(where[nl]));
		nl++;
	}
	if (smap) {
		ls[nl].fd = listen_on(smap, &bound);
		ls[nl].proto = P_SOCKETMAP;
		bench_addr_format(&bound, where[nl], sizeof(where[nl]));
		nl++;
	}
	for (int i = 0; i < nl; i++) {
		struct epoll_event ev = {EPOLLIN, {.ptr = &ls[i]}};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, ls[i].fd, &ev) != 0)
			return 71;
	}
	if (ready) {
		/* written whole under a temporary name, so a reader never sees half */
		char tmp[4096];
		FILE *f;
		int fd;

		snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
		if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0 || (f = fdopen(fd, "w")) == NULL) {
			fprintf(stderr, "nullsrv: %s: %s\n", tmp, strerror(errno));
			return 73;
		}
		for (int i = 0; i < nl; i++)
			fprintf(f, "%s %s\n", ls[i].proto == P_AUTH ? "auth" : ls[i].proto == P_POLICY ? "policy" : "socketmap",
			        where[i]);
		if (fclose(f) != 0 || rename(tmp, ready) != 0) {
			fprintf(stderr, "nullsrv: %s: %s\n", ready, strerror(errno));
			return 73;
		}
	}
	end = time(NULL) + (time_t)lifetime;
	while (!stop && time(NULL) < end) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, 1000);

		if (n < 0 && errno != EINTR)
			return 71;
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			struct conn *c;
			ssize_t r;

			if (p >= (void *)&ls[0] && p < (void *)&ls[NLISTEN]) {
				accept_on(ep, p);
				continue;
			}
			c = p;
			if (evs[i].events & EPOLLOUT) {
				if (flush(ep, c) < 0) {
					close_conn(ep, c);
					continue;
				}
				if (c->wlen)
					continue; /* read more only once the answers are out */
			}
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			r = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				close_conn(ep, c);
				continue;
			}
			c->rlen += (size_t)r;
			if (serve(c) != 0 || flush(ep, c) < 0)
				close_conn(ep, c);
		}
	}
	for (int i = 0; i < nl; i++) {
		close(ls[i].fd);
		if (strncmp(where[i], "unix:", 5) == 0)
			(void)unlink(where[i] + 5);
	}
	return 0;
}
