/* Users and passwords. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "testutil.h"

#define PW "correct horse battery staple"

static int setup(void **state)
{
	fx_setup(state);
	assert_int_equal(acct_account_add(FX(state)->db, "acme", NULL), ACCT_OK);
	return 0;
}

static void test_add_verify(void **state)
{
	fixture *fx = FX(state);
	acct_user *u = NULL;

	assert_int_equal(acct_user_add(fx->db, "acme", "Bob@Example.COM", PW), ACCT_OK);
	assert_int_equal(acct_user_get(&u, fx->db, "bob@example.com"), ACCT_OK);
	assert_string_equal(u->email, "Bob@example.com"); /* domain lowercased, local part kept */
	assert_string_equal(u->account, "acme");
	assert_int_equal(u->has_password, 1);
	assert_int_equal(u->disabled, 0);
	assert_int_equal(u->password_changed_at, fx->now);
	acct_user_free(u);
	assert_int_equal(acct_user_verify_password(fx->db, "bob@example.com", PW), ACCT_OK);
	assert_int_equal(acct_user_verify_password(fx->db, "BOB@example.com", PW), ACCT_OK);
	assert_int_equal(acct_user_verify_password(fx->db, "bob@example.com", PW "x"), ACCT_EDENIED);
	assert_int_equal(acct_user_verify_password(fx->db, "nobody@example.com", PW), ACCT_EDENIED);
	assert_int_equal(acct_user_verify_password(fx->db, "not an email", PW), ACCT_EDENIED);
	assert_int_equal(acct_user_verify_password(fx->db, "bob@example.com", NULL), ACCT_EDENIED);
	/* Same message for every kind of no. */
	assert_string_equal(acct_errmsg(fx->db), "wrong email or password");
	assert_int_equal(audit_count(fx->db, "user.add", "acme"), 1);
}

static void test_bad_input(void **state)
{
	fixture *fx = FX(state);

	assert_int_equal(acct_user_add(fx->db, "acme", "no-at-sign", PW), ACCT_EINVAL);
	assert_int_equal(acct_user_add(fx->db, "acme", "a@b", PW), ACCT_EINVAL);
	assert_int_equal(acct_user_add(fx->db, "acme", "", PW), ACCT_EINVAL);
	assert_int_equal(acct_user_add(fx->db, "acme", NULL, PW), ACCT_EINVAL);
	assert_int_equal(acct_user_add(fx->db, "acme", "a@example.com", "short"), ACCT_EINVAL);
	assert_null(strstr(acct_errmsg(fx->db), "short")); /* the password never appears in a message */
	assert_int_equal(acct_user_add(fx->db, "acme", "a@example.com", "tab\there-and-long"), ACCT_EINVAL);
	assert_int_equal(acct_user_add(fx->db, "ghost", "a@example.com", PW), ACCT_ENOTFOUND);
	assert_int_equal(acct_user_add(fx->db, "acme", "a@example.com", PW), ACCT_OK);
	assert_int_equal(acct_user_add(fx->db, "acme", "A@EXAMPLE.com", PW), ACCT_EEXISTS);
	assert_int_equal(audit_count(fx->db, "user.add", NULL), 1);
}

struct emails {
	char buf[256];
};

static int collect(const acct_user *u, void *ctx)
{
	struct emails *e = ctx;
	size_t n = strlen(e->buf);

	snprintf(e->buf + n, sizeof(e->buf) - n, "%s%s%s", n ? "," : "", u->email, u->has_password ? "" : "*");
	return 0;
}

static void test_lifecycle(void **state)
{
	fixture *fx = FX(state);
	struct emails e = {{0}};
	acct_user *u = NULL;

	assert_int_equal(acct_user_add(fx->db, "acme", "b@example.com", NULL), ACCT_OK);
	assert_int_equal(acct_user_add(fx->db, "acme", "a@example.com", PW), ACCT_OK);
	assert_int_equal(acct_user_foreach(fx->db, "acme", collect, &e), ACCT_OK);
	assert_string_equal(e.buf, "a@example.com,b@example.com*");
	/* No password: no login, in the same way as a wrong one. */
	assert_int_equal(acct_user_verify_password(fx->db, "b@example.com", PW), ACCT_EDENIED);
	fx->now += 100;
	assert_int_equal(acct_user_set_password(fx->db, "b@example.com", PW "2"), ACCT_OK);
	assert_int_equal(acct_user_verify_password(fx->db, "b@example.com", PW "2"), ACCT_OK);
	assert_int_equal(acct_user_get(&u, fx->db, "b@example.com"), ACCT_OK);
	assert_int_equal(u->password_changed_at, fx->now);
	acct_user_free(u);
	assert_int_equal(acct_user_set_password(fx->db, "b@example.com", "short"), ACCT_EINVAL);
	assert_int_equal(acct_user_set_password(fx->db, "ghost@example.com", PW), ACCT_ENOTFOUND);
	assert_int_equal(acct_user_set_disabled(fx->db, "a@example.com", 1), ACCT_OK);
	assert_int_equal(acct_user_get(&u, fx->db, "a@example.com"), ACCT_OK);
	assert_int_equal(u->disabled, 1);
	acct_user_free(u);
	assert_int_equal(audit_count(fx->db, "user.disable", "acme"), 1);
	assert_int_equal(acct_user_set_disabled(fx->db, "a@example.com", 0), ACCT_OK);
	assert_int_equal(audit_count(fx->db, "user.enable", "acme"), 1);
	assert_int_equal(acct_user_del(fx->db, "a@example.com"), ACCT_OK);
	assert_int_equal(acct_user_del(fx->db, "a@example.com"), ACCT_ENOTFOUND);
	assert_int_equal(audit_count(fx->db, "user.passwd", "acme"), 1);
	assert_int_equal(acct_user_foreach(fx->db, "ghost", collect, &e), ACCT_ENOTFOUND);
}

static void stored_hash(const char *path, char *out, size_t len)
{
	sqlite3 *s = NULL;
	sqlite3_stmt *q = NULL;

	assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(s, "SELECT password_hash FROM user", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	snprintf(out, len, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(s);
}

/* A hash made with an older cost still verifies, and is upgraded. */
static void test_old_parameters_upgraded(void **state)
{
	fixture *fx = FX(state);
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	char before[200], after[200];
	acct_db *db = NULL;

	assert_int_equal(acct_user_add(fx->db, "acme", "a@example.com", PW), ACCT_OK);
	stored_hash(fx->path, before, sizeof(before));
	assert_non_null(strstr(before, "$scrypt$ln=10,r=8,p=1$"));
	o.scrypt_ln = 11;
	assert_int_equal(acct_open(&db, fx->path, &o), ACCT_OK);
	assert_int_equal(acct_user_verify_password(db, "a@example.com", PW "nope"), ACCT_EDENIED);
	stored_hash(fx->path, after, sizeof(after));
	assert_string_equal(before, after); /* a failed login upgrades nothing */
	assert_int_equal(acct_user_verify_password(db, "a@example.com", PW), ACCT_OK);
	stored_hash(fx->path, after, sizeof(after));
	assert_non_null(strstr(after, "$scrypt$ln=11,r=8,p=1$"));
	assert_int_equal(acct_user_verify_password(db, "a@example.com", PW), ACCT_OK);
	assert_int_equal(audit_count(db, "user.rehash", "acme"), 1);
	acct_close(db);
	o.scrypt_ln = 9;
	assert_int_equal(acct_open(&db, fx->path, &o), ACCT_EINVAL);
	acct_close(db);
}

static void test_no_clear_password_in_file(void **state)
{
	fixture *fx = FX(state);

	assert_int_equal(acct_user_add(fx->db, "acme", "a@example.com", PW), ACCT_OK);
	assert_int_equal(acct_user_set_password(fx->db, "a@example.com", "another secret phrase"), ACCT_OK);
	assert_int_equal(acct_user_verify_password(fx->db, "a@example.com", "another secret phrase"), ACCT_OK);
	acct_close(fx->db);
	fx->db = NULL;
	assert_true(file_contains(fx->path, "a@example.com", 13)); /* the search works */
	assert_false(file_contains(fx->path, PW, strlen(PW)));
	assert_false(file_contains(fx->path, "another secret phrase", 21));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_verify, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_old_parameters_upgraded, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_clear_password_in_file, setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
