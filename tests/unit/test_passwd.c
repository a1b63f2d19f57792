/* scrypt password hashes: known answers, round trips, tampering, cost upgrades, policy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "passwd.h"

#define PW "correct horse battery staple"

/* RFC 7914, section 12, the second test vector. */
static void test_rfc7914_vector(void **state)
{
	static const unsigned char want[64] = {
		0xfd, 0xba, 0xbe, 0x1c, 0x9d, 0x34, 0x72, 0x00, 0x78, 0x56, 0xe7, 0x19, 0x0d, 0x01, 0xe9, 0xfe,
		0x7c, 0x6a, 0xd7, 0xcb, 0xc8, 0x23, 0x78, 0x30, 0xe7, 0x73, 0x76, 0x63, 0x4b, 0x37, 0x31, 0x62,
		0x2e, 0xaf, 0x30, 0xd9, 0x2e, 0x22, 0xa3, 0x88, 0x6f, 0xf1, 0x09, 0x27, 0x9d, 0x98, 0x30, 0xda,
		0xc7, 0x27, 0xaf, 0xb9, 0x4a, 0x83, 0xee, 0x6d, 0x83, 0x60, 0xcb, 0xdf, 0xa2, 0xcc, 0x06, 0x40};
	unsigned char got[64];

	(void)state;
	assert_int_equal(passwd_scrypt_raw(got, sizeof(got), "password", 8, (const unsigned char *)"NaCl", 4, 1024, 8, 16), 0);
	assert_memory_equal(got, want, sizeof(want));
}

static void test_round_trip(void **state)
{
	char h1[PASSWD_HASH_MAX], h2[PASSWD_HASH_MAX];
	int rehash = -1;

	(void)state;
	assert_int_equal(passwd_hash(h1, PW, strlen(PW), 10), 0);
	assert_non_null(strstr(h1, "$scrypt$ln=10,r=8,p=1$"));
	assert_int_equal(passwd_verify(h1, PW, strlen(PW), 10, &rehash), 1);
	assert_int_equal(rehash, 0);
	assert_int_equal(passwd_verify(h1, PW "!", strlen(PW) + 1, 10, &rehash), 0);
	assert_int_equal(passwd_verify(h1, PW, strlen(PW) - 1, 10, &rehash), 0);
	/* Salted: the same password hashes differently each time. */
	assert_int_equal(passwd_hash(h2, PW, strlen(PW), 10), 0);
	assert_string_not_equal(h1, h2);
	assert_int_equal(passwd_hash(h2, PW, strlen(PW), 9), -1);
	assert_int_equal(passwd_hash(h2, PW, strlen(PW), 23), -1);
}

static void test_default_cost(void **state)
{
	char h[PASSWD_HASH_MAX];
	int rehash;

	(void)state;
	assert_int_equal(passwd_hash(h, PW, strlen(PW), PASSWD_DEFAULT_LN), 0);
	assert_non_null(strstr(h, "$scrypt$ln=15,r=8,p=1$"));
	assert_int_equal(passwd_verify(h, PW, strlen(PW), PASSWD_DEFAULT_LN, &rehash), 1);
}

static void test_old_parameters(void **state)
{
	char h[PASSWD_HASH_MAX];
	int rehash = 0;

	(void)state;
	assert_int_equal(passwd_hash(h, PW, strlen(PW), 10), 0);
	assert_int_equal(passwd_verify(h, PW, strlen(PW), 12, &rehash), 1);
	assert_int_equal(rehash, 1);
	/* A wrong password never asks for a rehash. */
	assert_int_equal(passwd_verify(h, "wrong", 5, 12, &rehash), 0);
	assert_int_equal(rehash, 0);
}

static void test_tampered(void **state)
{
	char h[PASSWD_HASH_MAX], bad[PASSWD_HASH_MAX + 8];
	int rehash;
	char *salt, *dk;

	(void)state;
	assert_int_equal(passwd_hash(h, PW, strlen(PW), 10), 0);
	salt = strchr(h + 8, '$') + 1;
	dk = strchr(salt, '$') + 1;
	static const char *const broken[] = {
		"", "$scrypt$", "$scrypt$ln=10,r=8,p=1$", "$bcrypt$ln=10,r=8,p=1$AAAA$BBBB",
		"$scrypt$ln=0,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$scrypt$ln=31,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* 128 * 32 * 2^20 bytes = 4 GiB: refused, not run */
		"$scrypt$ln=20,r=32,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$scrypt$ln=010,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAA!A$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAA",
	};
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		assert_int_equal(passwd_verify(broken[i], PW, strlen(PW), 10, &rehash), -1);
	assert_int_equal(passwd_verify(NULL, PW, strlen(PW), 10, &rehash), -1);
	/* Truncated hash and salt. */
	snprintf(bad, sizeof(bad), "%.*s", (int)(strlen(h) - 1), h);
	assert_int_equal(passwd_verify(bad, PW, strlen(PW), 10, &rehash), -1);
	snprintf(bad, sizeof(bad), "%.*s%s", (int)(salt - h + 4), h, dk - 1);
	assert_int_equal(passwd_verify(bad, PW, strlen(PW), 10, &rehash), -1);
	/* A changed character of the hash: well-formed, so a plain mismatch. */
	memcpy(bad, h, sizeof(h));
	bad[dk - h + 3] = bad[dk - h + 3] == 'A' ? 'B' : 'A';
	assert_int_equal(passwd_verify(bad, PW, strlen(PW), 10, &rehash), 0);
}

static void test_policy(void **state)
{
	char err[200];

	(void)state;
	assert_int_equal(passwd_check_policy(PW, strlen(PW), err, sizeof(err)), 0);
	assert_int_equal(passwd_check_policy("short", 5, err, sizeof(err)), -1);
	assert_null(strstr(err, "short"));
	assert_non_null(strstr(err, "10 to 1024 bytes"));
	assert_int_equal(passwd_check_policy("tab\tinside-it", 13, err, sizeof(err)), -1);
	assert_int_equal(passwd_check_policy("bad utf8 \xc3\x28 here", 17, err, sizeof(err)), -1);
	assert_int_equal(passwd_check_policy("pässwörter sind gut", strlen("pässwörter sind gut"), err, sizeof(err)), 0);
	{
		char *big = malloc(1100);

		assert_non_null(big);
		memset(big, 'a', 1100);
		assert_int_equal(passwd_check_policy(big, 1024, err, sizeof(err)), 0);
		assert_int_equal(passwd_check_policy(big, 1025, err, sizeof(err)), -1);
		free(big);
	}
	passwd_dummy_verify(PW, strlen(PW), 10); /* runs, returns nothing */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7914_vector),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_default_cost),
		cmocka_unit_test(test_old_parameters),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
