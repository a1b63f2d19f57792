/*
 * The event loop's additions for services that answer later (io.h):
 * watches of other file descriptors (a watch deleted by another's
 * callback in the same iteration is never called), the timer hook, and
 * deferred answers (conn_hold / conn_resume: input buffered meanwhile is
 * handed over after the answer, in order; a held connection the client
 * closes runs on_close and is never written to).  Real sockets: a unix
 * listener, a client socket, pipes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "io.h"
#include "testutil.h"

typedef struct world {
	loop *l;
	char dir[256], sock[300];
	int pipe_a[2], pipe_b[2];
	loop_watch *wa, *wb;
	int a_calls, b_calls, timer_calls, closes;
	conn *held;      /* the connection waiting for its answer */
	char pending[8]; /* what it asked */
	int stop_after_close;
} world;

static world W;

static void on_loop(loop *l, loop_event ev, void *ctx)
{
	(void)ctx;
	if (ev == LOOP_STOP)
		loop_stop(l);
}

/* Requests are lines; "x" is answered later (through pipe_b), others at once. */
static ssize_t line_data(conn *c, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	size_t n;
	char out[16];

	if (nl == NULL)
		return 0;
	n = (size_t)(nl - buf) + 1;
	if (buf[0] == 'x' || buf[0] == 'y') {
		W.held = c;
		snprintf(W.pending, sizeof(W.pending), "%c", buf[0]);
		conn_hold(c);
		if (write(W.pipe_b[1], "!", 1) != 1)
			return -1;
		return (ssize_t)n;
	}
	snprintf(out, sizeof(out), "%c\n", buf[0] - 'a' + 'A');
	if (buf[0] == 'b')
		loop_stop(W.l); /* the last request: the answer is flushed, then the loop returns */
	return conn_write(c, out, strlen(out)) == 0 ? (ssize_t)n : -1;
}

static void line_close(conn *c)
{
	W.closes++;
	if (W.held == c)
		W.held = NULL; /* forgotten: never written to */
	if (W.stop_after_close)
		loop_stop(W.l);
}

static const proto line_proto = {"line", 64, 0, NULL, line_data, line_close};

static void on_a(void *arg, unsigned ready)
{
	char b;

	(void)arg;
	assert_true(ready & LOOP_READ);
	W.a_calls++;
	assert_int_equal(read(W.pipe_a[0], &b, 1), 1);
	/* b's event is pending in this same iteration: it must not run */
	loop_watch_del(W.wb);
	W.wb = NULL;
	loop_watch_del(W.wa);
	W.wa = NULL;
	loop_stop(W.l);
}

static void on_b(void *arg, unsigned ready)
{
	(void)arg;
	(void)ready;
	W.b_calls++;
}

static int timer(void *ctx)
{
	(void)ctx;
	W.timer_calls++;
	return 10;
}

static int setup(void **state)
{
	char err[256];

	memset(&W, 0, sizeof(W));
	tmpdir_make(W.dir, sizeof(W.dir));
	snprintf(W.sock, sizeof(W.sock), "unix:%s/s", W.dir);
	assert_int_equal(pipe(W.pipe_a), 0);
	assert_int_equal(pipe(W.pipe_b), 0);
	assert_int_equal(loop_new(&W.l, 16, 60, on_loop, NULL), 0);
	if (loop_listen(W.l, W.sock, &line_proto, NULL, 0600, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	*state = &W;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	loop_free(W.l);
	close(W.pipe_a[0]);
	close(W.pipe_a[1]);
	close(W.pipe_b[0]);
	close(W.pipe_b[1]);
	tmpdir_remove(W.dir);
	return 0;
}

static int client(void)
{
	struct sockaddr_un sun = {0};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	sun.sun_family = AF_UNIX;
	assert_true(strlen(W.sock + 5) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, W.sock + 5, strlen(W.sock + 5) + 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void test_watch_deleted_in_same_iteration(void **state)
{
	(void)state;
	W.wa = loop_watch_add(W.l, W.pipe_a[0], LOOP_READ, on_a, NULL);
	W.wb = loop_watch_add(W.l, W.pipe_b[0], LOOP_READ, on_b, NULL);
	assert_non_null(W.wa);
	assert_non_null(W.wb);
	/* both readable before the loop waits: one epoll_wait returns both */
	assert_int_equal(write(W.pipe_a[1], "a", 1), 1);
	assert_int_equal(write(W.pipe_b[1], "b", 1), 1);
	loop_set_timer(W.l, timer, NULL);
	assert_int_equal(loop_run(W.l), 0);
	assert_int_equal(W.a_calls, 1);
	/* epoll reports in the order the fds became ready (a first): b's
	 * event came in the same batch, after a deleted it */
	assert_int_equal(W.b_calls, 0);
	assert_true(W.timer_calls >= 1);
}

/* The owner's side of a deferred answer: pipe_b says "answer now". */
static void answer_later(void *arg, unsigned ready)
{
	char b, out[16];

	(void)arg;
	(void)ready;
	assert_int_equal(read(W.pipe_b[0], &b, 1), 1);
	if (W.held == NULL)
		return; /* the client left: nothing to write to */
	snprintf(out, sizeof(out), "%s-later\n", W.pending);
	assert_int_equal(conn_write(W.held, out, strlen(out)), 0);
	conn_resume(W.held);
	W.held = NULL;
}

static void test_deferred_answer_then_buffered_input(void **state)
{
	char buf[64];
	size_t got = 0;
	int fd;

	(void)state;
	W.wb = loop_watch_add(W.l, W.pipe_b[0], LOOP_READ, answer_later, NULL);
	fd = client();
	/* "x" waits; "a" and "b" arrive meanwhile and must come after it */
	assert_int_equal(write(fd, "x\na\nb\n", 6), 6);
	assert_int_equal(loop_run(W.l), 0);
	for (;;) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	assert_string_equal(buf, "x-later\nA\nB\n");
	assert_int_equal(W.closes, 1);
	close(fd);
	loop_watch_del(W.wb); /* the owner's; freed by loop_free */
}

static void test_closed_while_held(void **state)
{
	int fd;

	(void)state;
	fd = client();
	assert_int_equal(write(fd, "y\n", 2), 2);
	/* the answer is never triggered (pipe_b is not watched): the client leaves */
	W.stop_after_close = 1;
	close(fd); /* closed at once: the request is read (and held) and the hang-up seen */
	assert_int_equal(loop_run(W.l), 0);
	assert_int_equal(W.closes, 1);
	assert_null(W.held); /* on_close forgot it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_watch_deleted_in_same_iteration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_answer_then_buffered_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_while_held, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
