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

/* What the loop reports to its owner: SIGHUP, SIGTERM/SIGINT, SIGUSR1
 * (LOOP_INFO: log statistics), and a tick
 * about once a second (not while stopping) for periodic work. */
typedef enum loop_event { LOOP_RELOAD, LOOP_STOP, LOOP_TICK, LOOP_INFO } loop_event;
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

/*
 * Other file descriptors the loop watches for their owner (libunbound's
 * result pipe, the sockets of MTA-STS fetches).  `events` is LOOP_READ
 * and/or LOOP_WRITE (0 = watched but idle); the callback gets what is
 * ready.  loop_watch_del may be called from any callback, also for
 * another watch whose event is pending in the same iteration: the watch
 * is freed after the iteration and never called again.
 */
#define LOOP_READ 1u
#define LOOP_WRITE 2u
typedef struct loop_watch loop_watch;
typedef void (*loop_watch_cb)(void *arg, unsigned ready);
loop_watch *loop_watch_add(loop *l, int fd, unsigned events, loop_watch_cb cb, void *arg); /* NULL on failure */
int loop_watch_set(loop_watch *w, unsigned events);
void loop_watch_del(loop_watch *w); /* NULL is fine; does not close the fd; every watch must be deleted before loop_free */

/*
 * Timed work of an owner (deadlines of lookups in flight): before each
 * epoll_wait the loop calls fn, which does what is due and returns the
 * milliseconds until it next needs to run (-1: nothing pending).  The
 * wait is shortened to that (it is never longer than a second anyway).
 * One hook; NULL removes it.
 */
void loop_set_timer(loop *l, int (*fn)(void *ctx), void *ctx);

/* Per-connection helpers for protocol code. */
int conn_write(conn *c, const void *buf, size_t len); /* -1 if the output limit is hit */
void *conn_state(conn *c);

/*
 * Deferred answers.  An on_data callback that takes a request it cannot
 * answer at once calls conn_hold() and returns the bytes of that request
 * (consumed): from then on the connection gets no input callbacks, and
 * is not read from, until conn_resume().  The owner writes the answer
 * with conn_write() and calls conn_resume(), which flushes and hands the
 * input buffered meanwhile to on_data (later, from the loop: never from
 * inside conn_resume).  A held connection the client closes is closed as
 * usual: on_close runs, and the owner must forget the connection there
 * (it must never be written to afterwards).
 */
void conn_hold(conn *c);
void conn_resume(conn *c);
void *conn_ctx(conn *c);
const char *conn_peer(conn *c); /* "unix" or "127.0.0.1:4711" */
size_t loop_connections(const loop *l);

#endif
