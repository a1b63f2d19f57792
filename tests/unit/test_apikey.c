/* API keys: creation, listing, revocation, scopes and expiry text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

static int setup(void **state)
{
	fx_setup(state);
	assert_int_equal(acct_account_add(FX(state)->db, "acme", NULL), ACCT_OK);
	return 0;
}

static void test_create_shape(void **state)
{
	fixture *fx = FX(state);
	char key[ACCT_KEY_MAX + 1];
	acct_apikey *k = NULL, *g = NULL;
	char detail[200];

	assert_int_equal(acct_apikey_add(&k, key, fx->db, "acme", "prod", ACCT_SCOPE_MAIL_SEND | ACCT_SCOPE_KEYS_READ,
	                                 fx->now + 86400),
	                 ACCT_OK);
	assert_int_equal(strlen(key), ACCT_KEY_MAX);
	assert_memory_equal(key, "pstn_", 5);
	assert_memory_equal(key + 5, k->id, ACCT_KEY_ID_MAX);
	assert_int_equal(key[5 + ACCT_KEY_ID_MAX], '_');
	assert_string_equal(k->account, "acme");
	assert_string_equal(k->name, "prod");
	assert_int_equal(k->scopes, ACCT_SCOPE_MAIL_SEND | ACCT_SCOPE_KEYS_READ);
	assert_int_equal(k->expires_at, fx->now + 86400);
	assert_int_equal(k->created_at, fx->now);
	assert_int_equal(k->revoked_at, 0);
	assert_int_equal(acct_apikey_get(&g, fx->db, k->id), ACCT_OK);
	assert_string_equal(g->id, k->id);
	acct_apikey_free(g);
	/* The id also works with the prefix, as people paste it. */
	snprintf(detail, sizeof(detail), "pstn_%s", k->id);
	assert_int_equal(acct_apikey_get(&g, fx->db, detail), ACCT_OK);
	acct_apikey_free(g);
	audit_last_detail(fx->db, "apikey.add", detail, sizeof(detail));
	assert_string_equal(detail, "name=prod scopes=mail.send,keys.read expires=1800086400");
	assert_null(strstr(detail, key + 18)); /* no secret in the audit log */
	acct_apikey_free(k);
}

static void test_bad_input(void **state)
{
	fixture *fx = FX(state);
	char key[ACCT_KEY_MAX + 1];
	acct_apikey *k = (acct_apikey *)1;

	assert_int_equal(acct_apikey_add(&k, key, fx->db, "acme", "x", 0, 0), ACCT_EINVAL);
	assert_null(k);
	assert_string_equal(key, "");
	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "acme", "x", 1u << 20, 0), ACCT_EINVAL);
	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "acme", "", ACCT_SCOPE_MAIL_SEND, 0), ACCT_EINVAL);
	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "acme", NULL, ACCT_SCOPE_MAIL_SEND, 0), ACCT_EINVAL);
	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "acme", "x", ACCT_SCOPE_MAIL_SEND, fx->now), ACCT_EINVAL);
	assert_string_equal(acct_errmsg(fx->db), "the expiry is in the past");
	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "ghost", "x", ACCT_SCOPE_MAIL_SEND, 0), ACCT_ENOTFOUND);
	assert_int_equal(acct_apikey_get(&k, fx->db, "short"), ACCT_EINVAL);
	assert_int_equal(acct_apikey_get(&k, fx->db, "AAAAAAAAAAAA"), ACCT_ENOTFOUND);
	assert_int_equal(acct_apikey_revoke(fx->db, "AAAAAAAAAAAA"), ACCT_ENOTFOUND);
	assert_int_equal(audit_count(fx->db, "apikey.add", NULL), 0);
}

struct keys {
	char buf[512];
};

static int collect(const acct_apikey *k, void *ctx)
{
	struct keys *c = ctx;
	size_t n = strlen(c->buf);

	snprintf(c->buf + n, sizeof(c->buf) - n, "%s%s%s", n ? "," : "", k->name, k->revoked_at ? "(revoked)" : "");
	return 0;
}

static void test_names_revoke_reuse(void **state)
{
	fixture *fx = FX(state);
	char key[ACCT_KEY_MAX + 1];
	struct keys c = {{0}};
	acct_apikey *k = NULL;

	assert_int_equal(acct_apikey_add(&k, key, fx->db, "acme", "prod", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "acme", "prod", ACCT_SCOPE_MAIL_SEND, 0), ACCT_EEXISTS);
	assert_string_equal(acct_errmsg(fx->db),
	                    "account 'acme' already has a key named 'prod'; revoke it or choose another name");
	assert_int_equal(acct_apikey_revoke(fx->db, k->id), ACCT_OK);
	assert_int_equal(acct_apikey_revoke(fx->db, k->id), ACCT_ECONFLICT);
	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "acme", "prod", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	assert_int_equal(acct_apikey_foreach(fx->db, "acme", collect, &c), ACCT_OK);
	assert_string_equal(c.buf, "prod(revoked),prod");
	assert_int_equal(audit_count(fx->db, "apikey.revoke", "acme"), 1);
	acct_apikey_free(k);
}

static void test_scopes_text(void **state)
{
	fixture *fx = FX(state);
	unsigned int s = 0;
	char buf[200];

	assert_int_equal(acct_scopes_parse(&s, fx->db, "keys.write,mail.send"), ACCT_OK);
	assert_int_equal(s, ACCT_SCOPE_KEYS_WRITE | ACCT_SCOPE_MAIL_SEND);
	assert_int_equal(acct_scopes_format(buf, sizeof(buf), s), ACCT_OK);
	assert_string_equal(buf, "mail.send,keys.write");
	assert_int_equal(acct_scopes_parse(&s, fx->db, "mail.sned"), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "mail.sned"));
	assert_int_equal(acct_scopes_parse(&s, fx->db, ""), ACCT_EINVAL);
}

static void test_expiry_text(void **state)
{
	fixture *fx = FX(state);
	int64_t t = -1;

	assert_int_equal(acct_expiry_parse(&t, fx->db, "90d"), ACCT_OK);
	assert_int_equal(t, fx->now + 90 * 86400);
	assert_int_equal(acct_expiry_parse(&t, fx->db, "never"), ACCT_OK);
	assert_int_equal(t, 0);
	assert_int_equal(acct_expiry_parse(&t, fx->db, "2027-01-31"), ACCT_OK);
	assert_int_equal(t, 1801440000); /* 2027-02-01T00:00:00Z: valid through the 31st */
	assert_int_equal(acct_expiry_parse(&t, fx->db, "2020-01-01"), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(fx->db), "past"));
	assert_int_equal(acct_expiry_parse(&t, fx->db, "90x"), ACCT_EINVAL);
	assert_int_equal(acct_since_parse(&t, fx->db, "1h"), ACCT_OK);
	assert_int_equal(t, fx->now - 3600);
}

static void test_no_secret_in_file(void **state)
{
	fixture *fx = FX(state);
	char key[ACCT_KEY_MAX + 1];
	acct_apikey *k = NULL;

	assert_int_equal(acct_apikey_add(&k, key, fx->db, "acme", "prod", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	acct_close(fx->db);
	fx->db = NULL;
	assert_true(file_contains(fx->path, k->id, ACCT_KEY_ID_MAX)); /* the search works */
	assert_false(file_contains(fx->path, key, strlen(key)));
	/* nor the secret part alone, nor any 16-character piece of it */
	for (size_t off = 5 + ACCT_KEY_ID_MAX + 1; off + 16 <= strlen(key); off += 8)
		assert_false(file_contains(fx->path, key + off, 16));
	acct_apikey_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_shape, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_names_revoke_reuse, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_scopes_text, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_expiry_text, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_secret_in_file, setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
