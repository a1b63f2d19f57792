/* The audit log: queries, order, limits, and append-only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "testutil.h"

struct seen {
	char buf[1024];
};

static int collect(const acct_audit_entry *e, void *ctx)
{
	struct seen *s = ctx;
	size_t n = strlen(s->buf);

	snprintf(s->buf + n, sizeof(s->buf) - n, "%s%lld:%s:%s:%s:%s", n ? "|" : "", (long long)e->time, e->actor,
	         e->action, e->account ? e->account : "-", e->target ? e->target : "-");
	return 0;
}

static void test_query(void **state)
{
	fixture *fx = FX(state);
	acct_audit_query q = {NULL, 0, 0, 0};
	struct seen s = {{0}};

	assert_int_equal(acct_set_actor(fx->db, "os:alice"), ACCT_OK);
	assert_int_equal(acct_account_add(fx->db, "a", NULL), ACCT_OK);
	fx->now += 10;
	assert_int_equal(acct_account_add(fx->db, "b", NULL), ACCT_OK);
	fx->now += 10;
	assert_int_equal(acct_user_add(fx->db, "a", "x@example.com", NULL), ACCT_OK);
	fx->now += 10;
	assert_int_equal(acct_audit_add(fx->db, "login.deny", "a", "x@example.com", "bad_password", "192.0.2.1"),
	                 ACCT_OK);

	assert_int_equal(acct_audit_foreach(fx->db, &q, collect, &s), ACCT_OK);
	assert_string_equal(s.buf, "1800000000:os:alice:account.add:a:-|1800000010:os:alice:account.add:b:-|"
	                           "1800000020:os:alice:user.add:a:x@example.com|"
	                           "1800000030:os:alice:login.deny:a:x@example.com");
	memset(&s, 0, sizeof(s));
	q.account = "a";
	assert_int_equal(acct_audit_foreach(fx->db, &q, collect, &s), ACCT_OK);
	assert_string_equal(s.buf, "1800000000:os:alice:account.add:a:-|1800000020:os:alice:user.add:a:x@example.com|"
	                           "1800000030:os:alice:login.deny:a:x@example.com");
	memset(&s, 0, sizeof(s));
	q.limit = 2; /* the newest two, oldest first */
	assert_int_equal(acct_audit_foreach(fx->db, &q, collect, &s), ACCT_OK);
	assert_string_equal(s.buf, "1800000020:os:alice:user.add:a:x@example.com|"
	                           "1800000030:os:alice:login.deny:a:x@example.com");
	memset(&s, 0, sizeof(s));
	q.account = NULL;
	q.limit = 0;
	q.since = 1800000010;
	q.until = 1800000020;
	assert_int_equal(acct_audit_foreach(fx->db, &q, collect, &s), ACCT_OK);
	assert_string_equal(s.buf, "1800000010:os:alice:account.add:b:-|1800000020:os:alice:user.add:a:x@example.com");
	q.limit = -1;
	assert_int_equal(acct_audit_foreach(fx->db, &q, collect, &s), ACCT_EINVAL);
}

static void test_add_validates(void **state)
{
	fixture *fx = FX(state);
	char big[2000];

	assert_int_equal(acct_audit_add(fx->db, "", NULL, NULL, NULL, NULL), ACCT_EINVAL);
	assert_int_equal(acct_audit_add(fx->db, NULL, NULL, NULL, NULL, NULL), ACCT_EINVAL);
	assert_int_equal(acct_audit_add(fx->db, "Login Deny", NULL, NULL, NULL, NULL), ACCT_EINVAL);
	assert_int_equal(acct_audit_add(fx->db, "login.deny", NULL, NULL, "two\nlines", NULL), ACCT_EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(acct_audit_add(fx->db, "login.deny", NULL, NULL, big, NULL), ACCT_EINVAL);
	assert_int_equal(audit_count(fx->db, "login.deny", NULL), 0);
}

static void test_append_only(void **state)
{
	fixture *fx = FX(state);
	sqlite3 *s = NULL;

	assert_int_equal(acct_account_add(fx->db, "a", NULL), ACCT_OK);
	assert_int_equal(sqlite3_open(fx->path, &s), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(s, "UPDATE audit SET actor = 'mallory'", NULL, NULL, NULL), SQLITE_OK);
	assert_non_null(strstr(sqlite3_errmsg(s), "append-only"));
	assert_int_not_equal(sqlite3_exec(s, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(s);
	assert_int_equal(audit_count(fx->db, "account.add", "a"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_query, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_add_validates, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_append_only, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
