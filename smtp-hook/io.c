/*
 * The epoll loop of postern-hookd (see io.h).
 *
 * Postfix keeps one persistent connection per smtpd or smtp process, so
 * the loop must hold hundreds of mostly idle connections cheaply: one
 * fixed input buffer per connection (the protocol's request limit), an
 * output buffer that grows to a hard cap, level-triggered epoll, and an
 * idle sweep once a second.  Signals arrive through a signalfd so that
 * reload and stop happen between requests, never inside one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "io.h"

#define OUTPUT_MAX (256 * 1024)
#define MAX_LISTENERS 8
#define DRAIN_SECONDS 5

/* What an epoll data pointer points to: a connection or a watch. */
enum { KIND_CONN = 0, KIND_WATCH = 1 };

struct conn {
	int kind; /* KIND_CONN (calloc) */
	int held; /* a deferred answer is pending: no input until conn_resume */
	int queued; /* on the loop's ready list */
	conn *ready_next;
	loop *l;
	const proto *p;
	void *ctx;
	int fd;
	int closing; /* close once the output is flushed */
	uint32_t events; /* what epoll watches now, to skip needless epoll_ctl calls */
	time_t last;
	char peer[64];
	char *in;
	size_t inlen;
	char *out;
	size_t outlen, outcap;
	conn *prev, *next;
	void *state;
};

struct loop_watch {
	int kind; /* KIND_WATCH */
	int dead; /* deleted: freed after the iteration */
	loop *l;
	int fd;
	uint32_t events;
	loop_watch_cb cb;
	void *arg;
	loop_watch *next; /* the graveyard list, once dead */
};

typedef struct listener {
	int fd;
	const proto *p;
	void *ctx;
	char path[108]; /* unix socket to unlink on exit */
} listener;

struct loop {
	int ep;
	int sigfd;
	int max_conns;
	int idle;
	int stopping;
	time_t stop_at;
	size_t nconns;
	conn *conns;
	listener ls[MAX_LISTENERS];
	int nls;
	loop_signal_cb cb;
	void *cb_ctx;
	void (*batch)(void *ctx);
	void *batch_ctx;
	int (*work)(void *ctx);
	void *work_ctx;
	int work_pending; /* the work hook has more: do not sleep */
	int (*timer)(void *ctx);
	void *timer_ctx;
	conn *ready;         /* resumed connections with input to hand over */
	loop_watch *graves;  /* deleted watches, freed after the iteration */
};

/* epoll data: listeners and the signalfd are tagged by small integers,
 * connections by their pointer. */
#define TAG_SIGNAL ((uint64_t)1)

static void bury(loop *l);
#define TAG_LISTENER(i) ((uint64_t)(16 + (i)))
#define IS_LISTENER(t) ((t) >= 16 && (t) < 16 + MAX_LISTENERS)

int loop_new(loop **out, int max_connections, int idle_timeout, loop_signal_cb cb, void *ctx)
{
	struct epoll_event ev = {0};
	sigset_t set;
	loop *l;

	*out = NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return -1;
	l->max_conns = max_connections;
	l->idle = idle_timeout;
	l->cb = cb;
	l->cb_ctx = ctx;
	l->sigfd = -1;
	if ((l->ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto fail;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 || (l->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		goto fail;
	ev.events = EPOLLIN;
	ev.data.u64 = TAG_SIGNAL;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, l->sigfd, &ev) != 0)
		goto fail;
	/* A client that goes away mid-write must not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);
	*out = l;
	return 0;
fail:
	loop_free(l);
	return -1;
}

static void conn_free(conn *c)
{
	loop *l = c->l;

	if (c->p->on_close)
		c->p->on_close(c);
	if (c->queued) {
		conn **pp = &l->ready;
		while (*pp != c)
			pp = &(*pp)->ready_next;
		*pp = c->ready_next;
	}
	epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->nconns--;
	/* Input may have held a password: wipe before freeing. */
	if (c->in)
		explicit_bzero(c->in, c->p->max_input + 1);
	if (c->state)
		explicit_bzero(c->state, c->p->state_size);
	free(c->in);
	free(c->out);
	free(c->state);
	free(c);
}

static void close_listeners(loop *l)
{
	for (int i = 0; i < l->nls; i++) {
		if (l->ls[i].fd < 0)
			continue;
		epoll_ctl(l->ep, EPOLL_CTL_DEL, l->ls[i].fd, NULL);
		close(l->ls[i].fd);
		l->ls[i].fd = -1;
		if (l->ls[i].path[0])
			unlink(l->ls[i].path);
	}
}

void loop_free(loop *l)
{
	if (l == NULL)
		return;
	while (l->conns)
		conn_free(l->conns);
	bury(l);
	close_listeners(l);
	if (l->sigfd >= 0)
		close(l->sigfd);
	if (l->ep >= 0)
		close(l->ep);
	free(l);
}

static int listen_unix(const char *path, mode_t mode, char *err, size_t errlen)
{
	struct sockaddr_un sun = {0};
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "unix socket path too long: %s", path);
		return -1;
	}
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
		goto fail;
	(void)unlink(path); /* a socket left by a previous run */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 || chmod(path, mode) != 0 || listen(fd, 128) != 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "cannot listen on unix:%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int listen_inet(const char *hostport, char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL;
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t hl;
	int fd = -1, one = 1, rc;

	if (colon == NULL || (hl = (size_t)(colon - hostport)) == 0 || hl >= sizeof(host)) {
		snprintf(err, errlen, "bad inet address: %s", hostport);
		return -1;
	}
	memcpy(host, hostport, hl);
	host[hl] = '\0';
	if (host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", hostport, gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 128) != 0) {
		snprintf(err, errlen, "cannot listen on inet:%s: %s", hostport, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

int loop_listen(loop *l, const char *spec, const proto *p, void *ctx, mode_t mode, char *err, size_t errlen)
{
	struct epoll_event ev = {0};
	listener *li;
	int fd;

	if (l->nls >= MAX_LISTENERS) {
		snprintf(err, errlen, "too many listeners");
		return -1;
	}
	li = &l->ls[l->nls];
	memset(li, 0, sizeof(*li));
	if (strncmp(spec, "unix:", 5) == 0) {
		fd = listen_unix(spec + 5, mode, err, errlen);
		if (fd >= 0)
			snprintf(li->path, sizeof(li->path), "%s", spec + 5);
	} else if (strncmp(spec, "inet:", 5) == 0) {
		fd = listen_inet(spec + 5, err, errlen);
	} else {
		snprintf(err, errlen, "unknown listen address %s", spec);
		return -1;
	}
	if (fd < 0)
		return -1;
	li->fd = fd;
	li->p = p;
	li->ctx = ctx;
	ev.events = EPOLLIN;
	ev.data.u64 = TAG_LISTENER(l->nls);
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		close(fd);
		return -1;
	}
	l->nls++;
	return 0;
}

static void set_events(conn *c)
{
	struct epoll_event ev = {0};

	ev.events = (c->closing || c->held ? 0 : EPOLLIN) | (c->outlen ? EPOLLOUT : 0) | EPOLLRDHUP;
	if (ev.events == c->events)
		return;
	ev.data.ptr = c;
	epoll_ctl(c->l->ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->events = ev.events;
}

static void accept_one(loop *l, listener *li)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct epoll_event ev = {0};
	conn *c;
	int fd = accept4(li->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (l->nconns >= (size_t)l->max_conns) {
		/* Refuse rather than starve: Postfix reconnects later. */
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->in = malloc(li->p->max_input + 1)) == NULL ||
	    (li->p->state_size && (c->state = calloc(1, li->p->state_size)) == NULL)) {
		if (c) {
			free(c->in);
			free(c);
		}
		close(fd);
		return;
	}
	c->l = l;
	c->p = li->p;
	c->ctx = li->ctx;
	c->fd = fd;
	c->last = time(NULL);
	if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
		char host[INET6_ADDRSTRLEN] = "?";
		unsigned port;

		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
			port = ntohs(in6->sin6_port);
		}
		snprintf(c->peer, sizeof(c->peer), "%s:%u", host, port);
	} else {
		snprintf(c->peer, sizeof(c->peer), "unix");
	}
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->nconns++;
	ev.events = EPOLLIN | EPOLLRDHUP;
	ev.data.ptr = c;
	c->events = ev.events;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		conn_free(c);
		return;
	}
	if (c->p->on_open && c->p->on_open(c) != 0)
		c->closing = 1;
	set_events(c);
}

int conn_write(conn *c, const void *buf, size_t len)
{
	if (c->outlen + len > OUTPUT_MAX)
		return -1;
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 1024;
		char *n;

		while (cap < c->outlen + len)
			cap *= 2;
		if ((n = realloc(c->out, cap)) == NULL)
			return -1;
		c->out = n;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, buf, len);
	c->outlen += len;
	return 0;
}

/* Write what we can; 0 while the connection lives, -1 when it is done. */
static int flush(conn *c)
{
	while (c->outlen) {
		ssize_t n = write(c->fd, c->out, c->outlen);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return -1;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	if (c->outlen == 0 && c->closing)
		return -1;
	return 0;
}

/* Hand over everything buffered; the protocol consumes whole requests
 * (until it holds the connection for a deferred answer). */
static void feed(conn *c)
{
	ssize_t used;

	while (c->inlen > 0 && !c->closing && !c->held) {
		used = c->p->on_data(c, c->in, c->inlen);
		if (used < 0) {
			c->closing = 1;
			break;
		}
		if (used == 0)
			break;
		memmove(c->in, c->in + used, c->inlen - (size_t)used);
		c->inlen -= (size_t)used;
	}
	if (!c->closing && !c->held && c->inlen > c->p->max_input)
		c->closing = 1; /* a request over the limit: the protocol had no complete one to take */
}

static int read_input(conn *c)
{
	ssize_t n;

	n = read(c->fd, c->in + c->inlen, c->p->max_input + 1 - c->inlen);
	if (n == 0)
		return -1;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	c->inlen += (size_t)n;
	c->last = time(NULL);
	feed(c);
	return 0;
}

void conn_hold(conn *c)
{
	c->held = 1;
}

void conn_resume(conn *c)
{
	if (!c->held)
		return;
	c->held = 0;
	c->last = time(NULL);
	if (!c->queued) {
		c->queued = 1;
		c->ready_next = c->l->ready;
		c->l->ready = c;
	}
}

/* The resumed connections: write their answers, hand over their input. */
static void run_ready(loop *l)
{
	while (l->ready) {
		conn *c = l->ready;

		l->ready = c->ready_next;
		c->queued = 0;
		feed(c);
		if (flush(c) != 0)
			conn_free(c);
		else
			set_events(c);
	}
}

loop_watch *loop_watch_add(loop *l, int fd, unsigned events, loop_watch_cb cb, void *arg)
{
	struct epoll_event ev = {0};
	loop_watch *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return NULL;
	w->kind = KIND_WATCH;
	w->l = l;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	w->events = (events & LOOP_READ ? EPOLLIN : 0) | (events & LOOP_WRITE ? EPOLLOUT : 0);
	ev.events = w->events;
	ev.data.ptr = w;
	if (epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		free(w);
		return NULL;
	}
	return w;
}

int loop_watch_set(loop_watch *w, unsigned events)
{
	struct epoll_event ev = {0};
	uint32_t want = (events & LOOP_READ ? EPOLLIN : 0) | (events & LOOP_WRITE ? EPOLLOUT : 0);

	if (w->dead)
		return -1;
	if (want == w->events)
		return 0;
	ev.events = want;
	ev.data.ptr = w;
	if (epoll_ctl(w->l->ep, EPOLL_CTL_MOD, w->fd, &ev) != 0)
		return -1;
	w->events = want;
	return 0;
}

void loop_watch_del(loop_watch *w)
{
	if (w == NULL || w->dead)
		return;
	epoll_ctl(w->l->ep, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = 1;
	w->next = w->l->graves;
	w->l->graves = w;
}

static void bury(loop *l)
{
	while (l->graves) {
		loop_watch *w = l->graves;
		l->graves = w->next;
		free(w);
	}
}

void loop_set_timer(loop *l, int (*fn)(void *ctx), void *ctx)
{
	l->timer = fn;
	l->timer_ctx = ctx;
}

static void sweep(loop *l, time_t now)
{
	conn *c = l->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (now - c->last > l->idle || (l->stopping && (c->outlen == 0 || now >= l->stop_at)))
			conn_free(c);
	}
}

void loop_stop(loop *l)
{
	if (l->stopping)
		return;
	l->stopping = 1;
	l->stop_at = time(NULL) + DRAIN_SECONDS;
	close_listeners(l);
}

static void on_signal(loop *l)
{
	struct signalfd_siginfo si;

	while (read(l->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			l->cb(l, LOOP_RELOAD, l->cb_ctx);
		else if (si.ssi_signo == SIGUSR1)
			l->cb(l, LOOP_INFO, l->cb_ctx);
		else
			l->cb(l, LOOP_STOP, l->cb_ctx);
	}
}

int loop_run(loop *l)
{
	struct epoll_event evs[64];
	time_t last_sweep = time(NULL);

	while (!(l->stopping && l->conns == NULL)) {
		int n, wait_ms = l->work_pending ? 0 : 1000;
		time_t now;

		if (l->timer) {
			int t = l->timer(l->timer_ctx);
			if (t >= 0 && t < wait_ms)
				wait_ms = t;
		}
		run_ready(l);
		bury(l);
		n = epoll_wait(l->ep, evs, 64, l->ready ? 0 : wait_ms);

		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0 && l->batch)
			l->batch(l->batch_ctx);
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;
			conn *c;

			if (tag == TAG_SIGNAL) {
				on_signal(l);
				continue;
			}
			if (IS_LISTENER(tag)) {
				listener *li = &l->ls[tag - 16];
				if (li->fd >= 0)
					accept_one(l, li);
				continue;
			}
			if (*(const int *)evs[i].data.ptr == KIND_WATCH) {
				loop_watch *w = evs[i].data.ptr;
				unsigned ready = (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR) ? LOOP_READ : 0) |
				                 (evs[i].events & (EPOLLOUT | EPOLLHUP | EPOLLERR) ? LOOP_WRITE : 0);
				if (!w->dead)
					w->cb(w->arg, ready);
				continue;
			}
			c = evs[i].data.ptr;
			if ((evs[i].events & EPOLLIN) && !c->closing && !c->held && read_input(c) != 0) {
				conn_free(c);
				continue;
			}
			if ((evs[i].events & (EPOLLERR | EPOLLHUP)) || flush(c) != 0) {
				conn_free(c);
				continue;
			}
			if ((evs[i].events & EPOLLRDHUP) && c->outlen == 0) {
				conn_free(c);
				continue;
			}
			set_events(c);
		}
		run_ready(l);
		bury(l);
		now = time(NULL);
		if (now != last_sweep || l->stopping) {
			sweep(l, now);
			if (now != last_sweep && !l->stopping)
				l->cb(l, LOOP_TICK, l->cb_ctx);
			last_sweep = now;
		}
		l->work_pending = l->work && !l->stopping ? l->work(l->work_ctx) : 0;
	}
	return 0;
}

void loop_set_batch(loop *l, void (*fn)(void *ctx), void *ctx)
{
	l->batch = fn;
	l->batch_ctx = ctx;
}

void loop_set_work(loop *l, int (*fn)(void *ctx), void *ctx)
{
	l->work = fn;
	l->work_ctx = ctx;
}

void *conn_state(conn *c)
{
	return c->state;
}

void *conn_ctx(conn *c)
{
	return c->ctx;
}

const char *conn_peer(conn *c)
{
	return c->peer;
}

size_t loop_connections(const loop *l)
{
	return l->nconns;
}
