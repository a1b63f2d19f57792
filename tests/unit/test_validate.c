/* Names, emails, scopes, expiry and since times, labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "validate.h"

#define NOW 1800000000LL /* 2027-01-15T08:00:00Z */

static void test_names(void **state)
{
	char err[256];

	(void)state;
	assert_int_equal(validate_account_name("acme", err, sizeof(err)), 0);
	assert_int_equal(validate_account_name("0day.io_x-y", err, sizeof(err)), 0);
	assert_int_equal(validate_account_name("Acme", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "lowercase"));
	assert_int_equal(validate_account_name(".acme", err, sizeof(err)), -1);
	assert_int_equal(validate_account_name("a b", err, sizeof(err)), -1);
	assert_int_equal(validate_account_name("", err, sizeof(err)), -1);
	assert_int_equal(validate_account_name(NULL, err, sizeof(err)), -1);
	assert_int_equal(validate_account_name("a12345678901234567890123456789012345678901234567890123456789012", err,
	                                       sizeof(err)),
	                 0); /* 63 */
	assert_int_equal(validate_account_name("a123456789012345678901234567890123456789012345678901234567890123", err,
	                                       sizeof(err)),
	                 -1); /* 64 */
	assert_non_null(strstr(err, "at most 63"));
}

static void email_ok(const char *in, const char *want)
{
	char out[255], err[256];

	if (validate_email(out, sizeof(out), in, err, sizeof(err)) != 0)
		fail_msg("%s: %s", in, err);
	assert_string_equal(out, want);
}

static void email_bad(const char *in)
{
	char out[255], err[256] = "";

	if (validate_email(out, sizeof(out), in, err, sizeof(err)) == 0)
		fail_msg("accepted '%s'", in);
	assert_true(strlen(err) > 0);
}

static void test_emails(void **state)
{
	char local[80], dom[300], addr[400];

	(void)state;
	email_ok("alice@example.com", "alice@example.com");
	email_ok("Alice.Smith+tag@Mail.Example.COM", "Alice.Smith+tag@mail.example.com");
	email_ok("a@b.co", "a@b.co");
	email_bad("");
	email_bad(NULL);
	email_bad("alice");
	email_bad("alice@");
	email_bad("@example.com");
	email_bad("a@@example.com");
	email_bad("a@b@example.com");
	email_bad("alice@localhost");
	email_bad(".alice@example.com");
	email_bad("alice.@example.com");
	email_bad("al..ice@example.com");
	email_bad("al ice@example.com");
	email_bad("al\"ice@example.com");
	email_bad("alice@-example.com");
	email_bad("alice@example-.com");
	email_bad("alice@exa_mple.com");
	email_bad("alice@example..com");
	email_bad("alice@example.com.");
	memset(local, 'a', 65);
	local[65] = '\0';
	snprintf(addr, sizeof(addr), "%s@example.com", local);
	email_bad(addr);
	local[64] = '\0';
	snprintf(addr, sizeof(addr), "%s@example.com", local);
	email_ok(addr, addr);
	/* 254 characters in all is the limit */
	memset(dom, 'd', sizeof(dom));
	snprintf(addr, sizeof(addr), "%.*s@%.*s.%.*s.%.*s", 64, local, 63, dom, 63, dom, 61, dom);
	assert_int_equal(strlen(addr), 254);
	email_ok(addr, addr);
	snprintf(addr, sizeof(addr), "%.*s@%.*s.%.*s.%.*s", 64, local, 63, dom, 63, dom, 62, dom);
	email_bad(addr);
	snprintf(addr, sizeof(addr), "a@%.*s.com", 64, dom); /* a 64-character label */
	email_bad(addr);
}

static void test_scopes(void **state)
{
	unsigned int s = 0;
	char err[256], buf[200];

	(void)state;
	assert_int_equal(validate_scopes(&s, "mail.send", err, sizeof(err)), 0);
	assert_int_equal(s, ACCT_SCOPE_MAIL_SEND);
	assert_int_equal(validate_scopes(&s, "settings.write,mail.send,keys.read", err, sizeof(err)), 0);
	assert_int_equal(s, ACCT_SCOPE_SETTINGS_WRITE | ACCT_SCOPE_MAIL_SEND | ACCT_SCOPE_KEYS_READ);
	assert_int_equal(scopes_format(buf, sizeof(buf), s), 0);
	assert_string_equal(buf, "mail.send,keys.read,settings.write");
	assert_int_equal(scopes_format(buf, sizeof(buf), ACCT_SCOPE_ALL), 0);
	assert_int_equal(validate_scopes(&s, buf, err, sizeof(err)), 0);
	assert_int_equal(s, ACCT_SCOPE_ALL);
	assert_int_equal(scopes_format(buf, 5, ACCT_SCOPE_ALL), -1);
	assert_int_equal(scopes_format(buf, sizeof(buf), 1u << 12), -1);
	assert_int_equal(validate_scopes(&s, "mail.send,mail.send", err, sizeof(err)), -1);
	assert_string_equal(err, "scope 'mail.send' is listed twice");
	assert_int_equal(validate_scopes(&s, "mail.send, keys.read", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown scope ' keys.read'"));
	assert_int_equal(validate_scopes(&s, "mail", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "scopes are: mail.send, accounts.read"));
	assert_int_equal(validate_scopes(&s, "", err, sizeof(err)), -1);
	assert_int_equal(validate_scopes(&s, "mail.send,", err, sizeof(err)), -1);
	assert_string_equal(scope_name(ACCT_SCOPE_KEYS_WRITE), "keys.write");
	assert_non_null(scope_description(ACCT_SCOPE_MAIL_SEND));
	assert_null(scope_name(1u << 9));
}

static void test_expiry(void **state)
{
	long long t = -1;
	char err[256];

	(void)state;
	assert_int_equal(validate_expiry(&t, "never", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, 0);
	assert_int_equal(validate_expiry(&t, "90d", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, NOW + 90 * 86400LL);
	assert_int_equal(validate_expiry(&t, "12h", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, NOW + 12 * 3600LL);
	assert_int_equal(validate_expiry(&t, "2w", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, NOW + 14 * 86400LL);
	assert_int_equal(validate_expiry(&t, "2027-01-31", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, 1801440000LL); /* 2027-02-01T00:00:00Z */
	assert_int_equal(validate_expiry(&t, "2027-01-15T09:00:00Z", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, NOW + 3600);
	assert_int_equal(validate_expiry(&t, "2028-02-29", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, 1835481600LL); /* 2028-03-01 */
	assert_int_equal(validate_expiry(&t, "2027-02-29", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "2100-02-29", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "2000-02-29", NOW, err, sizeof(err)), -1); /* valid date, past */
	assert_non_null(strstr(err, "in the past"));
	assert_int_equal(validate_expiry(&t, "2027-01-15", NOW, err, sizeof(err)), 0); /* today: through tonight */
	assert_int_equal(validate_expiry(&t, "2027-01-14", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "90x", NOW, err, sizeof(err)), -1);
	assert_string_equal(err, "'90x' is not a valid expiry; use Nd, Nh, Nw (e.g. 90d, at most 10 years), a date "
	                         "YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or never");
	assert_int_equal(validate_expiry(&t, "0d", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "-5d", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "3651d", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "99999999999999999999d", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "2027-13-01", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "2027-1-1", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "2027-01-31T24:00:00Z", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "2027-01-31 12:00:00", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "", NOW, err, sizeof(err)), -1);
	assert_int_equal(validate_expiry(&t, "30m", NOW, err, sizeof(err)), -1); /* minutes: too short for a key */
}

static void test_since(void **state)
{
	long long t = -1;
	char err[256];

	(void)state;
	assert_int_equal(validate_since(&t, "30m", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, NOW - 1800);
	assert_int_equal(validate_since(&t, "7d", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, NOW - 7 * 86400LL);
	assert_int_equal(validate_since(&t, "2026-11-01", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, 1793491200LL);
	assert_int_equal(validate_since(&t, "2026-11-01T08:00:00Z", NOW, err, sizeof(err)), 0);
	assert_int_equal(t, 1793491200LL + 8 * 3600);
	assert_int_equal(validate_since(&t, "yesterday", NOW, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'yesterday' is not a valid time"));
	assert_int_equal(validate_since(&t, NULL, NOW, err, sizeof(err)), -1);
}

static void test_labels(void **state)
{
	char err[256], big[200];

	(void)state;
	assert_int_equal(validate_label("office VPN", 128, err, sizeof(err)), 0);
	assert_int_equal(validate_label("Büro München", 128, err, sizeof(err)), 0);
	assert_int_equal(validate_label("", 128, err, sizeof(err)), -1);
	assert_int_equal(validate_label("line\nbreak", 128, err, sizeof(err)), -1);
	assert_int_equal(validate_label("bad \xff byte", 128, err, sizeof(err)), -1);
	assert_int_equal(validate_label("overlong \xc0\xaf", 128, err, sizeof(err)), -1);
	assert_int_equal(validate_label("surrogate \xed\xa0\x80", 128, err, sizeof(err)), -1);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(validate_label(big, 128, err, sizeof(err)), -1);
	big[128] = '\0';
	assert_int_equal(validate_label(big, 128, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),    cmocka_unit_test(test_emails), cmocka_unit_test(test_scopes),
		cmocka_unit_test(test_expiry),   cmocka_unit_test(test_since),  cmocka_unit_test(test_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
