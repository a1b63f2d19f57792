/*
 * The log follower (smtp-hook/maillog_follow.c) on real files and a
 * real database: the recorded Postfix 3.7 log is written to a file
 * piece by piece (lines split across writes), the file is rotated
 * between two messages (renamed as "postfix logrotate" does, a last line
 * written to the old file, a new file created), and the follower, a
 * child process, is killed with SIGKILL several times mid-stream and
 * restarted.  The store must end up with exactly the events of one
 * uninterrupted run over the same lines: none lost, none counted twice.
 * Likewise for a large backlog read a few lines per poll (max_lines).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "maillog.h"
#include "maillog_follow.h"
#include "maillog_track.h"
#include "testutil.h"

#define NOW 1796170000 /* 2026-12-02, the recording's date */

static char **lines;
static size_t nlines;

static void free_lines(void)
{
	for (size_t i = 0; i < nlines; i++)
		free(lines[i]);
	free(lines);
}

static void load_lines(void)
{
	if (lines)
		return; /* once per process */
	char path[1024];
	snprintf(path, sizeof path, "%s/maillog-postfix37.in", SRC_DIR);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char buf[ML_LINE_MAX + 2];
	lines = calloc(256, sizeof *lines);
	while (fgets(buf, sizeof buf, f)) {
		if (buf[0] == '#')
			continue;
		assert_true(nlines < 256);
		lines[nlines++] = strdup(buf);
	}
	fclose(f);
}

static acct_db *open_db(const char *path)
{
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	acct_db *db = NULL;
	o.actor = "test";
	if (acct_open(&db, path, &o) != ACCT_OK)
		fail_msg("acct_open(%s): %s", path, acct_errmsg(db));
	return db;
}

static void append(const char *path, const char *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

/* The follower as a separate process, polling until killed. */
static pid_t start_follower(const char *dbpath, const char *log, size_t batch)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		acct_db *db = open_db(dbpath);
		mlf_options o = MLF_OPTIONS_INIT;
		mlf *f;
		char err[256];
		o.batch_lines = batch;
		if (mlf_open(&f, db, log, &o, err, sizeof err) != ACCT_OK)
			_exit(3);
		for (;;) {
			if (mlf_poll(f, NOW) != ACCT_OK)
				_exit(4);
			struct timespec ts = {0, 2000000};
			nanosleep(&ts, NULL);
		}
	}
	return pid;
}

static void kill_follower(pid_t pid)
{
	int status;
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status)); /* it was running, not failed */
}

/* Wait (bounded) until the follower's saved position is the end of `file`. */
static void wait_caught_up(const char *dbpath, const char *log, const char *file)
{
	struct stat sb;
	assert_int_equal(stat(file, &sb), 0);
	acct_db *db = open_db(dbpath);
	for (int i = 0; i < 5000; i++) {
		acct_log_pos p;
		if (acct_logpos_get(db, log, &p) == ACCT_OK && p.inode == (int64_t)sb.st_ino &&
		    p.offset == (int64_t)sb.st_size)
			break;
		struct timespec ts = {0, 2000000};
		nanosleep(&ts, NULL);
		if (i == 4999)
			fail_msg("the follower did not catch up with %s", file);
	}
	acct_close(db);
}

typedef struct dump {
	char *buf;
	size_t len, cap;
	int n;
} dump;

static int on_event(const acct_event *e, void *ctx)
{
	dump *d = ctx;
	char line[2048];
	int n = snprintf(line, sizeof line, "%s %s %s %d %lld %lld %s %s %s %d %d %s\n", e->queue_id, e->account,
	                 e->recipient, (int)e->type, (long long)e->time, (long long)e->submitted_at,
	                 e->relay ? e->relay : "-", e->tls_protocol ? e->tls_protocol : "-",
	                 e->tls_cipher ? e->tls_cipher : "-", (int)e->tls_trust, e->tls_refused,
	                 e->reason ? e->reason : "-");
	assert_true(n > 0 && (size_t)n < sizeof line);
	if (d->len + (size_t)n + 1 > d->cap) {
		d->cap = (d->cap + (size_t)n + 1) * 2;
		d->buf = realloc(d->buf, d->cap);
		assert_non_null(d->buf);
	}
	memcpy(d->buf + d->len, line, (size_t)n + 1);
	d->len += (size_t)n;
	d->n++;
	return 0;
}

static int count_cb(const acct_pending_msg *m, void *ctx)
{
	(void)m;
	(*(int *)ctx)++;
	return 0;
}

static void dump_db(const char *dbpath, dump *d, int *pending)
{
	acct_db *db = open_db(dbpath);
	memset(d, 0, sizeof *d);
	assert_int_equal(acct_event_foreach(db, NULL, on_event, d), ACCT_OK);
	*pending = 0;
	assert_int_equal(acct_pending_foreach(db, count_cb, pending), ACCT_OK);
	acct_close(db);
}

/* Where the rotation happens: after the enforced account's bounce (the
 * line "... 04CF5A7227E: removed"), before the verify account's message. */
static size_t after_line(const char *what)
{
	for (size_t i = 0; i < nlines; i++)
		if (strstr(lines[i], what))
			return i + 1;
	fail_msg("line \"%s\" not found", what);
	return 0;
}

static size_t rotation_index(void)
{
	return after_line("04CF5A7227E: removed");
}

static void reference_run(const char *dir, dump *ref, int *ref_pending)
{
	char dbpath[512], log[512];
	snprintf(dbpath, sizeof dbpath, "%s/ref.db", dir);
	snprintf(log, sizeof log, "%s/ref.log", dir);
	for (size_t i = 0; i < nlines; i++)
		append(log, lines[i], strlen(lines[i]));
	acct_db *db = open_db(dbpath);
	mlf *f;
	char err[256];
	assert_int_equal(mlf_open(&f, db, log, NULL, err, sizeof err), ACCT_OK);
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	mlf_stats st;
	mlf_get_stats(f, &st);
	assert_int_equal(st.lines, nlines);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.lost, 0);
	mlf_close(f);
	acct_close(db);
	dump_db(dbpath, ref, ref_pending);
}

static void test_rotation_and_kills(void **state)
{
	(void)state;
	char dir[256], dbpath[512], log[512], rotated[600];
	tmpdir_make(dir, sizeof dir);
	load_lines();
	dump ref, got;
	int ref_pending, got_pending;
	reference_run(dir, &ref, &ref_pending);
	/* the recorded log's events: 5 opportunistic, 3 blocked, 4 recipients
	 * of the mixed message (the deferred one still deferred) */
	assert_int_equal(ref.n, 12);
	assert_int_equal(ref_pending, 1);
	assert_non_null(strstr(ref.buf, "04CF5A7227E enforced carol@clear.test 4 "));
	assert_non_null(strstr(ref.buf, "53771A72273 alice c@down.test 2 "));

	snprintf(dbpath, sizeof dbpath, "%s/events.db", dir);
	snprintf(log, sizeof log, "%s/maillog", dir);
	snprintf(rotated, sizeof rotated, "%s/maillog.20261202-001422", dir);
	acct_close(open_db(dbpath)); /* create it */
	size_t rot = rotation_index();
	pid_t pid = start_follower(dbpath, log, 3);
	int kills = 0;
	for (size_t i = 0; i < nlines; i++) {
		if (i == rot) {
			/* rotate with the follower stopped mid-file: it must find the
			 * old file by inode at restart and finish it first */
			wait_caught_up(dbpath, log, log);
			kill_follower(pid);
			kills++;
			assert_int_equal(rename(log, rotated), 0);
			/* lines Postfix wrote to the old file before it reopened
			 * (the second is the verify account's smtpd line) */
			assert_non_null(strstr(lines[i + 1], "sasl_username=verify"));
			append(rotated, lines[i], strlen(lines[i]));
			append(rotated, lines[i + 1], strlen(lines[i + 1]));
			i += 2;
			append(log, "", 0); /* the new, empty file */
			pid = start_follower(dbpath, log, 3);
		}
		/* every line in two writes: the follower may see half a line */
		size_t n = strlen(lines[i]), half = n / 2;
		append(log, lines[i], half);
		append(log, lines[i] + half, n - half);
		if (strstr(lines[i], "53771A72273: client=")) {
			/* killed between a message's smtpd line and its deliveries:
			 * only the messages in flight saved in the store tell the
			 * restarted follower whose they are */
			wait_caught_up(dbpath, log, log);
			kill_follower(pid);
			kills++;
			pid = start_follower(dbpath, log, 3);
		} else if (i % 17 == 16) { /* killed without waiting: mid-stream */
			kill_follower(pid);
			kills++;
			pid = start_follower(dbpath, log, 3);
		}
	}
	wait_caught_up(dbpath, log, log);
	kill_follower(pid);
	/* a restart with nothing new changes nothing */
	pid = start_follower(dbpath, log, 3);
	wait_caught_up(dbpath, log, log);
	kill_follower(pid);
	assert_true(kills >= 5);

	dump_db(dbpath, &got, &got_pending);
	assert_int_equal(got.n, ref.n);
	assert_int_equal(got_pending, ref_pending);
	if (strcmp(got.buf, ref.buf) != 0)
		fail_msg("events differ from an uninterrupted run:\n--- got\n%s--- want\n%s", got.buf, ref.buf);
	free(got.buf);
	free(ref.buf);
	tmpdir_remove(dir);
}

/* In one process: partial lines, an over-long line, rotation by rename
 * while running, truncation, and a restart that resumes at the saved
 * offset. */
static void test_follow_in_process(void **state)
{
	(void)state;
	char dir[256], dbpath[512], log[512], old[600];
	tmpdir_make(dir, sizeof dir);
	snprintf(dbpath, sizeof dbpath, "%s/e.db", dir);
	snprintf(log, sizeof log, "%s/mail.log", dir);
	snprintf(old, sizeof old, "%s/mail.log.1", dir);
	acct_db *db = open_db(dbpath);
	mlf *f;
	char err[256];
	mlf_stats st;

	/* no file yet: fine */
	assert_int_equal(mlf_open(&f, db, log, NULL, err, sizeof err), ACCT_OK);
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);

	const char *m1[] = {
	    "Dec  2 09:00:00 mx postfix/submission/smtpd[10]: AAAA000001: client=c[192.0.2.1], sasl_method=PLAIN, "
	    "sasl_username=acme\n",
	    "Dec  2 09:00:01 mx postfix/qmgr[11]: AAAA000001: from=<s@acme.example>, size=10, nrcpt=1 (queue "
	    "active)\n",
	    "Dec  2 09:00:02 mx postfix/smtp[12]: Trusted TLS connection established to mx.b.example[192.0.2.2]:25: "
	    "TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)\n",
	    "Dec  2 09:00:03 mx postfix/smtp[12]: AAAA000001: to=<r@b.example>, relay=mx.b.example[192.0.2.2]:25, "
	    "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n",
	    "Dec  2 09:00:03 mx postfix/qmgr[11]: AAAA000001: removed\n"};
	/* the smtpd line and half the qmgr line */
	append(log, m1[0], strlen(m1[0]));
	append(log, m1[1], 20);
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	acct_log_pos p;
	assert_int_equal(acct_logpos_get(db, log, &p), ACCT_OK);
	assert_int_equal(p.offset, (int64_t)strlen(m1[0])); /* the half line is not taken */
	/* an over-long line in between is skipped whole */
	char *big = malloc(20000);
	memset(big, 'x', 19999);
	big[19998] = '\n';
	big[19999] = '\0';
	append(log, m1[1] + 20, strlen(m1[1]) - 20);
	append(log, big, 10000);
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	append(log, big + 10000, 9999);
	free(big);
	append(log, m1[2], strlen(m1[2]));
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	mlf_get_stats(f, &st);
	assert_int_equal(st.malformed, 1);
	assert_int_equal(st.lines, 4);

	/* rotated while running: the delivery line goes to the old file,
	 * "removed" to the new one */
	append(log, m1[3], strlen(m1[3]));
	assert_int_equal(rename(log, old), 0);
	append(log, m1[4], strlen(m1[4]));
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	mlf_get_stats(f, &st);
	assert_int_equal(st.rotations, 1);
	assert_int_equal(st.events, 1);
	dump d;
	int pending;
	mlf_close(f);
	acct_close(db);
	dump_db(dbpath, &d, &pending);
	assert_int_equal(d.n, 1);
	assert_int_equal(pending, 0);
	assert_non_null(strstr(d.buf, "AAAA000001 acme r@b.example 1 "));
	assert_non_null(strstr(d.buf, " TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 4 0 250 ok"));
	free(d.buf);

	/* a restart resumes at the saved offset of the new file */
	db = open_db(dbpath);
	assert_int_equal(mlf_open(&f, db, log, NULL, err, sizeof err), ACCT_OK);
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	mlf_get_stats(f, &st);
	assert_int_equal(st.lines, 0);
	/* truncated in place (copytruncate), noticed, then new lines */
	assert_int_equal(truncate(log, 0), 0);
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	const char *m2 = "Dec  2 09:10:00 mx postfix/submission/smtpd[10]: AAAA000002: client=c[192.0.2.1], "
	                 "sasl_method=PLAIN, sasl_username=acme\n";
	append(log, m2, strlen(m2));
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	mlf_get_stats(f, &st);
	assert_int_equal(st.lines, 1);
	mlf_close(f);
	acct_close(db);
	dump_db(dbpath, &d, &pending);
	assert_int_equal(pending, 1);
	free(d.buf);

	/* retention: a follower keeping a day prunes the events older than that */
	db = open_db(dbpath);
	mlf_options ro = MLF_OPTIONS_INIT;
	ro.retention = 86400;
	assert_int_equal(mlf_open(&f, db, log, &ro, err, sizeof err), ACCT_OK);
	assert_int_equal(mlf_poll(f, NOW + 2 * 86400), ACCT_OK);
	mlf_get_stats(f, &st);
	assert_int_equal(st.pruned, 1); /* the delivered event of 2026-12-02 */
	mlf_close(f);
	acct_close(db);
	dump_db(dbpath, &d, &pending);
	assert_int_equal(d.n, 0);
	free(d.buf);
	ro.retention = -1;
	db = open_db(dbpath);
	assert_int_equal(mlf_open(&f, db, log, &ro, err, sizeof err), ACCT_EINVAL);
	acct_close(db);

	/* bad arguments get one clear error */
	assert_int_equal(mlf_open(&f, NULL, log, NULL, err, sizeof err), ACCT_EINVAL);
	assert_null(f);
	assert_non_null(strstr(err, "path of 1 to"));
	mlf_close(NULL);
	tmpdir_remove(dir);
}

/* One synthetic message of five lines (one delivered event), queue id
 * made from `i`. */
static void append_message(const char *path, unsigned i)
{
	char buf[2048], q[16];
	snprintf(q, sizeof q, "B%09X", i);
	int n = snprintf(buf, sizeof buf,
	                 "Dec  2 09:00:00 mx postfix/submission/smtpd[10]: %s: client=c[192.0.2.1], "
	                 "sasl_method=PLAIN, sasl_username=acme\n"
	                 "Dec  2 09:00:01 mx postfix/qmgr[11]: %s: from=<s@acme.example>, size=10, nrcpt=1 (queue "
	                 "active)\n"
	                 "Dec  2 09:00:02 mx postfix/smtp[12]: Trusted TLS connection established to "
	                 "mx.b.example[192.0.2.2]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
	                 "Dec  2 09:00:03 mx postfix/smtp[12]: %s: to=<r%u@b.example>, relay=mx.b.example[192.0.2.2]:25, "
	                 "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n"
	                 "Dec  2 09:00:03 mx postfix/qmgr[11]: %s: removed\n",
	                 q, q, q, i, q);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	append(path, buf, (size_t)n);
}

/* The budget: a backlog of 5,000 lines read 97 lines per poll (never
 * more), rotated half-way with lines still going to the old file, ends
 * with exactly the events of one unbudgeted pass. */
static void test_budget(void **state)
{
	(void)state;
	char dir[256], dbpath[512], refdb[512], log[512], reflog[512], old[600], err[256];
	const unsigned N = 1000;
	const size_t BUDGET = 97;
	tmpdir_make(dir, sizeof dir);
	snprintf(dbpath, sizeof dbpath, "%s/e.db", dir);
	snprintf(refdb, sizeof refdb, "%s/ref.db", dir);
	snprintf(log, sizeof log, "%s/mail.log", dir);
	snprintf(reflog, sizeof reflog, "%s/ref.log", dir);
	snprintf(old, sizeof old, "%s/mail.log.1", dir);

	/* the reference: everything in one poll */
	for (unsigned i = 0; i < N; i++)
		append_message(reflog, i);
	acct_db *db = open_db(refdb);
	mlf *f;
	mlf_stats st;
	assert_int_equal(mlf_open(&f, db, reflog, NULL, err, sizeof err), ACCT_OK);
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	assert_false(mlf_more(f));
	mlf_get_stats(f, &st);
	assert_int_equal(st.lines, 5 * N);
	mlf_close(f);
	acct_close(db);
	dump ref, got;
	int ref_pending, got_pending;
	dump_db(refdb, &ref, &ref_pending);
	assert_int_equal(ref.n, (int)N);
	assert_int_equal(ref_pending, 0);

	/* budgeted, into a log that is rotated while a backlog remains */
	for (unsigned i = 0; i < 600; i++)
		append_message(log, i);
	db = open_db(dbpath);
	mlf_options o = MLF_OPTIONS_INIT;
	o.max_lines = BUDGET;
	assert_int_equal(mlf_open(&f, db, log, &o, err, sizeof err), ACCT_OK);
	uint64_t before = 0;
	int polls = 0, rotated = 0;
	acct_log_pos last = {0};
	for (;;) {
		assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
		polls++;
		mlf_get_stats(f, &st);
		assert_true(st.lines - before <= BUDGET);
		/* each poll commits what it took: the saved position moved on */
		acct_log_pos p;
		assert_int_equal(acct_logpos_get(db, log, &p), ACCT_OK);
		if (st.lines > before && p.inode == last.inode)
			assert_true(p.offset > last.offset);
		last = p;
		before = st.lines;
		if (polls == 10) {
			assert_true(mlf_more(f));
			assert_int_equal(rename(log, old), 0);
			for (unsigned i = 600; i < 650; i++)
				append_message(old, i);
			for (unsigned i = 650; i < N; i++)
				append_message(log, i);
			rotated = 1;
		}
		if (!mlf_more(f) && rotated)
			break;
		assert_true(polls < 1000);
	}
	mlf_get_stats(f, &st);
	assert_int_equal(st.lines, 5 * N);
	assert_int_equal(st.rotations, 1);
	assert_true(polls >= (int)(5 * N / BUDGET));
	/* one more poll finds nothing */
	assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
	mlf_get_stats(f, &st);
	assert_int_equal(st.lines, 5 * N);
	mlf_close(f);
	acct_close(db);
	dump_db(dbpath, &got, &got_pending);
	assert_int_equal(got.n, (int)N);
	assert_int_equal(got_pending, 0);
	if (strcmp(got.buf, ref.buf) != 0)
		fail_msg("events differ from an unbudgeted run:\n--- got\n%s--- want\n%s", got.buf, ref.buf);
	free(got.buf);
	free(ref.buf);
	tmpdir_remove(dir);
}

/* The follower's notices, kept for the assertions. */
typedef struct notes {
	char buf[8192];
	size_t len;
	int warnings;
} notes;

static void on_notice(int warning, const char *msg, void *ctx)
{
	notes *n = ctx;
	int k = snprintf(n->buf + n->len, sizeof n->buf - n->len, "%s%s\n", warning ? "W: " : "I: ", msg);
	if (k > 0 && (size_t)k < sizeof n->buf - n->len)
		n->len += (size_t)k;
	n->warnings += warning != 0;
}

static void write_lines(const char *path, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		append(path, lines[i], strlen(lines[i]));
}

/* "postfix logrotate" while the follower is down: the file renamed to
 * PATH.SUFFIX (its last write `age` seconds ago: rotations are a day
 * apart), then compressed by the real gzip, which keeps the time. */
static void rotate_gzip(const char *log, const char *suffix, time_t age)
{
	char rotated[700];
	snprintf(rotated, sizeof rotated, "%s.%s", log, suffix);
	assert_int_equal(rename(log, rotated), 0);
	struct timespec t[2] = {{time(NULL) - age, 0}, {time(NULL) - age, 0}};
	assert_int_equal(utimensat(AT_FDCWD, rotated, t, 0), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("gzip", "gzip", "-q", rotated, (char *)NULL);
		_exit(127);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(access(rotated, F_OK), -1); /* gzip replaced it */
}

/* One follower run: open, poll until nothing is left, close. */
static void follow_once(const char *dbpath, const char *log, size_t max_lines, int polls, notes *n)
{
	acct_db *db = open_db(dbpath);
	mlf_options o = MLF_OPTIONS_INIT;
	mlf *f;
	char err[256];
	o.max_lines = max_lines;
	o.notice = on_notice;
	o.notice_ctx = n;
	if (mlf_open(&f, db, log, &o, err, sizeof err) != ACCT_OK)
		fail_msg("mlf_open: %s", err);
	for (int i = 0; polls ? i < polls : i < 10000; i++) {
		assert_int_equal(mlf_poll(f, NOW), ACCT_OK);
		if (!polls && !mlf_more(f))
			break;
	}
	mlf_close(f);
	acct_close(db);
}

static void expect_ref(const char *dbpath, const dump *ref, int ref_pending, const notes *n)
{
	dump got;
	int got_pending;
	dump_db(dbpath, &got, &got_pending);
	if (got.n != ref->n || strcmp(got.buf, ref->buf) != 0 || got_pending != ref_pending)
	{
		fprintf(stderr, "--- notices\n%s--- got (%d events, %d pending)\n%s--- want (%d, %d pending)\n%s",
		        n->buf, got.n, got_pending, got.buf ? got.buf : "", ref->n, ref_pending, ref->buf);
		fail_msg("events differ from one straight pass (above)");
	}
	free(got.buf);
}

/* The daemon is down while the log is rotated and gzipped (once, then
 * twice, and once while it was still reading a compressed file): the
 * unread rest of the old file is read from the .gz (found by the
 * fingerprint kept with the position), then the files rotated after it,
 * then the current file: exactly the events of one straight pass. */
static void test_gzip_rotation_while_down(void **state)
{
	(void)state;
	char dir[256], dbpath[512], log[512];
	tmpdir_make(dir, sizeof dir);
	load_lines();
	dump ref;
	int ref_pending;
	reference_run(dir, &ref, &ref_pending);
	/* split points between two messages, where no smtp process's TLS
	 * line waits for its delivery line (that state is not kept over a
	 * restart) */
	size_t rot = rotation_index(), a = after_line("983C0A72275: removed");
	assert_true(a > 0 && a < rot && rot < nlines);

	/* one rotation: position mid-file, more lines, rotate + gzip, the
	 * rest into the new file */
	{
		notes n = {.len = 0};
		snprintf(dbpath, sizeof dbpath, "%s/one.db", dir);
		snprintf(log, sizeof log, "%s/one.log", dir);
		write_lines(log, 0, a);
		follow_once(dbpath, log, 0, 0, &n);
		write_lines(log, a, rot);
		rotate_gzip(log, "20261202-100000", 3600);
		write_lines(log, rot, nlines);
		follow_once(dbpath, log, 0, 2, &n);
		expect_ref(dbpath, &ref, ref_pending, &n);
		assert_int_equal(n.warnings, 0);
		assert_non_null(strstr(n.buf, "one.log.20261202-100000.gz (compressed since)"));
		/* the position is on the current file now, with its fingerprint */
		acct_db *db = open_db(dbpath);
		acct_log_pos p;
		struct stat sb;
		assert_int_equal(stat(log, &sb), 0);
		assert_int_equal(acct_logpos_get(db, log, &p), ACCT_OK);
		assert_int_equal(p.inode, (int64_t)sb.st_ino);
		assert_int_equal(p.offset, (int64_t)sb.st_size);
		assert_int_equal(p.fingerprint_len, 32);
		acct_close(db);
		/* and a restart reads nothing twice */
		follow_once(dbpath, log, 0, 2, &n);
		expect_ref(dbpath, &ref, ref_pending, &n);
	}
	/* two rotations while down, the second file never seen: read in
	 * order (by time, whatever the names) */
	{
		notes n = {.len = 0};
		size_t b = after_line("36A39A7227E: removed");
		assert_true(b > rot && b < nlines);
		snprintf(dbpath, sizeof dbpath, "%s/two.db", dir);
		snprintf(log, sizeof log, "%s/two.log", dir);
		write_lines(log, 0, a);
		follow_once(dbpath, log, 0, 0, &n);
		write_lines(log, a, rot);
		rotate_gzip(log, "20261202-100000", 7200);
		write_lines(log, rot, b);
		rotate_gzip(log, "20261202-110000", 3600);
		write_lines(log, b, nlines);
		follow_once(dbpath, log, 0, 2, &n);
		expect_ref(dbpath, &ref, ref_pending, &n);
		assert_int_equal(n.warnings, 0);
		assert_non_null(strstr(n.buf, "reading the rotated"));
	}
	/* killed while reading the .gz (a few lines per poll): resumed inside
	 * it, at its saved offset, after a restart */
	{
		notes n = {.len = 0};
		snprintf(dbpath, sizeof dbpath, "%s/mid.db", dir);
		snprintf(log, sizeof log, "%s/mid.log", dir);
		write_lines(log, 0, 3);
		follow_once(dbpath, log, 0, 0, &n);
		write_lines(log, 3, rot);
		rotate_gzip(log, "20261202-100000", 3600);
		write_lines(log, rot, nlines);
		follow_once(dbpath, log, 7, 2, &n); /* 14 lines of the .gz, then "killed" */
		acct_db *db = open_db(dbpath);
		acct_log_pos p;
		char gz[700];
		struct stat sb;
		snprintf(gz, sizeof gz, "%s.20261202-100000.gz", log);
		assert_int_equal(stat(gz, &sb), 0);
		assert_int_equal(acct_logpos_get(db, log, &p), ACCT_OK);
		assert_int_equal(p.inode, (int64_t)sb.st_ino); /* inside the .gz */
		acct_close(db);
		follow_once(dbpath, log, 7, 0, &n);
		expect_ref(dbpath, &ref, ref_pending, &n);
		assert_int_equal(n.warnings, 0);
	}
	free(ref.buf);
	tmpdir_remove(dir);
}

/* Is every line of `part` a line of `whole`? */
static void assert_lines_within(const char *part, const char *whole, const char *what)
{
	const char *p = part;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		char line[2048];
		assert_true(n < sizeof line);
		memcpy(line, p, n);
		line[n] = '\0';
		if (!strstr(whole, line))
			fail_msg("%s: event not expected:\n%s--- in\n%s", what, line, whole);
		p += n;
	}
}

/* A damaged .gz (cut short; garbage in its compressed data): a warning
 * naming it, no crash, no invented event, and the follower goes on with
 * the current file, whose events are all there. */
static void test_gzip_damaged(void **state)
{
	(void)state;
	char dir[256], dbpath[512], log[512], gz[700];
	tmpdir_make(dir, sizeof dir);
	load_lines();
	dump ref, tail;
	int ref_pending, tail_pending;
	reference_run(dir, &ref, &ref_pending);
	size_t rot = rotation_index();
	{ /* the events of the lines after the rotation alone */
		snprintf(dbpath, sizeof dbpath, "%s/tail.db", dir);
		snprintf(log, sizeof log, "%s/tail.log", dir);
		write_lines(log, rot, nlines);
		notes n = {.len = 0};
		follow_once(dbpath, log, 0, 0, &n);
		dump_db(dbpath, &tail, &tail_pending);
		assert_true(tail.n > 0);
	}
	for (int kind = 0; kind < 2; kind++) {
		notes n = {.len = 0};
		snprintf(dbpath, sizeof dbpath, "%s/dmg%d.db", dir, kind);
		snprintf(log, sizeof log, "%s/dmg%d.log", dir, kind);
		write_lines(log, 0, 3);
		follow_once(dbpath, log, 0, 0, &n);
		write_lines(log, 3, rot);
		rotate_gzip(log, "20261202-100000", 3600);
		snprintf(gz, sizeof gz, "%s.20261202-100000.gz", log);
		struct stat sb;
		assert_int_equal(stat(gz, &sb), 0);
		if (kind == 0) { /* cut short */
			assert_int_equal(truncate(gz, sb.st_size / 2), 0);
		} else { /* garbage over the middle of the compressed data */
			int fd = open(gz, O_WRONLY);
			assert_true(fd >= 0);
			char junk[64];
			memset(junk, 0xa5, sizeof junk);
			assert_int_equal(pwrite(fd, junk, sizeof junk, sb.st_size / 2), (ssize_t)sizeof junk);
			close(fd);
		}
		write_lines(log, rot, nlines);
		follow_once(dbpath, log, 0, 2, &n);
		if (n.warnings < 1 || !strstr(n.buf, "damaged compressed log"))
			fail_msg("no warning:\n%s", n.buf);
		assert_non_null(strstr(n.buf, "damaged compressed log"));
		assert_non_null(strstr(n.buf, gz));
		dump got;
		int got_pending;
		dump_db(dbpath, &got, &got_pending);
		assert_lines_within(got.buf, ref.buf, kind ? "garbage" : "cut short");
		assert_lines_within(tail.buf, got.buf, kind ? "garbage (current file)" : "cut short (current file)");
		free(got.buf);
		/* the current file's position is saved: a restart adds nothing */
		follow_once(dbpath, log, 0, 2, &n);
		dump again;
		dump_db(dbpath, &again, &got_pending);
		assert_int_equal(again.n, got.n);
		free(again.buf);
	}
	free(ref.buf);
	free(tail.buf);
	tmpdir_remove(dir);
}

/* The smtp processes' TLS state across a restart.  The "TLS connection
 * established to HOST" line has no queue id: a delivery line inherits it
 * from the state its process left, which must survive a follower that
 * stops between the two.  The recorded log is split after every one of
 * its lines: the first part followed and the follower stopped (closed
 * normally, or, after the TLS lines, killed with SIGKILL once it saved
 * its position), then the rest written and followed by a new follower on
 * the same store: exactly the events of one straight pass every time. */
static void test_tls_state_across_restart(void **state)
{
	(void)state;
	char dir[256], dbpath[512], log[512];
	tmpdir_make(dir, sizeof dir);
	load_lines();
	dump ref;
	int ref_pending;
	reference_run(dir, &ref, &ref_pending);
	/* the TLS details the straight pass gives (trust 4 trusted, 5 verified,
	 * 3 untrusted), which the splits must give too */
	assert_non_null(strstr(ref.buf, " bob@verified.test 1 "));
	assert_non_null(strstr(ref.buf, "127.0.0.1[127.0.0.1]:20030 TLSv1.3 TLS_AES_256_GCM_SHA384 5 0 "));
	assert_non_null(strstr(ref.buf, "127.0.0.1[127.0.0.1]:20026 TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384 4 0 "));
	assert_non_null(strstr(ref.buf, "127.0.0.1[127.0.0.1]:20028 TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384 3 1 "
	                                "TLS required but not supported: Server certificate not verified "
	                                "(self-signed certificate)"));
	int tls_splits = 0;
	for (size_t split = 1; split < nlines; split++) {
		int after_tls = strstr(lines[split - 1], "TLS connection established to ") != NULL ||
		                strstr(lines[split - 1], "certificate verification failed") != NULL;
		snprintf(dbpath, sizeof dbpath, "%s/split%zu.db", dir, split);
		snprintf(log, sizeof log, "%s/split%zu.log", dir, split);
		for (size_t i = 0; i < split; i++)
			append(log, lines[i], strlen(lines[i]));
		notes n = {.len = 0};
		if (after_tls) {
			/* killed once the position after the TLS line is saved */
			acct_close(open_db(dbpath));
			pid_t pid = start_follower(dbpath, log, 2000);
			wait_caught_up(dbpath, log, log);
			kill_follower(pid);
			tls_splits++;
		} else {
			follow_once(dbpath, log, 0, 1, &n);
		}
		for (size_t i = split; i < nlines; i++)
			append(log, lines[i], strlen(lines[i]));
		follow_once(dbpath, log, 0, 1, &n);
		dump got;
		int got_pending;
		dump_db(dbpath, &got, &got_pending);
		if (got.n != ref.n || strcmp(got.buf, ref.buf) != 0 || got_pending != ref_pending)
			fail_msg("stopped after line %zu (%.60s...): events differ from one straight pass:\n--- got\n%s"
			         "--- want\n%s",
			         split, lines[split - 1], got.buf, ref.buf);
		free(got.buf);
		unlink(dbpath);
		unlink(log);
	}
	assert_true(tls_splits >= 7); /* the recording's TLS lines */
	free(ref.buf);
	tmpdir_remove(dir);
}

/* The state is per connection: a restored state is dropped when the
 * process delivers to another host, and that drop survives a restart
 * too (a later delivery back to the first host, without a new TLS line,
 * is in the clear); a "certificate verification failed" line read before
 * a restart still gives a refusal after it its precise reason. */
static void test_tls_state_host_change(void **state)
{
	(void)state;
	char dir[256], dbpath[512], refdb[512], log[512], reflog[512];
	const char *part[][3] = {
	    {"Dec  2 09:00:00 mx postfix/submission/smtpd[10]: CCCC000001: client=c[192.0.2.1], sasl_method=PLAIN, "
	     "sasl_username=acme\n",
	     "Dec  2 09:00:01 mx postfix/qmgr[11]: CCCC000001: from=<s@acme.example>, size=10, nrcpt=4 (queue "
	     "active)\n",
	     "Dec  2 09:00:02 mx postfix/smtp[77]: Verified TLS connection established to mx.a.example[192.0.2.10]:25: "
	     "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)\n"},
	    {"Dec  2 09:00:03 mx postfix/smtp[77]: CCCC000001: to=<r1@a.example>, relay=mx.a.example[192.0.2.10]:25, "
	     "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n",
	     "Dec  2 09:00:04 mx postfix/smtp[77]: CCCC000001: to=<r2@b.example>, relay=mx.b.example[192.0.2.20]:25, "
	     "delay=2, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n",
	     "Dec  2 09:00:05 mx postfix/postern-tls-verify/smtp[78]: certificate verification failed for "
	     "mx.c.example[192.0.2.30]:25: untrusted issuer /CN=Nobody\n"},
	    {"Dec  2 09:00:06 mx postfix/smtp[77]: CCCC000001: to=<r3@a.example>, relay=mx.a.example[192.0.2.10]:25, "
	     "delay=3, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n",
	     "Dec  2 09:00:06 mx postfix/postern-tls-verify/smtp[78]: CCCC000001: to=<r4@c.example>, "
	     "relay=mx.c.example[192.0.2.30]:25, delay=3, delays=0/0/0.5/0, dsn=5.7.5, status=bounced (TLS required "
	     "but not supported: Server certificate not verified)\n",
	     "Dec  2 09:00:07 mx postfix/qmgr[11]: CCCC000001: removed\n"}};
	tmpdir_make(dir, sizeof dir);
	snprintf(dbpath, sizeof dbpath, "%s/e.db", dir);
	snprintf(refdb, sizeof refdb, "%s/ref.db", dir);
	snprintf(log, sizeof log, "%s/mail.log", dir);
	snprintf(reflog, sizeof reflog, "%s/ref.log", dir);
	notes n = {.len = 0};
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 3; i++)
			append(reflog, part[k][i], strlen(part[k][i]));
	follow_once(refdb, reflog, 0, 1, &n);
	dump ref, got;
	int ref_pending, got_pending;
	dump_db(refdb, &ref, &ref_pending);
	assert_int_equal(ref.n, 4);
	assert_non_null(strstr(ref.buf, "CCCC000001 acme r1@a.example 1 "));
	assert_non_null(strstr(ref.buf, " mx.a.example[192.0.2.10]:25 TLSv1.3 TLS_AES_128_GCM_SHA256 5 0 250 ok\n"));
	assert_non_null(strstr(ref.buf, " mx.b.example[192.0.2.20]:25 - - 0 0 250 ok\n"));
	assert_null(strstr(strstr(ref.buf, "r3@a.example"), "TLSv1.3")); /* r3, the last line but r4 */
	assert_non_null(strstr(ref.buf, "r4@c.example 4 ")); /* blocked */
	assert_non_null(strstr(ref.buf, "Server certificate not verified (untrusted issuer /CN=Nobody)\n"));

	/* the same lines, the follower killed after each part once its
	 * position is saved, and restarted */
	acct_close(open_db(dbpath));
	for (int k = 0; k < 3; k++) {
		for (int i = 0; i < 3; i++)
			append(log, part[k][i], strlen(part[k][i]));
		pid_t pid = start_follower(dbpath, log, 2000);
		wait_caught_up(dbpath, log, log);
		kill_follower(pid);
	}
	dump_db(dbpath, &got, &got_pending);
	if (got.n != ref.n || strcmp(got.buf, ref.buf) != 0 || got_pending != ref_pending)
		fail_msg("events differ from one straight pass:\n--- got\n%s--- want\n%s", got.buf, ref.buf);
	free(got.buf);
	free(ref.buf);
	tmpdir_remove(dir);
}

typedef struct tls_rows {
	int n;
	int64_t max_pid[MLT_PIDS]; /* per slot, the pid of its row */
	int per_slot_max;
} tls_rows;

static int on_tls_row(const acct_smtp_tls *t, void *ctx)
{
	tls_rows *r = ctx;
	unsigned slot = (unsigned)((uint64_t)t->pid % MLT_PIDS);
	if (r->max_pid[slot] != 0)
		r->per_slot_max = 2; /* two rows for one slot */
	r->max_pid[slot] = t->pid;
	r->n++;
	return 0;
}

static tls_rows *tls_rows_of(const char *dbpath)
{
	static tls_rows r;
	memset(&r, 0, sizeof r);
	acct_db *db = open_db(dbpath);
	assert_int_equal(acct_smtp_tls_foreach(db, on_tls_row, &r), ACCT_OK);
	acct_close(db);
	return &r;
}

/* The saved TLS state is bounded: one row per slot of the correlator's
 * table (600 processes in 512 slots: 512 rows, each the slot's last
 * process), rows of two processes sharing a slot (a store written by a
 * follower with another table) are cut to the newer at the next start,
 * and states an hour old are deleted with the next batch. */
static void test_tls_state_bounded(void **state)
{
	(void)state;
	char dir[256], dbpath[512], log[512], line[512];
	tmpdir_make(dir, sizeof dir);
	snprintf(dbpath, sizeof dbpath, "%s/e.db", dir);
	snprintf(log, sizeof log, "%s/mail.log", dir);
	notes n = {.len = 0};
	for (int pid = 1000; pid < 1600; pid++) {
		int k = snprintf(line, sizeof line,
		                 "Dec  2 09:00:%02d mx postfix/smtp[%d]: Trusted TLS connection established to "
		                 "mx%d.example[192.0.2.1]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n",
		                 (pid - 1000) / 20, pid, pid);
		append(log, line, (size_t)k);
	}
	follow_once(dbpath, log, 0, 1, &n);
	tls_rows *r = tls_rows_of(dbpath);
	assert_int_equal(r->n, MLT_PIDS);
	assert_int_equal(r->per_slot_max, 0);
	for (int pid = 1000; pid < 1600; pid++) { /* each slot holds its last process */
		unsigned slot = (unsigned)pid % MLT_PIDS;
		assert_true(r->max_pid[slot] == pid || r->max_pid[slot] == pid + MLT_PIDS);
	}

	/* more rows for one slot: slot 7 holds 1543 (09:00:27); 7 (09:00:35)
	 * and 519 (09:00:38) added: the newest is kept */
	acct_db *db = open_db(dbpath);
	acct_smtp_tls two[2] = {{.pid = 7 + MLT_PIDS, .time = 1796202038, .host = "mx.a.example[192.0.2.1]:25",
	                         .established = 1, .protocol = "TLSv1.2", .tls_trust = ACCT_TRUST_UNTRUSTED},
	                        {.pid = 7, .time = 1796202035, .host = "mx.b.example[192.0.2.2]:25", .established = 1,
	                         .protocol = "TLSv1.3", .tls_trust = ACCT_TRUST_VERIFIED}};
	acct_event_batch b = {0};
	b.tls_set = two;
	b.n_tls_set = 2;
	assert_int_equal(acct_event_add(db, &b), ACCT_OK);
	acct_close(db);
	r = tls_rows_of(dbpath);
	assert_int_equal(r->n, MLT_PIDS + 2);
	assert_int_equal(r->per_slot_max, 2);
	const char *msg[] = {
	    "Dec  2 09:00:40 mx postfix/submission/smtpd[10]: DDDD000001: client=c[192.0.2.1], sasl_method=PLAIN, "
	    "sasl_username=acme\n",
	    "Dec  2 09:00:41 mx postfix/smtp[519]: DDDD000001: to=<r1@a.example>, relay=mx.a.example[192.0.2.1]:25, "
	    "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n",
	    "Dec  2 09:00:41 mx postfix/smtp[7]: DDDD000001: to=<r2@b.example>, relay=mx.b.example[192.0.2.2]:25, "
	    "delay=1, delays=0/0/0.5/0.5, dsn=2.0.0, status=sent (250 ok)\n"};
	for (int i = 0; i < 3; i++)
		append(log, msg[i], strlen(msg[i]));
	follow_once(dbpath, log, 0, 1, &n);
	r = tls_rows_of(dbpath);
	assert_int_equal(r->n, MLT_PIDS); /* 1543 and 7 deleted */
	assert_int_equal(r->per_slot_max, 0);
	assert_int_equal(r->max_pid[7], 519);
	dump d;
	int pending;
	dump_db(dbpath, &d, &pending);
	assert_int_equal(d.n, 2);
	assert_non_null(strstr(d.buf, "r1@a.example 1 "));
	assert_non_null(strstr(d.buf, " mx.a.example[192.0.2.1]:25 TLSv1.2 - 3 0 250 ok\n"));
	assert_non_null(strstr(d.buf, " mx.b.example[192.0.2.2]:25 - - 0 0 250 ok\n")); /* 7's state was cut */
	free(d.buf);

	/* an hour later, every state is stale: deleted with the next batch */
	const char *late = "Dec  2 10:01:00 mx postfix/qmgr[11]: DDDD000001: removed\n"
	                   "Dec  2 10:01:00 mx postfix/smtp[9]: DDDD000002: to=<x@c.example>, relay=c[192.0.2.3]:25, "
	                   "delay=1, dsn=2.0.0, status=sent (250 ok)\n";
	append(log, late, strlen(late));
	follow_once(dbpath, log, 0, 1, &n);
	r = tls_rows_of(dbpath);
	assert_int_equal(r->n, 0);
	tmpdir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_follow_in_process),
	    cmocka_unit_test(test_budget),
	    cmocka_unit_test(test_rotation_and_kills),
	    cmocka_unit_test(test_gzip_rotation_while_down),
	    cmocka_unit_test(test_gzip_damaged),
	    cmocka_unit_test(test_tls_state_across_restart),
	    cmocka_unit_test(test_tls_state_host_change),
	    cmocka_unit_test(test_tls_state_bounded),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	free_lines();
	return r;
}
