/* MTA-STS: the TXT and policy parsers, the matcher, keys, map names and
 * the TLS policy answer (smtp-hook/mtasts.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mtasts.h"

/* ---- TXT ---- */

static sts_txt_result txt1(const char *rec, char *id, const char **err)
{
	const char *recs[1] = {rec};
	size_t lens[1] = {strlen(rec)};
	return sts_txt_parse(id, recs, lens, 1, err);
}

static void test_txt_valid(void **state)
{
	char id[STS_ID_MAX + 1];
	const char *err;

	(void)state;
	assert_int_equal(txt1("v=STSv1; id=20160831085700Z;", id, &err), STS_TXT_FOUND);
	assert_string_equal(id, "20160831085700Z");
	assert_int_equal(txt1("v=STSv1;id=abc", id, &err), STS_TXT_FOUND);
	assert_string_equal(id, "abc");
	assert_int_equal(txt1("v=STSv1 ;\t id=A1 ; ", id, &err), STS_TXT_FOUND);
	assert_string_equal(id, "A1");
	/* unknown extension fields are ignored */
	assert_int_equal(txt1("v=STSv1; foo=bar; id=x9; ext_1.a-b=1:2", id, &err), STS_TXT_FOUND);
	assert_string_equal(id, "x9");
	/* 32 characters is the maximum */
	assert_int_equal(txt1("v=STSv1; id=0123456789abcdef0123456789ABCDEF", id, &err), STS_TXT_FOUND);
	assert_int_equal(strlen(id), 32);
}

static void test_txt_invalid(void **state)
{
	static const char *bad[] = {
		"v=STSv1",                                       /* no id */
		"v=STSv1;",                                      /* no id */
		"v=STSv1; foo=bar",                              /* no id */
		"v=STSv1; id=",                                  /* empty id */
		"v=STSv1; id=abc; id=def",                       /* two ids */
		"v=STSv1; id=0123456789abcdef0123456789ABCDEFx", /* 33 characters */
		"v=STSv1; id=ab-c",                              /* not alnum */
		"v=STSv1; id=ab_c",
		"v=STSv1; id abc",                               /* not name=value */
		"v=STSv1; id=abc foo=bar",                       /* missing ';' */
		"v=STSv1; =x; id=1",                             /* empty name */
		"v=STSv1; -x=1; id=1",                           /* bad ext name */
		"v=STSv1; id=1; x==1",                           /* '=' in a value */
		"v=STSv1; id=1; x=\x01",                         /* control character */
		"v=STSv1; id=1; x=\xc3\xa9",                     /* 8-bit */
		"v=STSv1; id=1; abcdefghijabcdefghijabcdefghijabc=1", /* 33-char name */
		"v=STSv1;; id=1",                                /* empty field */
	};
	char id[STS_ID_MAX + 1];
	const char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (txt1(bad[i], id, &err) != STS_TXT_INVALID)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(err);
		assert_string_equal(id, "");
	}
	/* the reasons say what was wrong */
	txt1("v=STSv1; id=abc; id=def", id, &err);
	assert_string_equal(err, "TXT record has more than one id field");
	txt1("v=STSv1", id, &err);
	assert_string_equal(err, "TXT record v=STSv1 has no id field");
}

static void test_txt_absent_and_several(void **state)
{
	char id[STS_ID_MAX + 1];
	const char *err;
	const char *recs[3];
	size_t lens[3];

	(void)state;
	/* not STS records: discarded */
	assert_int_equal(txt1("v=spf1 -all", id, &err), STS_TXT_ABSENT);
	assert_int_equal(txt1("v=STSv10; id=1", id, &err), STS_TXT_ABSENT);
	assert_int_equal(txt1("v=STSv2; id=1", id, &err), STS_TXT_ABSENT);
	assert_int_equal(txt1(" v=STSv1; id=1", id, &err), STS_TXT_ABSENT);
	assert_int_equal(txt1("V=STSv1; id=1", id, &err), STS_TXT_ABSENT);
	assert_int_equal(txt1("", id, &err), STS_TXT_ABSENT);
	assert_int_equal(sts_txt_parse(id, recs, lens, 0, &err), STS_TXT_ABSENT);

	/* one STS record among others */
	recs[0] = "v=spf1 -all";
	recs[1] = "v=STSv1; id=one";
	recs[2] = "google-site-verification=x";
	for (int i = 0; i < 3; i++)
		lens[i] = strlen(recs[i]);
	assert_int_equal(sts_txt_parse(id, recs, lens, 3, &err), STS_TXT_FOUND);
	assert_string_equal(id, "one");

	/* two STS records: invalid, whatever their ids */
	recs[2] = "v=STSv1; id=two";
	lens[2] = strlen(recs[2]);
	assert_int_equal(sts_txt_parse(id, recs, lens, 3, &err), STS_TXT_INVALID);
	assert_string_equal(err, "more than one v=STSv1 TXT record");
	assert_string_equal(id, "");
	recs[2] = "v=STSv1; id=one";
	assert_int_equal(sts_txt_parse(id, recs, lens, 3, &err), STS_TXT_INVALID);

	/* lengths are honoured: no reliance on NUL termination */
	recs[0] = "v=STSv1; id=abcdef";
	lens[0] = 14; /* "v=STSv1; id=ab" */
	assert_int_equal(sts_txt_parse(id, recs, lens, 1, &err), STS_TXT_FOUND);
	assert_string_equal(id, "ab");

	/* oversized record */
	{
		char *big = malloc(STS_TXT_MAX + 16);
		assert_non_null(big);
		memset(big, 'a', STS_TXT_MAX + 15);
		memcpy(big, "v=STSv1; id=1; x=", 17);
		recs[0] = big;
		lens[0] = STS_TXT_MAX + 15;
		assert_int_equal(sts_txt_parse(id, recs, lens, 1, &err), STS_TXT_INVALID);
		assert_string_equal(err, "TXT record longer than 4096 bytes");
		free(big);
	}
}

/* ---- policy ---- */

static int pol(sts_policy *p, const char *text, const char **err)
{
	return sts_policy_parse(p, text, strlen(text), err);
}

static void test_policy_valid(void **state)
{
	static sts_policy p;
	const char *err;

	(void)state;
	assert_int_equal(pol(&p, "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
	                         "mx: backupmx.example.com\nmax_age: 604800\n", &err), 0);
	assert_int_equal(p.mode, STS_MODE_ENFORCE);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.n_mx, 3);
	assert_string_equal(p.mx[0], "mail.example.com");
	assert_string_equal(p.mx[1], "*.example.net");
	assert_string_equal(p.mx[2], "backupmx.example.com");

	/* CRLF, no final newline, upper case mx folded, tabs after ':' */
	assert_int_equal(pol(&p, "version: STSv1\r\nmode: testing\r\nmx:\tMX.Example.COM\r\nmax_age:86400", &err), 0);
	assert_int_equal(p.mode, STS_MODE_TESTING);
	assert_int_equal(p.max_age, 86400);
	assert_string_equal(p.mx[0], "mx.example.com");

	/* mixed CRLF and LF, trailing spaces, empty lines, any order */
	assert_int_equal(pol(&p, "\nmax_age: 0  \r\n\r\nmx: a.b\nmode: enforce\t\nversion: STSv1\n\n", &err), 0);
	assert_int_equal(p.max_age, 0);
	assert_int_equal(p.mode, STS_MODE_ENFORCE);

	/* mode none needs no mx */
	assert_int_equal(pol(&p, "version: STSv1\nmode: none\nmax_age: 31557600\n", &err), 0);
	assert_int_equal(p.mode, STS_MODE_NONE);
	assert_int_equal(p.max_age, 31557600);
	assert_int_equal(p.n_mx, 0);

	/* leading zeros within 10 digits */
	assert_int_equal(pol(&p, "version: STSv1\nmode: none\nmax_age: 0000086400\n", &err), 0);
	assert_int_equal(p.max_age, 86400);

	/* unknown fields are ignored, whatever their value */
	assert_int_equal(pol(&p, "version: STSv1\nfoo_bar.x-y: any value at all: yes\nmode: enforce\n"
	                         "mx: mx.example\nmax_age: 5\nMode: none\n", &err), 0);
	assert_int_equal(p.mode, STS_MODE_ENFORCE);

	/* a repeated field keeps its first value (RFC 8461 section 3.2) */
	assert_int_equal(pol(&p, "version: STSv1\nmode: enforce\nmode: none\nmx: m.x\nmax_age: 10\n"
	                         "max_age: 99999999999\nversion: STSv2\n", &err), 0);
	assert_int_equal(p.mode, STS_MODE_ENFORCE);
	assert_int_equal(p.max_age, 10);
}

static void test_policy_invalid(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{"mode: enforce\nmx: a.b\nmax_age: 1\n", "policy has no version field"},
		{"version: STSv1\nmx: a.b\nmax_age: 1\n", "policy has no mode field"},
		{"version: STSv1\nmode: enforce\nmx: a.b\n", "policy has no max_age field"},
		{"version: STSv1\nmode: enforce\nmax_age: 1\n", "policy in mode enforce or testing has no mx field"},
		{"version: STSv1\nmode: testing\nmax_age: 1\n", "policy in mode enforce or testing has no mx field"},
		{"version: STSv2\nmode: none\nmax_age: 1\n", "policy version is not STSv1"},
		{"version: stsv1\nmode: none\nmax_age: 1\n", "policy version is not STSv1"},
		{"version: STSv1 x\nmode: none\nmax_age: 1\n", "policy version is not STSv1"},
		{"version: STSv1\nmode: Enforce\nmax_age: 1\n", "policy mode is not enforce, testing or none"},
		{"version: STSv1\nmode: strict\nmax_age: 1\n", "policy mode is not enforce, testing or none"},
		{"version: STSv1\nmode:\nmax_age: 1\n", "policy field has an empty value"},
		{"version: STSv1\nmode: none\nmax_age: 31557601\n", "policy max_age is not a number of seconds 0..31557600"},
		{"version: STSv1\nmode: none\nmax_age: -1\n", "policy max_age is not a number of seconds 0..31557600"},
		{"version: STSv1\nmode: none\nmax_age: +5\n", "policy max_age is not a number of seconds 0..31557600"},
		{"version: STSv1\nmode: none\nmax_age: 1d\n", "policy max_age is not a number of seconds 0..31557600"},
		{"version: STSv1\nmode: none\nmax_age: 1 2\n", "policy max_age is not a number of seconds 0..31557600"},
		{"version: STSv1\nmode: none\nmax_age: 00000000001\n",
		 "policy max_age is not a number of seconds 0..31557600"},
		{"version: STSv1\nmode: none\nmax_age: 99999999999999999999\n",
		 "policy max_age is not a number of seconds 0..31557600"},
		{"version: STSv1\nmode: enforce\nmx: *\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: a.*.b\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: **.b\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: mx*.b\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: .example.net\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: mx.example.net.\nmax_age: 1\n",
		 "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: a..b\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: -a.b\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: a-.b\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: a_b.c\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: a b.c\nmax_age: 1\n", "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: [127.0.0.1]\nmax_age: 1\n",
		 "policy mx is not a host name or *.domain"},
		{"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\nno colon here\n", "policy line is not 'name: value'"},
		{"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\n-bad: x\n",
		 "policy field name is not [A-Za-z0-9][A-Za-z0-9_.-]{0,31}"},
		{"version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 1\n : x\n",
		 "policy field name is not [A-Za-z0-9][A-Za-z0-9_.-]{0,31}"},
		{"version : STSv1\nmode: none\nmax_age: 1\n", "policy field name is not [A-Za-z0-9][A-Za-z0-9_.-]{0,31}"},
		{"version: STSv1\rmode: none\rmax_age: 1\r", "policy has a CR not followed by LF, or a NUL byte"},
		{"version: STSv1\nmode: none\nmax_age: 1\nx: a\x01b\n", "policy value has a control character"},
		{"version: STSv1\nmode: none\nmax_age: 1\nx:\n", "policy field has an empty value"},
	};
	static sts_policy p;
	const char *err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		if (pol(&p, bad[i].text, &err) != -1)
			fail_msg("accepted #%zu: %s", i, bad[i].text);
		if (err == NULL || strcmp(err, bad[i].err) != 0)
			fail_msg("#%zu: got '%s', want '%s'", i, err ? err : "(null)", bad[i].err);
		/* nothing half-filled */
		assert_int_equal(p.n_mx, 0);
		assert_int_equal(p.max_age, 0);
		assert_int_equal(p.mode, STS_MODE_NONE);
	}
}

static void test_policy_limits(void **state)
{
	static sts_policy p;
	static char buf[STS_POLICY_MAX + 2];
	const char *err;
	size_t n;

	(void)state;
	/* NUL byte inside */
	{
		static const char t[] = "version: STSv1\nmode: none\nmax_age: 1\nx: a\0b\n";
		assert_int_equal(sts_policy_parse(&p, t, sizeof(t) - 1, &err), -1);
		assert_string_equal(err, "policy has a CR not followed by LF, or a NUL byte");
	}
	/* oversized body */
	memset(buf, '\n', sizeof(buf));
	memcpy(buf, "version: STSv1\nmode: none\nmax_age: 1\n", 37);
	assert_int_equal(sts_policy_parse(&p, buf, STS_POLICY_MAX, &err), 0);
	assert_int_equal(sts_policy_parse(&p, buf, STS_POLICY_MAX + 1, &err), -1);
	assert_string_equal(err, "policy longer than 64 KiB");
	/* an overlong line */
	n = 0;
	memcpy(buf, "version: STSv1\nmode: none\nmax_age: 1\nx: ", 40);
	n = 40;
	memset(buf + n, 'a', STS_LINE_MAX);
	n += STS_LINE_MAX;
	buf[n++] = '\n';
	assert_int_equal(sts_policy_parse(&p, buf, n, &err), -1);
	assert_string_equal(err, "policy line longer than 1024 bytes");
	/* 64 mx fields fit, 65 do not */
	n = (size_t)snprintf(buf, sizeof(buf), "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i < STS_MX_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "mx: mx%d.example.net\n", i);
	assert_int_equal(sts_policy_parse(&p, buf, n, &err), 0);
	assert_int_equal(p.n_mx, STS_MX_MAX);
	assert_string_equal(p.mx[63], "mx63.example.net");
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "mx: one.too.many\n");
	assert_int_equal(sts_policy_parse(&p, buf, n, &err), -1);
	assert_string_equal(err, "policy has more than 64 mx fields");
	/* a 63-byte label and a 253-byte name are allowed, 64 and 254 not */
	{
		char name[300];
		memset(name, 'a', 63);
		name[63] = '\0';
		n = (size_t)snprintf(buf, sizeof(buf), "version: STSv1\nmode: enforce\nmax_age: 1\nmx: *.%s.net\n", name);
		assert_int_equal(sts_policy_parse(&p, buf, n, &err), 0);
		memset(name, 'a', 64);
		name[64] = '\0';
		n = (size_t)snprintf(buf, sizeof(buf), "version: STSv1\nmode: enforce\nmax_age: 1\nmx: %s.net\n", name);
		assert_int_equal(sts_policy_parse(&p, buf, n, &err), -1);
		/* 4 labels of 63 + 3 dots = 255; trim to 253 */
		memset(name, 'b', 63);
		memset(name + 64, 'b', 63);
		memset(name + 128, 'b', 63);
		memset(name + 192, 'b', 61);
		name[63] = name[127] = name[191] = '.';
		name[253] = '\0';
		assert_int_equal(strlen(name), 253);
		n = (size_t)snprintf(buf, sizeof(buf), "version: STSv1\nmode: enforce\nmax_age: 1\nmx: %s\n", name);
		assert_int_equal(sts_policy_parse(&p, buf, n, &err), 0);
		n = (size_t)snprintf(buf, sizeof(buf), "version: STSv1\nmode: enforce\nmax_age: 1\nmx: %sb\n", name);
		assert_int_equal(sts_policy_parse(&p, buf, n, &err), -1);
		assert_string_equal(err, "policy mx is not a host name or *.domain");
	}
}

/* ---- matching ---- */

static void test_match(void **state)
{
	(void)state;
	assert_true(sts_mx_match("mail.example.com", "mail.example.com"));
	assert_true(sts_mx_match("mail.example.com", "MAIL.Example.com."));
	assert_false(sts_mx_match("mail.example.com", "mail.example.com.evil"));
	assert_false(sts_mx_match("mail.example.com", "xmail.example.com"));
	assert_false(sts_mx_match("mail.example.com", "a.mail.example.com"));
	assert_false(sts_mx_match("mail.example.com", "example.com"));

	assert_true(sts_mx_match("*.example.net", "mx1.example.net"));
	assert_true(sts_mx_match("*.example.net", "MX1.EXAMPLE.NET."));
	/* exactly one label: never two deep, never the bare suffix */
	assert_false(sts_mx_match("*.example.net", "a.mx1.example.net"));
	assert_false(sts_mx_match("*.example.net", "x.y.z.example.net"));
	assert_false(sts_mx_match("*.example.net", "example.net"));
	assert_false(sts_mx_match("*.example.net", ".example.net"));
	assert_false(sts_mx_match("*.example.net", "mx1.example.net.evil"));
	assert_false(sts_mx_match("*.example.net", "mx1example.net"));
	assert_false(sts_mx_match("*.example.net", "mx1.badexample.net"));
	assert_false(sts_mx_match("*.example.net", ""));
	assert_false(sts_mx_match("", "mx"));
	/* a literal '*' in the host is not a wildcard */
	assert_false(sts_mx_match("mx.example.net", "*.example.net"));
}

/* ---- keys and map names ---- */

static void test_keys(void **state)
{
	char d[STS_NAME_MAX + 1];
	sts_account_req r;

	(void)state;
	assert_int_equal(sts_key_parse(d, "Example.COM"), STS_KEY_DOMAIN);
	assert_string_equal(d, "example.com");
	assert_int_equal(sts_key_parse(d, "example.com."), STS_KEY_DOMAIN);
	assert_string_equal(d, "example.com");
	assert_int_equal(sts_key_parse(d, ".example.com"), STS_KEY_PARENT);
	assert_int_equal(sts_key_parse(d, "[127.0.0.1]:20025"), STS_KEY_LITERAL);
	assert_int_equal(sts_key_parse(d, "[mx.example.com]"), STS_KEY_LITERAL);
	assert_int_equal(sts_key_parse(d, "example.com:2525"), STS_KEY_LITERAL);
	assert_int_equal(sts_key_parse(d, ""), STS_KEY_INVALID);
	assert_int_equal(sts_key_parse(d, "exa mple.com"), STS_KEY_INVALID);
	assert_int_equal(sts_key_parse(d, "a..b"), STS_KEY_INVALID);
	assert_int_equal(sts_key_parse(d, "user@example.com"), STS_KEY_INVALID);
	assert_string_equal(d, "");

	assert_int_equal(sts_map_parse(&r, "tls-policy"), 0);
	assert_int_equal(r.tls, STS_REQ_NONE);
	assert_int_equal(r.dane_here, 0);
	assert_int_equal(sts_req_needs_tlsa(&r), 0);
	/* postern-notls (level none): DANE in the answer, TLSA always asked */
	assert_int_equal(sts_map_parse(&r, "tls-policy-none"), 0);
	assert_int_equal(r.tls, STS_REQ_NONE);
	assert_int_equal(r.dane_here, 1);
	assert_int_equal(sts_req_needs_tlsa(&r), 1);
	assert_int_equal(sts_map_parse(&r, "tls-policy-encrypt"), 0);
	assert_int_equal(r.tls, STS_REQ_ENCRYPT);
	assert_int_equal(r.tls13, 0);
	assert_int_equal(sts_map_parse(&r, "tls-policy-encrypt13"), 0);
	assert_int_equal(r.tls, STS_REQ_ENCRYPT);
	assert_int_equal(r.tls13, 1);
	assert_int_equal(sts_map_parse(&r, "tls-policy-verify"), 0);
	assert_int_equal(r.tls, STS_REQ_VERIFY);
	assert_int_equal(r.tls13, 0);
	assert_int_equal(sts_map_parse(&r, "tls-policy-verify13"), 0);
	assert_int_equal(r.tls, STS_REQ_VERIFY);
	assert_int_equal(r.tls13, 1);
	assert_int_equal(r.dane_here, 0);
	assert_int_equal(sts_req_needs_tlsa(&r), 1);
	assert_int_equal(sts_map_parse(&r, "tls-policy-nonE"), -1);
	assert_int_equal(sts_map_parse(&r, "tls-policy-"), -1);
	assert_int_equal(sts_map_parse(&r, "TLS-POLICY"), -1);
	assert_int_equal(sts_map_parse(&r, ""), -1);
}

/* ---- answers ---- */

static const sts_policy *enforce_policy(void)
{
	static sts_policy p;
	const char *err;
	assert_int_equal(pol(&p, "version: STSv1\nmode: enforce\nmx: *.example.net\nmx: mail.example.com\n"
	                         "max_age: 86400\n", &err), 0);
	return &p;
}

static void test_answer_sts(void **state)
{
	const sts_account_req plain = {STS_REQ_NONE, 0, 0}, enc = {STS_REQ_ENCRYPT, 0, 0}, ver13 = {STS_REQ_VERIFY, 1, 0};
	const char *mx[] = {"mx1.example.net.", "a.mx2.example.net.", "MAIL.example.com.", "other.example.org.",
	                    "mx1.example.net", "example.net."};
	char out[STS_ANSWER_MAX];

	(void)state;
	/* exactly the resolved MX hosts that match; the two-deep one, the
	 * foreign one, the bare suffix and the duplicate are left out; never
	 * a Postfix ".example.net" pattern */
	assert_int_equal(sts_answer(out, sizeof(out), &plain, 0, enforce_policy(), mx, 6), STS_ANSWER_OK);
	assert_string_equal(out, "secure match=mx1.example.net:mail.example.com servername=hostname");
	assert_null(strstr(out, "=."));
	assert_null(strstr(out, ":."));
	assert_int_equal(sts_answer(out, sizeof(out), &enc, 0, enforce_policy(), mx, 6), STS_ANSWER_OK);
	assert_string_equal(out,
	                    "secure match=mx1.example.net:mail.example.com servername=hostname protocols=>=TLSv1.2");
	/* secure is stronger than the account's verify; the version stays */
	assert_int_equal(sts_answer(out, sizeof(out), &ver13, 0, enforce_policy(), mx, 6), STS_ANSWER_OK);
	assert_string_equal(out,
	                    "secure match=mx1.example.net:mail.example.com servername=hostname protocols=>=TLSv1.3");
	/* no MX host matches: defer, never a weaker answer */
	assert_int_equal(sts_answer(out, sizeof(out), &plain, 0, enforce_policy(), mx + 1, 1), STS_ANSWER_NOMATCH);
	assert_string_equal(out, "");
	assert_int_equal(sts_answer(out, sizeof(out), &enc, 0, enforce_policy(), mx, 0), STS_ANSWER_NOMATCH);
	/* too small a buffer: refused, nothing half-written */
	assert_int_equal(sts_answer(out, 20, &plain, 0, enforce_policy(), mx, 6), STS_ANSWER_TOOLONG);
	assert_string_equal(out, "");
}

static void test_answer_dane_and_none(void **state)
{
	const sts_account_req plain = {STS_REQ_NONE, 0, 0}, enc = {STS_REQ_ENCRYPT, 0, 0}, enc13 = {STS_REQ_ENCRYPT, 1, 0},
	                      ver = {STS_REQ_VERIFY, 0, 0};
	const char *mx[] = {"mx1.example.net"};
	static sts_policy none, testing;
	const char *err;
	char out[STS_ANSWER_MAX];

	(void)state;
	/* DANE first: never secure, even with an enforce policy */
	assert_int_equal(sts_answer(out, sizeof(out), &plain, 1, enforce_policy(), mx, 1), STS_ANSWER_OK);
	assert_string_equal(out, "dane");
	assert_int_equal(sts_answer(out, sizeof(out), &enc, 1, enforce_policy(), mx, 1), STS_ANSWER_OK);
	assert_string_equal(out, "dane-only protocols=>=TLSv1.2");
	assert_int_equal(sts_answer(out, sizeof(out), &enc13, 1, NULL, mx, 1), STS_ANSWER_OK);
	assert_string_equal(out, "dane-only protocols=>=TLSv1.3");

	/* no domain requirement: the plain map adds nothing, an enforcing
	 * map still requires its own level */
	assert_int_equal(sts_answer(out, sizeof(out), &plain, 0, NULL, mx, 1), STS_ANSWER_NOTFOUND);
	assert_int_equal(sts_answer(out, sizeof(out), &enc, 0, NULL, mx, 1), STS_ANSWER_OK);
	assert_string_equal(out, "encrypt protocols=>=TLSv1.2");
	assert_int_equal(sts_answer(out, sizeof(out), &ver, 0, NULL, mx, 1), STS_ANSWER_OK);
	assert_string_equal(out, "verify protocols=>=TLSv1.2");
	assert_int_equal(pol(&none, "version: STSv1\nmode: none\nmax_age: 1\n", &err), 0);
	assert_int_equal(sts_answer(out, sizeof(out), &plain, 0, &none, mx, 1), STS_ANSWER_NOTFOUND);
	assert_int_equal(sts_answer(out, sizeof(out), &enc13, 0, &none, mx, 1), STS_ANSWER_OK);
	assert_string_equal(out, "encrypt protocols=>=TLSv1.3");
	/* a testing policy passed in (strict-testing) is enforced */
	assert_int_equal(pol(&testing, "version: STSv1\nmode: testing\nmx: *.example.net\nmax_age: 1\n", &err), 0);
	assert_int_equal(sts_answer(out, sizeof(out), &plain, 0, &testing, mx, 1), STS_ANSWER_OK);
	assert_string_equal(out, "secure match=mx1.example.net servername=hostname");
	assert_string_equal(sts_mode_name(STS_MODE_TESTING), "testing");
	assert_string_equal(sts_mode_name(STS_MODE_ENFORCE), "enforce");
	assert_string_equal(sts_mode_name(STS_MODE_NONE), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_valid),      cmocka_unit_test(test_txt_invalid),
		cmocka_unit_test(test_txt_absent_and_several), cmocka_unit_test(test_policy_valid),
		cmocka_unit_test(test_policy_invalid), cmocka_unit_test(test_policy_limits),
		cmocka_unit_test(test_match),          cmocka_unit_test(test_keys),
		cmocka_unit_test(test_answer_sts),     cmocka_unit_test(test_answer_dane_and_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
