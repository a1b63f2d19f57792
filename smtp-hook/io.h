/*
 * The I/O layer of postern-hookd: one epoll loop, non-blocking sockets,
 * per-connection input and output buffers with hard limits, idle
 * timeouts, and signals delivered as events (signalfd).  It knows
 * bytes, not protocols: a protocol is a table of callbacks that gets
 * the buffered input and says how much of it it consumed.
 */
#ifndef HOOKD_IO_H
#define HOOKD_IO_H

#include <stddef.h>
#include <sys/types.h>

typedef struct loop loop;
typedef struct conn conn;

typedef struct proto {
	const char *name;
	size_t max_input;  /* unconsumed input beyond this closes the connection */
	size_t state_size; /* per-connection state, zeroed, from conn_state() */
	/* After accept; may write a greeting.  Non-zero closes. */
	int (*on_open)(conn *c);
	/* Input is available: return the bytes consumed (0 = need more), or
	 * -1 to close the connection (after what was written is flushed). */
	ssize_t (*on_data)(conn *c, const char *buf, size_t len);
	void (*on_close)(conn *c);
} proto;

/* What the loop reports to its owner: SIGHUP, SIGTERM/SIGINT, and a tick
 * about once a second (not while stopping) for periodic work. */
typedef enum loop_event { LOOP_RELOAD, LOOP_STOP, LOOP_TICK } loop_event;
typedef void (*loop_signal_cb)(loop *l, loop_event ev, void *ctx);

int loop_new(loop **out, int max_connections, int idle_timeout, loop_signal_cb cb, void *ctx);
void loop_free(loop *l);

/* Bind and listen on "unix:/path" or "inet:host:port"; a stale unix
 * socket file is replaced.  `ctx` is handed to every connection. */
int loop_listen(loop *l, const char *spec, const proto *p, void *ctx, mode_t mode, char *err, size_t errlen);

/* Called once per loop iteration, when epoll_wait has returned events
 * and before any of them is handled: the place for per-batch work such
 * as checking once that cached state is still current for every request
 * read in this iteration.  One hook; NULL removes it. */
void loop_set_batch(loop *l, void (*fn)(void *ctx), void *ctx);

/* Called once per loop iteration after the events (and the tick) were
 * handled, for work done in slices between requests: while it returns
 * nonzero, the loop does not sleep in epoll_wait before calling it
 * again.  One hook; NULL removes it. */
void loop_set_work(loop *l, int (*fn)(void *ctx), void *ctx);

/* Run until LOOP_STOP has been handled and the connections drained. */
int loop_run(loop *l);

/* Ask the loop to stop: listeners close at once, connections get their
 * pending output flushed (up to a few seconds), then the loop returns. */
void loop_stop(loop *l);

/* Per-connection helpers for protocol code. */
int conn_write(conn *c, const void *buf, size_t len); /* -1 if the output limit is hit */
void *conn_state(conn *c);
void *conn_ctx(conn *c);
const char *conn_peer(conn *c); /* "unix" or "127.0.0.1:4711" */
size_t loop_connections(const loop *l);

#endif
