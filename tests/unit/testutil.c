/* Shared test fixtures; see testutil.h. */
#include <dirent.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

static int64_t fx_clock(void *ctx)
{
	return ((fixture *)ctx)->now;
}

void tmpdir_make(char *out, size_t len)
{
	const char *base = getenv("TMPDIR");

	snprintf(out, len, "%s/postern-test-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(out));
}

void tmpdir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

acct_db *fx_open(fixture *fx)
{
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	acct_db *db = NULL;
	int r;

	o.scrypt_ln = 10;
	o.clock = fx_clock;
	o.clock_ctx = fx;
	o.actor = "test";
	r = acct_open(&db, fx->path, &o);
	if (r != ACCT_OK)
		fail_msg("acct_open(%s): %s", fx->path, acct_errmsg(db));
	return db;
}

int fx_setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	tmpdir_make(fx->dir, sizeof(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/postern.db", fx->dir);
	fx->now = 1800000000; /* 2027-01-15T08:00:00Z */
	fx->db = fx_open(fx);
	*state = fx;
	return 0;
}

int fx_teardown(void **state)
{
	fixture *fx = *state;

	acct_close(fx->db);
	tmpdir_remove(fx->dir);
	free(fx);
	return 0;
}

static int contains_in(const char *path, const void *needle, size_t n)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long size;
	int found = 0;

	if (f == NULL)
		return 0;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	if (fread(buf, 1, (size_t)size, f) == (size_t)size)
		found = memmem(buf, (size_t)size, needle, n) != NULL;
	free(buf);
	fclose(f);
	return found;
}

int file_contains(const char *path, const void *needle, size_t n)
{
	char wal[600];

	snprintf(wal, sizeof(wal), "%s-wal", path);
	return contains_in(path, needle, n) || contains_in(wal, needle, n);
}

struct count_ctx {
	const char *action;
	const char *account;
	int n;
	char *buf;
	size_t len;
};

static int count_cb(const acct_audit_entry *e, void *ctx)
{
	struct count_ctx *c = ctx;

	if (strcmp(e->action, c->action) != 0)
		return 0;
	if (c->account && (e->account == NULL || strcmp(e->account, c->account) != 0))
		return 0;
	c->n++;
	if (c->buf)
		snprintf(c->buf, c->len, "%s", e->detail ? e->detail : "");
	return 0;
}

int audit_count(acct_db *db, const char *action, const char *account)
{
	struct count_ctx c = {action, account, 0, NULL, 0};

	assert_int_equal(acct_audit_foreach(db, NULL, count_cb, &c), ACCT_OK);
	return c.n;
}

const char *audit_last_detail(acct_db *db, const char *action, char *buf, size_t len)
{
	struct count_ctx c = {action, NULL, 0, buf, len};

	buf[0] = '\0';
	assert_int_equal(acct_audit_foreach(db, NULL, count_cb, &c), ACCT_OK);
	return buf;
}
