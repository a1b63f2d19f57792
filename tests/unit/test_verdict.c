/*
 * The SMTP AUTH decision: every reason for a no, the audit record of
 * each, and a temporary failure (never a deny) when the store is busy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "db_internal.h"
#include "testutil.h"

#define PW "correct horse battery staple"

static int setup(void **state)
{
	fixture *fx;
	acct_apikey *k = NULL;

	fx_setup(state);
	fx = FX(state);
	assert_int_equal(acct_account_add(fx->db, "acme", NULL), ACCT_OK);
	assert_int_equal(acct_apikey_add(&k, fx->key, fx->db, "acme", "prod", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	memcpy(fx->key_id, k->id, sizeof(fx->key_id));
	acct_apikey_free(k);
	return 0;
}

static acct_verdict decide(fixture *fx, const char *user, const char *pass, const char *addr)
{
	acct_verdict v;

	assert_int_equal(acct_auth_decide(&v, fx->db, user, pass, addr), ACCT_OK);
	return v;
}

static void expect_deny(fixture *fx, const char *user, const char *pass, const char *addr, acct_reason why)
{
	acct_verdict v = decide(fx, user, pass, addr);
	char detail[64];

	if (v.kind != ACCT_DENY || v.reason != why)
		fail_msg("expected deny %s, got kind %d reason %s", acct_reason_code(why), v.kind,
		         acct_reason_code(v.reason));
	assert_string_equal(v.account, "");
	assert_string_equal(audit_last_detail(fx->db, "auth.deny", detail, sizeof(detail)), acct_reason_code(why));
}

static void test_allow(void **state)
{
	fixture *fx = FX(state);
	acct_verdict v = decide(fx, "apikey", FX(state)->key, "192.0.2.1");
	acct_apikey *k = NULL;

	assert_int_equal(v.kind, ACCT_ALLOW);
	assert_int_equal(v.reason, ACCT_R_OK);
	assert_string_equal(v.account, "acme");
	assert_string_equal(v.key_id, FX(state)->key_id);
	/* Usage is recorded, at most once a minute. */
	assert_int_equal(acct_apikey_get(&k, fx->db, FX(state)->key_id), ACCT_OK);
	assert_int_equal(k->last_used_at, fx->now);
	acct_apikey_free(k);
	v = decide(fx, "APIKEY", FX(state)->key, NULL);
	assert_int_equal(v.kind, ACCT_ALLOW);
	assert_int_equal(audit_count(fx->db, "auth.deny", NULL), 0);
}

/* A key with the given id and any secret, with a correct checksum:
 * what an attacker who knows an id could make. */
static void forge(char out[ACCT_KEY_MAX + 1], const char *id)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char h[SHA256_DIGEST_LENGTH];
	uint32_t c;
	size_t n;

	n = (size_t)snprintf(out, ACCT_KEY_MAX + 1, "pstn_%s_", id);
	for (int i = 0; i < 44; i++)
		out[n++] = 'Q';
	SHA256((const unsigned char *)out, n, h);
	c = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	for (int i = 5; i >= 0; i--) {
		out[n + (size_t)i] = b62[c % 62];
		c /= 62;
	}
	out[n + 6] = '\0';
}

static void test_key_reasons(void **state)
{
	fixture *fx = FX(state);
	char bad[ACCT_KEY_MAX + 1];

	expect_deny(fx, "apikey", "hunter2", NULL, ACCT_R_MALFORMED_KEY);
	expect_deny(fx, "apikey", "", NULL, ACCT_R_MALFORMED_KEY);
	memcpy(bad, FX(state)->key, sizeof(bad));
	bad[30] = bad[30] == 'a' ? 'b' : 'a';
	expect_deny(fx, "apikey", bad, NULL, ACCT_R_BAD_CHECKSUM);
	forge(bad, "AAAAAAAAAAAA");
	expect_deny(fx, "apikey", bad, NULL, ACCT_R_UNKNOWN_KEY);
	forge(bad, FX(state)->key_id);
	expect_deny(fx, "apikey", bad, NULL, ACCT_R_WRONG_SECRET);
	/* Trailing whitespace is not silently forgiven. */
	snprintf(bad, sizeof(bad), "%s", FX(state)->key);
	bad[ACCT_KEY_MAX - 1] = ' ';
	expect_deny(fx, "apikey", bad, NULL, ACCT_R_MALFORMED_KEY);
}

static void test_revoked_expired_scope(void **state)
{
	fixture *fx = FX(state);
	char key[ACCT_KEY_MAX + 1];
	acct_verdict v;

	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "acme", "short", ACCT_SCOPE_MAIL_SEND, fx->now + 60),
	                 ACCT_OK);
	v = decide(fx, "apikey", key, NULL);
	assert_int_equal(v.kind, ACCT_ALLOW);
	fx->now += 60;
	expect_deny(fx, "apikey", key, NULL, ACCT_R_EXPIRED);
	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "acme", "admin", ACCT_SCOPE_KEYS_WRITE, 0), ACCT_OK);
	expect_deny(fx, "apikey", key, NULL, ACCT_R_MISSING_SCOPE);
	assert_int_equal(acct_apikey_revoke(fx->db, FX(state)->key_id), ACCT_OK);
	expect_deny(fx, "apikey", FX(state)->key, NULL, ACCT_R_REVOKED);
}

static void test_account_state(void **state)
{
	fixture *fx = FX(state);
	acct_account_opts sub = {"acme", 0, 0};
	char key[ACCT_KEY_MAX + 1];
	acct_verdict v;

	assert_int_equal(acct_account_add(fx->db, "acme-dev", &sub), ACCT_OK);
	assert_int_equal(acct_apikey_add(NULL, key, fx->db, "acme-dev", "dev", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	v = decide(fx, "apikey", key, NULL);
	assert_int_equal(v.kind, ACCT_ALLOW);
	assert_string_equal(v.account, "acme-dev");
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_DISABLED, 1), ACCT_OK);
	expect_deny(fx, "apikey", FX(state)->key, NULL, ACCT_R_ACCOUNT_DISABLED);
	expect_deny(fx, "apikey", key, NULL, ACCT_R_PARENT_DISABLED);
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_DISABLED, 0), ACCT_OK);
	assert_int_equal(decide(fx, "apikey", key, NULL).kind, ACCT_ALLOW);
}

struct last {
	char address[64], target[64], detail[64];
};

static int last_cb(const acct_audit_entry *e, void *ctx)
{
	struct last *l = ctx;

	if (l->address[0] == '\0') {
		snprintf(l->address, sizeof(l->address), "%s", e->address ? e->address : "");
		snprintf(l->target, sizeof(l->target), "%s", e->target ? e->target : "");
		snprintf(l->detail, sizeof(l->detail), "%s", e->detail ? e->detail : "");
	}
	return 0;
}

static void test_ip_allowlist(void **state)
{
	fixture *fx = FX(state);
	char addr[64];

	assert_int_equal(acct_ip_add(fx->db, "acme", "192.0.2.0/24", NULL), ACCT_OK);
	assert_int_equal(decide(fx, "apikey", FX(state)->key, "192.0.2.9").kind, ACCT_ALLOW);
	assert_int_equal(decide(fx, "apikey", FX(state)->key, "::ffff:192.0.2.9").kind, ACCT_ALLOW);
	expect_deny(fx, "apikey", FX(state)->key, "198.51.100.1", ACCT_R_IP_NOT_ALLOWED);
	expect_deny(fx, "apikey", FX(state)->key, "not-an-address", ACCT_R_BAD_ADDRESS);
	/* The audit record names the address and the key, never the secret. */
	{
		acct_audit_query q = {"acme", 0, 0, 1};
		struct last seen = {{0}, {0}, {0}};

		assert_int_equal(acct_audit_foreach(fx->db, &q, last_cb, &seen), ACCT_OK);
		assert_string_equal(seen.address, "not-an-address");
		assert_string_equal(seen.target, FX(state)->key_id);
		assert_string_equal(seen.detail, "bad_address");
	}
	snprintf(addr, sizeof(addr), "%s", "198.51.100.1");
	assert_int_equal(acct_ip_del(fx->db, "acme", "192.0.2.0/24"), ACCT_OK);
	assert_int_equal(decide(fx, "apikey", FX(state)->key, addr).kind, ACCT_ALLOW);
}

static void test_password_logins(void **state)
{
	fixture *fx = FX(state);
	acct_verdict v;

	assert_int_equal(acct_user_add(fx->db, "acme", "bob@example.com", PW), ACCT_OK);
	expect_deny(fx, "nobody@example.com", PW, NULL, ACCT_R_UNKNOWN_USER);
	expect_deny(fx, "bob@example.com", "wrong password!", NULL, ACCT_R_BAD_PASSWORD);
	/* Off by default, even with the right password. */
	expect_deny(fx, "bob@example.com", PW, NULL, ACCT_R_PASSWORD_AUTH_OFF);
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_SMTP_PASSWORD_AUTH, 1), ACCT_OK);
	v = decide(fx, "bob@example.com", PW, "192.0.2.1");
	assert_int_equal(v.kind, ACCT_ALLOW);
	assert_string_equal(v.account, "acme");
	assert_string_equal(v.key_id, "");
	/* 2FA accounts never take SMTP passwords. */
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_REQUIRE_2FA, 1), ACCT_OK);
	expect_deny(fx, "bob@example.com", PW, NULL, ACCT_R_2FA_REQUIRED);
	assert_int_equal(acct_account_set_flag(fx->db, "acme", ACCT_ACCOUNT_REQUIRE_2FA, 0), ACCT_OK);
	assert_int_equal(acct_user_set_disabled(fx->db, "bob@example.com", 1), ACCT_OK);
	expect_deny(fx, "bob@example.com", PW, NULL, ACCT_R_USER_DISABLED);
}

static void test_account_check(void **state)
{
	fixture *fx = FX(state);
	acct_verdict v;

	assert_int_equal(acct_account_check(&v, fx->db, "acme", "192.0.2.1"), ACCT_OK);
	assert_int_equal(v.kind, ACCT_ALLOW);
	assert_int_equal(acct_ip_add(fx->db, "acme", "10.0.0.0/8", NULL), ACCT_OK);
	assert_int_equal(acct_account_check(&v, fx->db, "acme", "192.0.2.1"), ACCT_OK);
	assert_int_equal(v.kind, ACCT_DENY);
	assert_int_equal(v.reason, ACCT_R_IP_NOT_ALLOWED);
	assert_int_equal(audit_count(fx->db, "rcpt.deny", "acme"), 1);
	assert_int_equal(acct_account_check(&v, fx->db, "ghost", "10.0.0.1"), ACCT_OK);
	assert_int_equal(v.reason, ACCT_R_UNKNOWN_ACCOUNT);
	assert_int_equal(acct_account_check(NULL, fx->db, "acme", NULL), ACCT_EINVAL);
}

/* The administrator's check: same answers, nothing recorded or changed. */
static void test_apikey_verify(void **state)
{
	fixture *fx = FX(state);
	acct_apikey *k = NULL;
	acct_verdict v;
	char bad[ACCT_KEY_MAX + 1];

	assert_int_equal(acct_ip_add(fx->db, "acme", "10.0.0.0/8", NULL), ACCT_OK);
	assert_int_equal(acct_apikey_verify(&v, fx->db, fx->key), ACCT_OK);
	assert_int_equal(v.kind, ACCT_ALLOW);
	assert_string_equal(v.account, "acme");
	assert_string_equal(v.key_id, fx->key_id);
	assert_int_equal(acct_apikey_get(&k, fx->db, fx->key_id), ACCT_OK);
	assert_int_equal(k->last_used_at, 0);
	acct_apikey_free(k);
	forge(bad, fx->key_id);
	assert_int_equal(acct_apikey_verify(&v, fx->db, bad), ACCT_OK);
	assert_int_equal(v.kind, ACCT_DENY);
	assert_int_equal(v.reason, ACCT_R_WRONG_SECRET);
	assert_int_equal(acct_apikey_revoke(fx->db, fx->key_id), ACCT_OK);
	assert_int_equal(acct_apikey_verify(&v, fx->db, fx->key), ACCT_OK);
	assert_int_equal(v.reason, ACCT_R_REVOKED);
	assert_int_equal(audit_count(fx->db, "auth.deny", NULL), 0);
	assert_int_equal(acct_apikey_verify(NULL, fx->db, fx->key), ACCT_EINVAL);
}

static void test_reason_texts(void **state)
{
	(void)state;
	for (int r = ACCT_R_OK; r <= ACCT_R_KEY_FILE; r++) {
		assert_string_not_equal(acct_reason_code((acct_reason)r), "unknown");
		assert_string_not_equal(acct_reason_text((acct_reason)r), "unknown reason");
	}
	assert_string_equal(acct_reason_code((acct_reason)999), "unknown");
	assert_string_equal(acct_reason_code(ACCT_R_REVOKED), "revoked");
}

/* The root pages of the tables the verdict reads, and of their indexes. */
static int table_pages(const char *path, long pages[16])
{
	sqlite3 *s = NULL;
	sqlite3_stmt *q = NULL;
	int n = 0;

	assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(s, "SELECT rootpage FROM sqlite_schema WHERE tbl_name IN "
	                                       "('account', 'api_key', 'user', 'ip_allow') AND rootpage > 0",
	                                    -1, &q, NULL),
	                 SQLITE_OK);
	while (n < 16 && sqlite3_step(q) == SQLITE_ROW)
		pages[n++] = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(s);
	return n;
}

/* The store cannot answer (here: the pages of its tables are corrupt):
 * the answer is "try again later", never "no". */
static void test_store_unavailable_is_tempfail(void **state)
{
	fixture *fx = FX(state);
	unsigned char junk[4096];
	long pages[16];
	acct_verdict v;
	FILE *f;
	int n;

	acct_close(fx->db); /* the last close checkpoints the WAL into the file */
	fx->db = NULL;
	n = table_pages(fx->path, pages);
	assert_true(n >= 4);
	memset(junk, 0xa5, sizeof(junk));
	f = fopen(fx->path, "r+b");
	assert_non_null(f);
	for (int i = 0; i < n; i++) {
		assert_int_equal(fseek(f, (pages[i] - 1) * 4096, SEEK_SET), 0);
		assert_int_equal(fwrite(junk, 1, sizeof(junk), f), sizeof(junk));
	}
	fclose(f);
	fx->db = fx_open(fx);
	assert_int_equal(acct_auth_decide(&v, fx->db, "apikey", fx->key, "192.0.2.1"), ACCT_OK);
	assert_int_equal(v.kind, ACCT_TEMPFAIL);
	assert_int_equal(v.reason, ACCT_R_STORE_UNAVAILABLE);
	assert_int_equal(acct_auth_decide(&v, fx->db, "bob@example.com", "some password", NULL), ACCT_OK);
	assert_int_equal(v.kind, ACCT_TEMPFAIL);
	assert_int_equal(acct_account_check(&v, fx->db, "acme", NULL), ACCT_OK);
	assert_int_equal(v.kind, ACCT_TEMPFAIL);
	/* and the library says why */
	assert_int_equal(acct_ip_check(fx->db, "acme", "192.0.2.1"), ACCT_EUNAVAIL);
	assert_non_null(strstr(acct_errmsg(fx->db), "corrupt"));
}

/* An AUTH reads the key, then records its use in a later transaction:
 * a revoke committed in between (by the shell, through another handle)
 * must survive that write, and last_used_at never moves back. */
static void test_use_after_concurrent_revoke(void **state)
{
	fixture *fx = FX(state);
	acct_db *other = fx_open(fx);
	acct_apikey *k = NULL;
	rec_key rec;

	assert_int_equal(STORE(fx->db)->key_get(fx->db->st, fx->key_id, &rec), ACCT_OK);
	assert_int_equal(rec.revoked_at, 0);
	assert_int_equal(acct_apikey_revoke(other, fx->key_id), ACCT_OK);
	assert_int_equal(STORE(fx->db)->begin(fx->db->st), ACCT_OK);
	assert_int_equal(STORE(fx->db)->key_touch(fx->db->st, rec.id, fx->now + 100), ACCT_OK);
	assert_int_equal(STORE(fx->db)->key_touch(fx->db->st, rec.id, fx->now + 50), ACCT_OK);
	assert_int_equal(STORE(fx->db)->commit(fx->db->st), ACCT_OK);
	assert_int_equal(acct_apikey_get(&k, other, fx->key_id), ACCT_OK);
	assert_int_not_equal(k->revoked_at, 0);
	assert_int_equal(k->last_used_at, fx->now + 100);
	acct_apikey_free(k);
	acct_close(other);
}

/* Deferred writes: a good AUTH's last_used_at waits for acct_flush (or
 * close), in one transaction for every key, and is never lost. */
static void test_deferred_last_used(void **state)
{
	fixture *fx = FX(state);
	acct_db *other = fx_open(fx);
	acct_apikey *k = NULL;
	char key2[ACCT_KEY_MAX + 1];
	char id2[ACCT_KEY_ID_MAX + 1];
	acct_verdict v;

	assert_int_equal(acct_apikey_add(&k, key2, fx->db, "acme", "second", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	memcpy(id2, k->id, sizeof(id2));
	acct_apikey_free(k);
	assert_int_equal(acct_set_deferred_writes(fx->db, 1), ACCT_OK);
	assert_int_equal(acct_flush(fx->db), ACCT_OK); /* nothing to write */
	v = decide(fx, "apikey", fx->key, "192.0.2.1");
	assert_int_equal(v.kind, ACCT_ALLOW);
	fx->now += 5;
	v = decide(fx, "apikey", key2, "192.0.2.1");
	assert_int_equal(v.kind, ACCT_ALLOW);
	assert_int_equal(acct_apikey_get(&k, other, fx->key_id), ACCT_OK);
	assert_int_equal(k->last_used_at, 0); /* not yet written */
	acct_apikey_free(k);
	assert_int_equal(acct_flush(fx->db), ACCT_OK);
	assert_int_equal(acct_apikey_get(&k, other, fx->key_id), ACCT_OK);
	assert_int_equal(k->last_used_at, fx->now - 5);
	acct_apikey_free(k);
	assert_int_equal(acct_apikey_get(&k, other, id2), ACCT_OK);
	assert_int_equal(k->last_used_at, fx->now);
	acct_apikey_free(k);
	/* A use still pending when the handle closes is written then. */
	fx->now += 120;
	v = decide(fx, "apikey", key2, "192.0.2.1");
	assert_int_equal(v.kind, ACCT_ALLOW);
	acct_close(fx->db);
	fx->db = fx_open(fx);
	assert_int_equal(acct_apikey_get(&k, other, id2), ACCT_OK);
	assert_int_equal(k->last_used_at, fx->now);
	acct_apikey_free(k);
	/* Off again: written at once. */
	assert_int_equal(acct_set_deferred_writes(fx->db, 0), ACCT_OK);
	fx->now += 120;
	v = decide(fx, "apikey", fx->key, "192.0.2.1");
	assert_int_equal(acct_apikey_get(&k, other, fx->key_id), ACCT_OK);
	assert_int_equal(k->last_used_at, fx->now);
	acct_apikey_free(k);
	assert_int_equal(acct_set_deferred_writes(NULL, 1), ACCT_EINVAL);
	assert_int_equal(acct_flush(NULL), ACCT_EINVAL);
	acct_close(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_allow, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_key_reasons, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_revoked_expired_scope, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_use_after_concurrent_revoke, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_deferred_last_used, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_account_state, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ip_allowlist, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_password_logins, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_account_check, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_apikey_verify, setup, fx_teardown),
		cmocka_unit_test(test_reason_texts),
		cmocka_unit_test_setup_teardown(test_store_unavailable_is_tempfail, setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
