/*
 * Two-factor authentication: enrollment (URI, QR, key file), the RFC
 * 6238 vectors through the library, interop with the real oathtool,
 * replay, lockout and its audit, recovery codes, master key rotation,
 * wrong and missing key files, no secret in the database file, bad
 * input, and the whole login check.  The clock is the fixture's: no
 * test sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <liboath/oath.h>

#include "db_internal.h"
#include "masterkey.h"
#include "qr.h"
#include "testutil.h"

#define PW "correct horse battery staple"
#define ALICE "alice@example.com"
#define BOB "bob@example.com"
#define RFC_SECRET "12345678901234567890"

typedef struct tfx {
	fixture fx;
	char key_file[400];
	acct_db *db; /* with the key file in the fixture's directory */
} tfx;

static int64_t clock_of(void *ctx)
{
	return ((fixture *)ctx)->now;
}

static acct_db *open_with(tfx *t, int digits, int window, const char *issuer)
{
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	acct_db *db = NULL;

	o.scrypt_ln = 10;
	o.clock = clock_of;
	o.clock_ctx = &t->fx;
	o.actor = "test";
	o.key_file = t->key_file;
	o.totp_digits = digits;
	o.totp_window = window;
	o.totp_issuer = issuer;
	if (acct_open(&db, t->fx.path, &o) != ACCT_OK)
		fail_msg("acct_open: %s", acct_errmsg(db));
	return db;
}

static int setup(void **state)
{
	tfx *t;

	fx_setup(state);
	t = realloc(*state, sizeof(*t));
	assert_non_null(t);
	*state = t;
	snprintf(t->key_file, sizeof(t->key_file), "%s/master.key", t->fx.dir);
	t->db = open_with(t, 0, -1, NULL);
	assert_int_equal(acct_account_add(t->db, "acme", NULL), ACCT_OK);
	assert_int_equal(acct_user_add(t->db, "acme", ALICE, PW), ACCT_OK);
	assert_int_equal(acct_user_add(t->db, "acme", BOB, PW), ACCT_OK);
	return 0;
}

static int teardown(void **state)
{
	tfx *t = *state;

	acct_close(t->db);
	return fx_teardown(state);
}

#define T(state) ((tfx *)*(state))

/* The code of `secret` at time `when`, computed by liboath directly. */
static void code_at(char out[9], const char *secret, size_t len, int64_t when, int digits)
{
	assert_int_equal(oath_totp_generate(secret, len, (time_t)when, 30, 0, (unsigned)digits, out), OATH_OK);
}

/* Enroll, put the RFC secret in, confirm at fx.now. */
static void enable_known(tfx *t, acct_db *db, const char *email, acct_recovery_codes *codes)
{
	acct_2fa_enrollment *e = NULL;
	acct_recovery_codes local;
	acct_reason why;
	char code[9];

	assert_int_equal(acct_2fa_enroll(&e, db, email, NULL, 0), ACCT_OK);
	acct_2fa_enrollment_free(e);
	assert_int_equal(acct__2fa_set_secret(db, email, (const unsigned char *)RFC_SECRET, 20), ACCT_OK);
	code_at(code, RFC_SECRET, 20, t->fx.now, db->totp_digits);
	assert_int_equal(acct_2fa_confirm(codes ? codes : &local, &why, db, email, code), ACCT_OK);
}

/* Verify the RFC-secret code of `when` (against the clock at fx.now). */
static int verify_at(tfx *t, const char *email, int64_t when, acct_reason *why)
{
	char code[9];

	code_at(code, RFC_SECRET, 20, when, 6);
	return acct_2fa_verify(why, t->db, email, code);
}

static void test_enroll(void **state)
{
	tfx *t = T(state);
	acct_2fa_enrollment *e = NULL;
	acct_2fa_info info;
	char want[512], *qr;
	struct stat sb;
	acct_db *db2;

	assert_int_equal(access(t->key_file, F_OK), -1);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.state, ACCT_2FA_NONE);

	assert_int_equal(acct_2fa_enroll(&e, t->db, ALICE, NULL, 0), ACCT_OK);
	assert_int_equal(strlen(e->secret), 32); /* 160 bits in base32 */
	assert_int_equal(strspn(e->secret, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 32);
	snprintf(want, sizeof(want),
	         "otpauth://totp/Postern:alice%%40example.com?secret=%s"
	         "&issuer=Postern&algorithm=SHA1&digits=6&period=30",
	         e->secret);
	assert_string_equal(e->uri, want);
	qr = qr_render(e->uri, 0);
	assert_string_equal(e->qr, qr);
	free(qr);
	acct_2fa_enrollment_free(e);

	/* The key file was made on first use, 0600. */
	assert_int_equal(stat(t->key_file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.state, ACCT_2FA_PENDING);
	assert_int_equal(info.recovery_codes_left, 0);
	assert_int_equal(audit_count(t->db, "2fa.enroll", "acme"), 1);

	/* ASCII, another issuer: percent-encoded in the label and the parameter. */
	db2 = open_with(t, 8, -1, "ACME Mail & Co/€");
	assert_int_equal(acct_2fa_enroll(&e, db2, BOB, NULL, ACCT_QR_ASCII), ACCT_OK);
	snprintf(want, sizeof(want),
	         "otpauth://totp/ACME%%20Mail%%20%%26%%20Co%%2F%%E2%%82%%AC:bob%%40example.com?secret=%s"
	         "&issuer=ACME%%20Mail%%20%%26%%20Co%%2F%%E2%%82%%AC&algorithm=SHA1&digits=8&period=30",
	         e->secret);
	assert_string_equal(e->uri, want);
	qr = qr_render(e->uri, ACCT_QR_ASCII);
	assert_string_equal(e->qr, qr);
	assert_non_null(strstr(e->qr, "##"));
	free(qr);
	acct_2fa_enrollment_free(e);
	assert_int_equal(acct_2fa_enroll(&e, db2, BOB, NULL, 0x80), ACCT_EINVAL);
	assert_null(e);
	acct_close(db2);

	/* Re-enrolling a pending user replaces the secret. */
	assert_int_equal(acct_2fa_enroll(&e, t->db, ALICE, NULL, 0), ACCT_OK);
	acct_2fa_enrollment_free(e);
	assert_int_equal(audit_count(t->db, "2fa.enroll", "acme"), 3);
	assert_int_equal(acct_2fa_enroll(&e, t->db, "nobody@example.com", NULL, 0), ACCT_ENOTFOUND);
	assert_int_equal(acct_2fa_enroll(NULL, t->db, ALICE, NULL, 0), ACCT_EINVAL);
	acct_2fa_enrollment_free(NULL);
}

static void test_options(void **state)
{
	tfx *t = T(state);
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	acct_db *db = NULL;

	o.totp_digits = 7;
	assert_int_equal(acct_open(&db, t->fx.path, &o), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(db), "totp_digits"));
	acct_close(db);
	o.totp_digits = 0;
	o.totp_period = 5;
	assert_int_equal(acct_open(&db, t->fx.path, &o), ACCT_EINVAL);
	acct_close(db);
	o.totp_period = 0;
	o.totp_window = 6;
	assert_int_equal(acct_open(&db, t->fx.path, &o), ACCT_EINVAL);
	acct_close(db);
	o.totp_window = -1;
	o.totp_issuer = "";
	assert_int_equal(acct_open(&db, t->fx.path, &o), ACCT_EINVAL);
	acct_close(db);
	/* $POSTERN_KEY_FILE when the option is NULL, then the default */
	o.totp_issuer = NULL;
	setenv("POSTERN_KEY_FILE", "/tmp/postern-env.key", 1);
	assert_int_equal(acct_open(&db, t->fx.path, &o), ACCT_OK);
	assert_string_equal(db->key_file, "/tmp/postern-env.key");
	assert_int_equal(db->totp_window, 1);
	assert_int_equal(db->totp_digits, 6);
	assert_int_equal(db->totp_period, 30);
	acct_close(db);
	unsetenv("POSTERN_KEY_FILE");
	assert_int_equal(acct_open(&db, t->fx.path, &o), ACCT_OK);
	assert_string_equal(db->key_file, ACCT_DEFAULT_KEY_FILE);
	acct_close(db);
}

/* RFC 6238 Appendix B, SHA1, 8 digits. */
static const struct {
	int64_t time;
	const char *code;
} rfc[] = {
	{59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
	{1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"},
};

static void test_rfc6238_vectors(void **state)
{
	tfx *t = T(state);
	acct_2fa_enrollment *e = NULL;
	acct_recovery_codes codes;
	acct_reason why;
	int64_t step;
	acct_db *db8;

	/* The matcher itself. */
	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		assert_int_equal(acct__totp_match((const unsigned char *)RFC_SECRET, 20, 8, 30, 0, rfc[i].time,
		                                  rfc[i].code, &step),
		                 1);
		assert_int_equal(step, rfc[i].time / 30);
		assert_int_equal(acct__totp_match((const unsigned char *)RFC_SECRET, 20, 8, 30, 0, rfc[i].time + 30,
		                                  rfc[i].code, &step),
		                 0);
	}
	/* The whole library path: sealed secret, confirm, verify, replay state. */
	db8 = open_with(t, 8, -1, NULL);
	assert_int_equal(acct_2fa_enroll(&e, db8, ALICE, NULL, 0), ACCT_OK);
	assert_non_null(strstr(e->uri, "&digits=8&"));
	acct_2fa_enrollment_free(e);
	assert_int_equal(acct__2fa_set_secret(db8, ALICE, (const unsigned char *)RFC_SECRET, 20), ACCT_OK);
	t->fx.now = rfc[0].time;
	assert_int_equal(acct_2fa_confirm(&codes, &why, db8, ALICE, "94287083"), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_BAD_CODE);
	assert_int_equal(acct_2fa_confirm(&codes, &why, db8, ALICE, rfc[0].code), ACCT_OK);
	for (size_t i = 1; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		t->fx.now = rfc[i].time;
		if (acct_2fa_verify(&why, db8, ALICE, rfc[i].code) != ACCT_OK)
			fail_msg("T=%lld: %s (%s)", (long long)rfc[i].time, acct_errmsg(db8), acct_reason_code(why));
	}
	/* 6 digits are refused for an 8-digit enrollment */
	t->fx.now += 60;
	assert_int_equal(acct_2fa_verify(&why, db8, ALICE, "123456"), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_BAD_CODE);
	acct_close(db8);
}

/* oathtool's code for `secret` at fx.now + offset. */
static void oathtool(char out[16], const char *secret, int64_t when)
{
	char cmd[256], ts[64];
	time_t tt = (time_t)when;
	struct tm tm;
	FILE *p;
	size_t n;

	assert_non_null(gmtime_r(&tt, &tm));
	assert_true(strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S UTC", &tm) > 0);
	snprintf(cmd, sizeof(cmd), "oathtool --totp -b '%s' --now '%s'", secret, ts);
	p = popen(cmd, "r");
	assert_non_null(p);
	out[0] = '\0';
	assert_non_null(fgets(out, 16, p));
	assert_int_equal(pclose(p), 0);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	assert_int_equal(n, 6);
}

static void test_oathtool_interop(void **state)
{
	tfx *t = T(state);
	acct_2fa_enrollment *e = NULL;
	acct_recovery_codes codes;
	char prev[16], cur[16], next[16], minus2[16], plus2[16], secret[64];
	acct_reason why;
	acct_2fa_info info;
	int64_t now = t->fx.now;

	assert_int_equal(acct_2fa_enroll(&e, t->db, ALICE, NULL, 0), ACCT_OK);
	snprintf(secret, sizeof(secret), "%s", e->secret);
	acct_2fa_enrollment_free(e);
	oathtool(prev, secret, now - 30);
	oathtool(cur, secret, now);
	oathtool(next, secret, now + 30);
	oathtool(minus2, secret, now - 60);
	oathtool(plus2, secret, now + 60);

	/* ±2 steps: outside the default window */
	assert_int_equal(acct_2fa_confirm(&codes, &why, t->db, ALICE, minus2), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_BAD_CODE);
	assert_int_equal(acct_2fa_confirm(&codes, &why, t->db, ALICE, plus2), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_BAD_CODE);
	/* previous, current, next: accepted, each newer than the last */
	assert_int_equal(acct_2fa_confirm(&codes, &why, t->db, ALICE, prev), ACCT_OK);
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, cur), ACCT_OK);
	/* the same code twice: refused, even inside the window */
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, cur), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_CODE_REPLAYED);
	/* an older step than the last accepted one: refused too */
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, prev), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_CODE_REPLAYED);
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, next), ACCT_OK);
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, next), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_CODE_REPLAYED);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.state, ACCT_2FA_ENABLED);
	assert_int_equal(info.enabled_at, now);
	assert_int_equal(info.failures, 1); /* the good code reset the count; one replay since */
	assert_int_equal(audit_count(t->db, "2fa.enable", "acme"), 1);
	assert_int_equal(audit_count(t->db, "2fa.fail", "acme"), 5);
	/* A wider window accepts ±2. */
	{
		acct_db *wide = open_with(t, 0, 2, NULL);

		t->fx.now = now + 60;
		oathtool(plus2, secret, now + 120);
		assert_int_equal(acct_2fa_verify(&why, wide, ALICE, plus2), ACCT_OK);
		acct_close(wide);
	}
}

static void test_lockout(void **state)
{
	tfx *t = T(state);
	acct_2fa_info info;
	acct_reason why;
	char detail[128];

	enable_known(t, t->db, ALICE, NULL);
	t->fx.now += 30;
	for (int i = 1; i <= 5; i++) {
		assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, "000000"), ACCT_EDENIED);
		assert_int_equal(why, ACCT_R_BAD_CODE);
	}
	assert_int_equal(audit_count(t->db, "2fa.fail", "acme"), 5);
	assert_int_equal(audit_count(t->db, "2fa.lockout", "acme"), 1);
	assert_string_equal(audit_last_detail(t->db, "2fa.lockout", detail, sizeof(detail)),
	                    "locked for 30 s after 5 consecutive failures");
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.failures, 5);
	assert_int_equal(info.locked_until, t->fx.now + 30);

	/* Locked: even the right code is refused, and that is audited. */
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_LOCKED_OUT);
	assert_int_equal(audit_count(t->db, "2fa.fail", "acme"), 6);
	t->fx.now += 29;
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_LOCKED_OUT);

	/* After the interval: one more failure doubles the lock. */
	t->fx.now += 1;
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, "000000"), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_BAD_CODE);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.locked_until, t->fx.now + 60);
	assert_string_equal(audit_last_detail(t->db, "2fa.lockout", detail, sizeof(detail)),
	                    "locked for 60 s after 6 consecutive failures");

	/* Unlocked by time, a good code resets everything. */
	t->fx.now += 60;
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_OK);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.failures, 0);
	assert_int_equal(info.locked_until, 0);

	/* The lock grows to at most an hour. */
	for (int i = 0; i < 20; i++) {
		t->fx.now += 3600;
		assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, "000000"), ACCT_EDENIED);
	}
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.locked_until, t->fx.now + 3600);
	/* Bob is not affected. */
	assert_int_equal(acct_2fa_status(&info, t->db, BOB), ACCT_OK);
	assert_int_equal(info.failures, 0);
}

static int recovery_shaped(const char *c)
{
	if (strlen(c) != ACCT_RECOVERY_CODE_LEN || c[5] != '-')
		return 0;
	for (int i = 0; i < ACCT_RECOVERY_CODE_LEN; i++)
		if (i != 5 && !strchr("abcdefghijklmnopqrstuvwxyz234567", c[i]))
			return 0;
	return 1;
}

static void test_recovery_codes(void **state)
{
	tfx *t = T(state);
	acct_recovery_codes codes, fresh;
	acct_2fa_info info;
	acct_reason why;
	char typed[32], detail[64];

	enable_known(t, t->db, ALICE, &codes);
	for (int i = 0; i < ACCT_RECOVERY_CODES; i++) {
		assert_true(recovery_shaped(codes.code[i]));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(codes.code[i], codes.code[j]);
		assert_false(file_contains(t->fx.path, codes.code[i], ACCT_RECOVERY_CODE_LEN));
	}
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.recovery_codes_left, 10);

	/* Each works once. */
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, codes.code[0]), ACCT_OK);
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, codes.code[0]), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_BAD_CODE);
	assert_int_equal(audit_count(t->db, "2fa.recovery_used", "acme"), 1);
	assert_string_equal(audit_last_detail(t->db, "2fa.recovery_used", detail, sizeof(detail)),
	                    "9 recovery codes left");
	/* Any case, with or without the dash, with spaces. */
	for (int i = 0; i < ACCT_RECOVERY_CODE_LEN; i++)
		typed[i] = (char)(codes.code[1][i] >= 'a' && codes.code[1][i] <= 'z' ? codes.code[1][i] - 32
		                                                                     : codes.code[1][i]);
	typed[ACCT_RECOVERY_CODE_LEN] = '\0';
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, typed), ACCT_OK);
	snprintf(typed, sizeof(typed), "%.5s%.5s", codes.code[2], codes.code[2] + 6);
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, typed), ACCT_OK);
	snprintf(typed, sizeof(typed), " %.5s %.5s ", codes.code[3], codes.code[3] + 6);
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, typed), ACCT_OK);
	/* Malformed ones */
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, "abcde-fghi1"), ACCT_EDENIED);
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, "abc-defghij"), ACCT_EDENIED);
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, NULL), ACCT_EDENIED);
	/* Another user's code does not work for Bob. */
	enable_known(t, t->db, BOB, NULL);
	assert_int_equal(acct_2fa_recover(&why, t->db, BOB, codes.code[4]), ACCT_EDENIED);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.recovery_codes_left, 6);

	/* A good code resets the failure count before the lockout. */
	t->fx.now += 30;
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_OK);

	/* Regenerating invalidates the old set. */
	assert_int_equal(acct_2fa_recovery_regenerate(&fresh, t->db, ALICE, "000000"), ACCT_EDENIED);
	assert_int_equal(acct_2fa_recovery_regenerate(&fresh, t->db, ALICE, NULL), ACCT_OK);
	assert_string_equal(audit_last_detail(t->db, "2fa.recovery_regenerate", detail, sizeof(detail)),
	                    "by an administrator");
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, codes.code[5]), ACCT_EDENIED);
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, fresh.code[0]), ACCT_OK);
	/* With a recovery code as proof. */
	assert_int_equal(acct_2fa_recovery_regenerate(&codes, t->db, ALICE, fresh.code[1]), ACCT_OK);
	assert_string_equal(audit_last_detail(t->db, "2fa.recovery_regenerate", detail, sizeof(detail)),
	                    "by the user");
	assert_int_equal(acct_2fa_recover(&why, t->db, ALICE, fresh.code[2]), ACCT_EDENIED);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.recovery_codes_left, 10);
	/* Not for a user without 2FA */
	assert_int_equal(acct_2fa_recover(&why, t->db, "nobody@example.com", codes.code[0]), ACCT_ENOTFOUND);
	acct_wipe(&codes, sizeof(codes));
	acct_wipe(&fresh, sizeof(fresh));
}

static void test_reenroll_disable(void **state)
{
	tfx *t = T(state);
	acct_2fa_enrollment *e = NULL;
	acct_recovery_codes codes;
	acct_2fa_info info;
	acct_reason why;
	char code[9];

	enable_known(t, t->db, ALICE, &codes);
	/* An enabled secret is replaced only with proof. */
	assert_int_equal(acct_2fa_enroll(&e, t->db, ALICE, NULL, 0), ACCT_EDENIED);
	assert_null(e);
	assert_int_equal(acct_2fa_enroll(&e, t->db, ALICE, "111111", 0), ACCT_EDENIED);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.state, ACCT_2FA_ENABLED);
	assert_int_equal(info.failures, 1); /* the wrong proof counted */
	assert_int_equal(acct_2fa_enroll(&e, t->db, ALICE, codes.code[0], 0), ACCT_OK);
	acct_2fa_enrollment_free(e);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.state, ACCT_2FA_PENDING);
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, "123456"), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_2FA_NOT_ENABLED);

	/* disable by the user, with a code */
	enable_known(t, t->db, BOB, NULL);
	t->fx.now += 30;
	assert_int_equal(acct_2fa_disable(t->db, BOB, "000000"), ACCT_EDENIED);
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	assert_int_equal(acct_2fa_disable(t->db, BOB, code), ACCT_OK);
	assert_int_equal(acct_2fa_status(&info, t->db, BOB), ACCT_OK);
	assert_int_equal(info.state, ACCT_2FA_NONE);
	assert_int_equal(audit_count(t->db, "2fa.disable", "acme"), 1);
	assert_int_equal(acct_2fa_disable(t->db, BOB, NULL), ACCT_ECONFLICT);
	/* an administrator's reset */
	assert_int_equal(acct_2fa_disable(t->db, ALICE, NULL), ACCT_OK);
	assert_int_equal(audit_count(t->db, "2fa.reset", "acme"), 1);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.state, ACCT_2FA_NONE);
	/* confirm needs a pending enrollment */
	assert_int_equal(acct_2fa_confirm(&codes, &why, t->db, ALICE, "123456"), ACCT_ECONFLICT);
}

/* The key file's lines. */
static int key_lines(const char *path, char first_id[32])
{
	char line[256];
	FILE *f = fopen(path, "r");
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (n == 0)
			snprintf(first_id, 32, "%.16s", line + strlen("postern-master-key v1 "));
		n++;
	}
	fclose(f);
	return n;
}

static void test_rotate(void **state)
{
	tfx *t = T(state);
	char before[32], after[32], detail[128];
	acct_reason why;
	struct stat sb;

	enable_known(t, t->db, ALICE, NULL);
	enable_known(t, t->db, BOB, NULL);
	assert_int_equal(key_lines(t->key_file, before), 1);
	assert_int_equal(acct_2fa_rotate_key(t->db), ACCT_OK);
	assert_int_equal(key_lines(t->key_file, after), 1); /* the old key is gone */
	assert_string_not_equal(before, after);
	assert_int_equal(stat(t->key_file, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(audit_count(t->db, "2fa.rotate", NULL), 1);
	snprintf(detail, sizeof(detail), "2 secrets re-encrypted under key %s", after);
	assert_string_equal(audit_last_detail(t->db, "2fa.rotate", detail + 64, 64), detail);
	/* Secrets still verify. */
	t->fx.now += 30;
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_OK);
	assert_int_equal(verify_at(t, BOB, t->fx.now, &why), ACCT_OK);
	/* Twice more, and new enrollments use the new key. */
	assert_int_equal(acct_2fa_rotate_key(t->db), ACCT_OK);
	assert_int_equal(acct_2fa_rotate_key(t->db), ACCT_OK);
	t->fx.now += 30;
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_OK);
	assert_int_equal(key_lines(t->key_file, after), 1);
}

/* Replace the key file with another, valid one. */
static void other_key_file(const char *path)
{
	char err[MK_ERR_MAX];
	mk_ring r;

	memset(&r, 0, sizeof(r));
	assert_int_equal(mk_generate(&r.keys[0]), 0);
	r.n = 1;
	assert_int_equal(mk_write(path, &r, err, sizeof(err)), ACCT_OK);
	mk_wipe(&r);
}

static void copy_file(const char *from, const char *to)
{
	char buf[4096];
	FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
	size_t n;

	assert_non_null(a);
	assert_non_null(b);
	n = fread(buf, 1, sizeof(buf), a);
	assert_int_equal(fwrite(buf, 1, n, b), n);
	fclose(a);
	fclose(b);
	chmod(to, 0600);
}

static void test_wrong_or_missing_key_file(void **state)
{
	tfx *t = T(state);
	acct_2fa_enrollment *e = NULL;
	char saved[450], other_id[32], id_after[32];
	acct_2fa_info info;
	acct_reason why;
	acct_verdict v;

	enable_known(t, t->db, ALICE, NULL);
	snprintf(saved, sizeof(saved), "%s.saved", t->key_file);
	copy_file(t->key_file, saved);
	t->fx.now += 30;

	/* another key */
	other_key_file(t->key_file);
	assert_int_equal(key_lines(t->key_file, other_id), 1);
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_EINVAL);
	assert_int_equal(why, ACCT_R_KEY_FILE);
	assert_non_null(strstr(acct_errmsg(t->db), t->key_file));
	assert_int_equal(acct_2fa_rotate_key(t->db), ACCT_EINVAL);
	assert_non_null(strstr(acct_errmsg(t->db), t->key_file));
	/* the failed rotation left the file as it was */
	assert_int_equal(key_lines(t->key_file, id_after), 1);
	assert_string_equal(id_after, other_id);
	assert_int_equal(audit_count(t->db, "2fa.rotate", NULL), 0);
	assert_int_equal(acct_login_check(&v, t->db, ALICE, PW, "123456", NULL), ACCT_OK);
	assert_int_equal(v.kind, ACCT_TEMPFAIL);
	assert_int_equal(v.reason, ACCT_R_KEY_FILE);

	/* missing: a clear error, and verifying does not create one */
	unlink(t->key_file);
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_EUNAVAIL);
	assert_int_equal(why, ACCT_R_KEY_FILE);
	assert_non_null(strstr(acct_errmsg(t->db), t->key_file));
	assert_int_equal(access(t->key_file, F_OK), -1);
	assert_int_equal(acct_2fa_rotate_key(t->db), ACCT_EUNAVAIL);
	assert_int_equal(access(t->key_file, F_OK), -1);

	/* open to others: refused */
	copy_file(saved, t->key_file);
	chmod(t->key_file, 0644);
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_EPERM);
	assert_non_null(strstr(acct_errmsg(t->db), t->key_file));
	assert_int_equal(acct_2fa_enroll(&e, t->db, BOB, NULL, 0), ACCT_EPERM);
	assert_null(e);
	chmod(t->key_file, 0600);

	/* nothing changed meanwhile: no failure counted, the code of now still unused */
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.failures, 0);
	assert_int_equal(acct_2fa_status(&info, t->db, BOB), ACCT_OK);
	assert_int_equal(info.state, ACCT_2FA_NONE);
	assert_int_equal(verify_at(t, ALICE, t->fx.now, &why), ACCT_OK);
	unlink(saved);
}

static void test_no_secret_in_database(void **state)
{
	tfx *t = T(state);
	acct_2fa_enrollment *e = NULL;
	acct_recovery_codes codes;
	char *raw = NULL, code[9];
	size_t rawlen = 0;
	acct_reason why;

	assert_int_equal(acct_2fa_enroll(&e, t->db, ALICE, NULL, 0), ACCT_OK);
	assert_int_equal(oath_base32_decode(e->secret, strlen(e->secret), &raw, &rawlen), OATH_OK);
	assert_int_equal(rawlen, 20);
	code_at(code, raw, rawlen, t->fx.now, 6);
	assert_int_equal(acct_2fa_confirm(&codes, &why, t->db, ALICE, code), ACCT_OK);
	assert_false(file_contains(t->fx.path, e->secret, strlen(e->secret)));
	assert_false(file_contains(t->fx.path, raw, rawlen));
	assert_false(file_contains(t->fx.path, raw, 8)); /* not even a part */
	/* after a rotation either */
	assert_int_equal(acct_2fa_rotate_key(t->db), ACCT_OK);
	assert_false(file_contains(t->fx.path, e->secret, strlen(e->secret)));
	assert_false(file_contains(t->fx.path, raw, rawlen));
	acct_wipe(raw, rawlen);
	free(raw);
	acct_2fa_enrollment_free(e);
}

static void test_bad_input(void **state)
{
	tfx *t = T(state);
	acct_reason why;
	char code[9], spaced[16], *huge;

	enable_known(t, t->db, ALICE, NULL);
	t->fx.now += 30;
	/* "123 456", as apps show it, is accepted */
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	snprintf(spaced, sizeof(spaced), "%.3s %s", code, code + 3);
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, spaced), ACCT_OK);

	t->fx.now += 30;
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	huge = malloc(100001);
	assert_non_null(huge);
	memset(huge, '1', 100000);
	huge[100000] = '\0';
	{
		char shorter[16], longer[16], letters[16], tab[16];
		const char *bad[] = {NULL,     "",       " ",      shorter,        longer, letters,
		                     tab,      "12345a", "-12345", "１２３４５６", huge};

		snprintf(shorter, sizeof(shorter), "%.5s", code);
		snprintf(longer, sizeof(longer), "%.6s0", code);
		snprintf(letters, sizeof(letters), "%.5sx", code);
		snprintf(tab, sizeof(tab), "%.3s\t%.3s", code, code + 3);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			/* stay below the lockout */
			if (i % 4 == 3) {
				t->fx.now += 30;
				code_at(code, RFC_SECRET, 20, t->fx.now, 6);
				assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, code), ACCT_OK);
			}
			assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, bad[i]), ACCT_EDENIED);
			assert_int_equal(why, ACCT_R_BAD_CODE);
		}
	}
	/* 64 bytes of spaces and a code: still fine; 65: refused before any work */
	t->fx.now += 30;
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	memset(huge, ' ', 58);
	memcpy(huge + 58, code, 6);
	huge[64] = '\0';
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, huge), ACCT_OK);
	t->fx.now += 30;
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	memset(huge, ' ', 59);
	memcpy(huge + 59, code, 6);
	huge[65] = '\0';
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, huge), ACCT_EDENIED);
	free(huge);
	assert_int_equal(acct_2fa_verify(&why, NULL, ALICE, "123456"), ACCT_EINVAL);
	assert_int_equal(acct_2fa_verify(NULL, t->db, ALICE, "12"), ACCT_EDENIED);
	assert_int_equal(acct_2fa_verify(&why, t->db, NULL, "123456"), ACCT_EINVAL);
	assert_int_equal(acct_2fa_verify(&why, t->db, "nobody@example.com", "123456"), ACCT_ENOTFOUND);
}

static acct_verdict login(tfx *t, const char *email, const char *pw, const char *code, const char *addr)
{
	acct_verdict v;

	assert_int_equal(acct_login_check(&v, t->db, email, pw, code, addr), ACCT_OK);
	return v;
}

#define EXPECT_DENY(v, why)                                                                                  \
	do {                                                                                                 \
		acct_verdict v_ = (v);                                                                       \
		if (v_.kind != ACCT_DENY || v_.reason != (why))                                              \
			fail_msg("expected deny %s, got kind %d %s", acct_reason_code(why), v_.kind,          \
			         acct_reason_code(v_.reason));                                               \
	} while (0)

static void test_login_check(void **state)
{
	tfx *t = T(state);
	acct_recovery_codes codes;
	acct_verdict v;
	char code[9], detail[64];

	/* no 2FA, not required */
	v = login(t, ALICE, PW, NULL, "192.0.2.1");
	assert_int_equal(v.kind, ACCT_ALLOW);
	assert_string_equal(v.account, "acme");
	EXPECT_DENY(login(t, ALICE, PW "x", NULL, NULL), ACCT_R_BAD_PASSWORD);
	EXPECT_DENY(login(t, "nobody@example.com", PW, NULL, NULL), ACCT_R_UNKNOWN_USER);

	/* required: users without enabled 2FA are refused, with a reason that says so */
	assert_int_equal(acct_account_set_flag(t->db, "acme", ACCT_ACCOUNT_REQUIRE_2FA, 1), ACCT_OK);
	EXPECT_DENY(login(t, ALICE, PW, NULL, NULL), ACCT_R_2FA_NOT_ENROLLED);
	EXPECT_DENY(login(t, ALICE, PW, "123456", NULL), ACCT_R_2FA_NOT_ENROLLED);
	assert_string_equal(audit_last_detail(t->db, "login.deny", detail, sizeof(detail)), "2fa_not_enrolled");

	enable_known(t, t->db, ALICE, &codes);
	EXPECT_DENY(login(t, ALICE, PW, NULL, NULL), ACCT_R_CODE_REQUIRED);
	EXPECT_DENY(login(t, ALICE, PW, "", NULL), ACCT_R_CODE_REQUIRED);
	t->fx.now += 30;
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	/* the password comes first: a good code with a bad password is not used up */
	EXPECT_DENY(login(t, ALICE, PW "x", code, NULL), ACCT_R_BAD_PASSWORD);
	EXPECT_DENY(login(t, ALICE, PW, "000000", NULL), ACCT_R_BAD_CODE);
	v = login(t, ALICE, PW, code, "192.0.2.1");
	assert_int_equal(v.kind, ACCT_ALLOW);
	EXPECT_DENY(login(t, ALICE, PW, code, NULL), ACCT_R_CODE_REPLAYED);
	/* a recovery code instead of a TOTP code */
	v = login(t, ALICE, PW, codes.code[0], NULL);
	assert_int_equal(v.kind, ACCT_ALLOW);
	EXPECT_DENY(login(t, ALICE, PW, codes.code[0], NULL), ACCT_R_BAD_CODE);
	assert_int_equal(audit_count(t->db, "2fa.recovery_used", "acme"), 1);

	/* then the account's state and the client address */
	t->fx.now += 30;
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	assert_int_equal(acct_ip_add(t->db, "acme", "198.51.100.0/24", NULL), ACCT_OK);
	EXPECT_DENY(login(t, ALICE, PW, code, "192.0.2.1"), ACCT_R_IP_NOT_ALLOWED);
	t->fx.now += 30;
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	assert_int_equal(login(t, ALICE, PW, code, "198.51.100.7").kind, ACCT_ALLOW);
	t->fx.now += 30;
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	assert_int_equal(acct_account_set_flag(t->db, "acme", ACCT_ACCOUNT_DISABLED, 1), ACCT_OK);
	EXPECT_DENY(login(t, ALICE, PW, code, NULL), ACCT_R_ACCOUNT_DISABLED);
	assert_int_equal(acct_account_set_flag(t->db, "acme", ACCT_ACCOUNT_DISABLED, 0), ACCT_OK);
	assert_int_equal(acct_user_set_disabled(t->db, ALICE, 1), ACCT_OK);
	EXPECT_DENY(login(t, ALICE, PW, code, NULL), ACCT_R_USER_DISABLED);
	assert_int_equal(acct_user_set_disabled(t->db, ALICE, 0), ACCT_OK);

	/* lockout through logins */
	t->fx.now += 30;
	for (int i = 0; i < 5; i++)
		EXPECT_DENY(login(t, ALICE, PW, "999999", NULL), ACCT_R_BAD_CODE);
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	EXPECT_DENY(login(t, ALICE, PW, code, NULL), ACCT_R_LOCKED_OUT);
	assert_true(audit_count(t->db, "login.deny", "acme") >= 12);

	assert_int_equal(acct_login_check(NULL, t->db, ALICE, PW, NULL, NULL), ACCT_EINVAL);
	assert_int_equal(acct_login_check(&v, NULL, ALICE, PW, NULL, NULL), ACCT_EINVAL);
	assert_int_equal(acct_login_check(&v, t->db, NULL, PW, NULL, NULL), ACCT_EINVAL);
	acct_wipe(&codes, sizeof(codes));
}

/* The shell and the daemon share the file: a code used through one
 * handle is a replay through the other. */
static void test_replay_across_handles(void **state)
{
	tfx *t = T(state);
	acct_db *other;
	acct_reason why;
	char code[9];

	enable_known(t, t->db, ALICE, NULL);
	other = open_with(t, 0, -1, NULL);
	t->fx.now += 30;
	code_at(code, RFC_SECRET, 20, t->fx.now, 6);
	assert_int_equal(acct_2fa_verify(&why, t->db, ALICE, code), ACCT_OK);
	assert_int_equal(acct_2fa_verify(&why, other, ALICE, code), ACCT_EDENIED);
	assert_int_equal(why, ACCT_R_CODE_REPLAYED);
	acct_close(other);
}

static void test_user_delete_cascades(void **state)
{
	tfx *t = T(state);
	acct_2fa_info info;

	enable_known(t, t->db, ALICE, NULL);
	assert_int_equal(acct_user_del(t->db, ALICE), ACCT_OK);
	assert_int_equal(acct_user_add(t->db, "acme", ALICE, PW), ACCT_OK);
	assert_int_equal(acct_2fa_status(&info, t->db, ALICE), ACCT_OK);
	assert_int_equal(info.state, ACCT_2FA_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enroll, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rfc6238_vectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oathtool_interop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lockout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reenroll_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_or_missing_key_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_secret_in_database, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_login_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_across_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_delete_cascades, setup, teardown),
	};

	oath_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
