/* Accounts, subaccounts and TLS settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static void test_add_get(void **state)
{
	fixture *fx = FX(state);
	acct_account *a = NULL;
	acct_account_opts o = {NULL, 1, 0};

	assert_int_equal(acct_account_add(fx->db, "acme", &o), ACCT_OK);
	assert_int_equal(acct_account_get(&a, fx->db, "acme"), ACCT_OK);
	assert_string_equal(a->name, "acme");
	assert_null(a->parent);
	assert_int_equal(a->disabled, 0);
	assert_int_equal(a->require_2fa, 1);
	assert_int_equal(a->smtp_password_auth, 0);
	assert_int_equal(a->tls.mode, ACCT_TLS_OPPORTUNISTIC);
	assert_int_equal(a->tls.require_valid_cert, 0);
	assert_int_equal(a->tls.min_version, 12);
	assert_int_equal(a->created_at, fx->now);
	acct_account_free(a);
	assert_int_equal(audit_count(fx->db, "account.add", "acme"), 1);
}

static void test_bad_names(void **state)
{
	fixture *fx = FX(state);
	static const char *const bad[] = {"", "Acme", ".acme", "-a", "a b", "a/b", "é",
	                                  "a123456789012345678901234567890123456789012345678901234567890123"};
	acct_account *a = (acct_account *)1;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(acct_account_add(fx->db, bad[i], NULL), ACCT_EINVAL);
		assert_true(strlen(acct_errmsg(fx->db)) > 0);
	}
	assert_int_equal(acct_account_add(fx->db, NULL, NULL), ACCT_EINVAL);
	assert_int_equal(acct_account_add(fx->db, "a12345678901234567890123456789012345678901234567890123456789012", NULL),
	                 ACCT_OK);
	assert_int_equal(acct_account_add(fx->db, "a.b_c-d", NULL), ACCT_OK);
	assert_int_equal(acct_account_get(&a, fx->db, "nope"), ACCT_ENOTFOUND);
	assert_null(a);
	assert_string_equal(acct_errmsg(fx->db), "no account named 'nope'");
	assert_int_equal(audit_count(fx->db, "account.add", NULL), 2);
}

static void test_duplicate_is_atomic(void **state)
{
	fixture *fx = FX(state);

	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_OK);
	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_EEXISTS);
	assert_string_equal(acct_errmsg(fx->db), "an account named 'acme' already exists");
	/* The failed add left nothing behind, not even its audit record. */
	assert_int_equal(audit_count(fx->db, "account.add", NULL), 1);
}

struct names {
	char buf[512];
	int n;
};

static int collect(const acct_account *a, void *ctx)
{
	struct names *c = ctx;
	size_t len = strlen(c->buf);

	snprintf(c->buf + len, sizeof(c->buf) - len, "%s%s(%s)", c->n++ ? "," : "", a->name,
	         a->parent ? a->parent : "-");
	return 0;
}

static int stop_at_two(const acct_account *a, void *ctx)
{
	(void)a;
	return ++*(int *)ctx == 2 ? 42 : 0;
}

static void test_subaccounts(void **state)
{
	fixture *fx = FX(state);
	acct_account_opts sub = {"acme", 0, 0};
	acct_account_opts subsub = {"acme-dev", 0, 0};
	acct_account_opts ghost = {"ghost", 0, 0};
	acct_tls enforced = {ACCT_TLS_ENFORCED, 1, 13};
	struct names all = {{0}, 0}, kids = {{0}, 0};
	acct_account *a = NULL;
	int count = 0;

	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_OK);
	assert_int_equal(acct_tls_set(fx->db, "acme", &enforced), ACCT_OK);
	assert_int_equal(acct_account_add(fx->db, "acme-dev", &sub), ACCT_OK);
	assert_int_equal(acct_account_add(fx->db, "zeta", NULL), ACCT_OK);
	assert_int_equal(acct_account_add(fx->db, "nested", &subsub), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "is itself a subaccount"));
	assert_int_equal(acct_account_add(fx->db, "orphan", &ghost), ACCT_ENOTFOUND);

	assert_int_equal(acct_account_get(&a, fx->db, "acme-dev"), ACCT_OK);
	assert_string_equal(a->parent, "acme");
	/* A subaccount starts with its parent's TLS requirement. */
	assert_int_equal(a->tls.mode, ACCT_TLS_ENFORCED);
	assert_int_equal(a->tls.require_valid_cert, 1);
	assert_int_equal(a->tls.min_version, 13);
	acct_account_free(a);

	assert_int_equal(acct_account_foreach(fx->db, NULL, collect, &all), ACCT_OK);
	assert_string_equal(all.buf, "acme(-),acme-dev(acme),zeta(-)");
	assert_int_equal(acct_account_foreach(fx->db, "acme", collect, &kids), ACCT_OK);
	assert_string_equal(kids.buf, "acme-dev(acme)");
	assert_int_equal(acct_account_foreach(fx->db, NULL, stop_at_two, &count), 42);
	assert_int_equal(acct_account_foreach(fx->db, "ghost", collect, &kids), ACCT_ENOTFOUND);

	assert_int_equal(acct_account_del(fx->db, "acme"), ACCT_ECONFLICT);
	assert_string_equal(acct_errmsg(fx->db), "'acme' has 1 subaccount; delete it first");
	assert_int_equal(acct_account_del(fx->db, "acme-dev"), ACCT_OK);
	assert_int_equal(acct_account_del(fx->db, "acme"), ACCT_OK);
	assert_int_equal(acct_account_del(fx->db, "acme"), ACCT_ENOTFOUND);
	assert_int_equal(audit_count(fx->db, "account.delete", NULL), 2);
}

static void test_flags(void **state)
{
	fixture *fx = FX(state);
	acct_account *a = NULL;
	char detail[128];

	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_OK);
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_DISABLED, 1), ACCT_OK);
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_REQUIRE_2FA, 1), ACCT_OK);
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_SMTP_PASSWORD_AUTH, 1), ACCT_OK);
	assert_int_equal(acct_account_get(&a, fx->db, "acme"), ACCT_OK);
	assert_int_equal(a->disabled, 1);
	assert_int_equal(a->require_2fa, 1);
	assert_int_equal(a->smtp_password_auth, 1);
	acct_account_free(a);
	assert_int_equal(audit_count(fx->db, "account.disable", "acme"), 1);
	assert_string_equal(audit_last_detail(fx->db, "account.set", detail, sizeof(detail)),
	                    "smtp_password_auth: off -> on");
	/* Setting what is already set changes and records nothing. */
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_DISABLED, 1), ACCT_OK);
	assert_int_equal(audit_count(fx->db, "account.disable", "acme"), 1);
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_DISABLED, 0), ACCT_OK);
	assert_int_equal(audit_count(fx->db, "account.enable", "acme"), 1);
	assert_int_equal(acct_account_set_flag(fx->db, "acme", (acct_account_flag)99, 1), ACCT_EINVAL);
	assert_int_equal(acct_account_set_flag(fx->db, "ghost", ACCT_ACCOUNT_DISABLED, 1), ACCT_ENOTFOUND);
}

static void test_tls(void **state)
{
	fixture *fx = FX(state);
	acct_tls t, bad;
	acct_tls_mode m;
	char detail[200];

	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_OK);
	assert_int_equal(acct_tls_get(&t, fx->db, "acme"), ACCT_OK);
	assert_int_equal(t.mode, ACCT_TLS_OPPORTUNISTIC);
	t.mode = ACCT_TLS_ENFORCED;
	t.require_valid_cert = 1;
	t.min_version = 13;
	assert_int_equal(acct_tls_set(fx->db, "acme", &t), ACCT_OK);
	memset(&t, 0, sizeof(t));
	assert_int_equal(acct_tls_get(&t, fx->db, "acme"), ACCT_OK);
	assert_int_equal(t.mode, ACCT_TLS_ENFORCED);
	assert_int_equal(t.require_valid_cert, 1);
	assert_int_equal(t.min_version, 13);
	assert_string_equal(audit_last_detail(fx->db, "tls.set", detail, sizeof(detail)),
	                    "mode=opportunistic require_valid_cert=off min_version=1.2 -> "
	                    "mode=enforced require_valid_cert=on min_version=1.3");

	bad = t;
	bad.min_version = 11;
	assert_int_equal(acct_tls_set(fx->db, "acme", &bad), ACCT_EINVAL);
	assert_string_equal(acct_errmsg(fx->db), "minimum TLS version must be 1.2 or 1.3");
	bad = t;
	bad.mode = (acct_tls_mode)7;
	assert_int_equal(acct_tls_set(fx->db, "acme", &bad), ACCT_EINVAL);
	bad = t;
	bad.mode = ACCT_TLS_NONE;
	assert_int_equal(acct_tls_set(fx->db, "acme", &bad), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "cannot be on with mode none"));
	assert_int_equal(acct_tls_set(fx->db, "ghost", &t), ACCT_ENOTFOUND);
	assert_int_equal(audit_count(fx->db, "tls.set", NULL), 1);

	assert_int_equal(acct_tls_mode_parse(&m, "none"), ACCT_OK);
	assert_int_equal(m, ACCT_TLS_NONE);
	assert_int_equal(acct_tls_mode_parse(&m, "Enforced"), ACCT_EINVAL);
	assert_string_equal(acct_tls_mode_name(ACCT_TLS_ENFORCED), "enforced");
}

static void test_delete_cascades(void **state)
{
	fixture *fx = FX(state);
	char key[ACCT_KEY_MAX + 1];
	acct_apikey *k = NULL;
	acct_user *u = NULL;
	char id[ACCT_KEY_ID_MAX + 1];

	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_OK);
	assert_int_equal(acct_user_add(fx->db, "acme", "a@example.com", NULL), ACCT_OK);
	assert_int_equal(acct_apikey_add(&k, key, fx->db, "acme", "prod", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	memcpy(id, k->id, sizeof(id));
	acct_apikey_free(k);
	assert_int_equal(acct_ip_add(fx->db, "acme", "192.0.2.0/24", NULL), ACCT_OK);
	assert_int_equal(acct_account_del(fx->db, "acme"), ACCT_OK);
	assert_int_equal(acct_user_get(&u, fx->db, "a@example.com"), ACCT_ENOTFOUND);
	assert_int_equal(acct_apikey_get(&k, fx->db, id), ACCT_ENOTFOUND);
	/* The name is free again, with none of the old data. */
	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_OK);
	assert_int_equal(acct_ip_check(fx->db, "acme", "198.51.100.1"), ACCT_OK);
	/* History outlives the account. */
	assert_int_equal(audit_count(fx->db, "apikey.add", "acme"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_get, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_is_atomic, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_subaccounts, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_flags, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_delete_cascades, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
