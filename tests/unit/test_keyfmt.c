/* The API key format: shape, checksum, ids, randomness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "keyfmt.h"

static int b62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static void test_generate_parse(void **state)
{
	char key[KEY_LEN + 1], id[KEY_ID_LEN + 1], pid[KEY_ID_LEN + 1];
	unsigned char h1[KEY_HASH_LEN], h2[KEY_HASH_LEN];

	(void)state;
	assert_int_equal(keyfmt_generate(key, id), 0);
	assert_int_equal(strlen(key), KEY_LEN);
	assert_int_equal(KEY_LEN, 68);
	assert_memory_equal(key, "pstn_", 5);
	assert_memory_equal(key + 5, id, KEY_ID_LEN);
	assert_int_equal(key[17], '_');
	assert_int_equal(keyfmt_parse(key, strlen(key), pid, h1), KEYFMT_OK);
	assert_string_equal(pid, id);
	assert_int_equal(keyfmt_hash_secret(key, h2), 0);
	assert_memory_equal(h1, h2, KEY_HASH_LEN);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void test_many_distinct(void **state)
{
	enum { N = 1000 };
	char (*keys)[KEY_LEN + 1] = calloc(N, KEY_LEN + 1);
	char id[KEY_ID_LEN + 1];
	int counts[128] = {0};

	(void)state;
	assert_non_null(keys);
	for (int i = 0; i < N; i++) {
		assert_int_equal(keyfmt_generate(keys[i], id), 0);
		for (int j = 5; j < KEY_LEN; j++) {
			if (j == 17)
				continue;
			assert_true(b62(keys[i][j]));
			if (j > 17 && j < 17 + 1 + KEY_SECRET_LEN)
				counts[(unsigned char)keys[i][j]]++;
		}
	}
	qsort(keys, N, KEY_LEN + 1, cmp);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(keys[i - 1], keys[i]);
	/* 44,000 secret characters over 62 symbols: each near 710; a biased
	 * draw (plain modulo of a byte) would push the first ones past 800. */
	for (int c = 0; c < 128; c++)
		if (b62((char)c))
			assert_in_range(counts[c], 550, 870);
	free(keys);
}

static void test_checksum_catches_typos(void **state)
{
	char key[KEY_LEN + 1], id[KEY_ID_LEN + 1], bad[KEY_LEN + 1];
	unsigned char h[KEY_HASH_LEN];

	(void)state;
	assert_int_equal(keyfmt_generate(key, id), 0);
	for (int pos = 5; pos < KEY_LEN; pos++) {
		if (pos == 17)
			continue;
		memcpy(bad, key, sizeof(bad));
		bad[pos] = bad[pos] == 'x' ? 'y' : 'x';
		assert_int_equal(keyfmt_parse(bad, KEY_LEN, id, h), KEYFMT_BAD_CHECKSUM);
	}
	/* Two characters swapped. */
	memcpy(bad, key, sizeof(bad));
	if (bad[30] != bad[31]) {
		bad[30] = key[31];
		bad[31] = key[30];
		assert_int_equal(keyfmt_parse(bad, KEY_LEN, id, h), KEYFMT_BAD_CHECKSUM);
	}
}

static void test_malformed(void **state)
{
	char key[KEY_LEN + 1], id[KEY_ID_LEN + 1], bad[KEY_LEN + 2];
	unsigned char h[KEY_HASH_LEN];

	(void)state;
	assert_int_equal(keyfmt_generate(key, id), 0);
	assert_int_equal(keyfmt_parse(key, KEY_LEN - 1, id, h), KEYFMT_MALFORMED);
	assert_int_equal(keyfmt_parse("", 0, id, h), KEYFMT_MALFORMED);
	assert_int_equal(keyfmt_parse(NULL, 0, id, h), KEYFMT_MALFORMED);
	memcpy(bad, key, KEY_LEN);
	bad[KEY_LEN] = '\n';
	assert_int_equal(keyfmt_parse(bad, KEY_LEN + 1, id, h), KEYFMT_MALFORMED);
	memcpy(bad, key, KEY_LEN + 1);
	bad[0] = 'P';
	assert_int_equal(keyfmt_parse(bad, KEY_LEN, id, h), KEYFMT_MALFORMED);
	memcpy(bad, key, KEY_LEN + 1);
	bad[17] = '-';
	assert_int_equal(keyfmt_parse(bad, KEY_LEN, id, h), KEYFMT_MALFORMED);
	memcpy(bad, key, KEY_LEN + 1);
	bad[40] = '+';
	assert_int_equal(keyfmt_parse(bad, KEY_LEN, id, h), KEYFMT_MALFORMED);
	memcpy(bad, key, KEY_LEN + 1);
	bad[40] = '\0';
	assert_int_equal(keyfmt_parse(bad, KEY_LEN, id, h), KEYFMT_MALFORMED);
	assert_int_equal(keyfmt_parse("SG.aaaa.bbbb", 12, id, h), KEYFMT_MALFORMED);
}

static void test_ids(void **state)
{
	char id[KEY_ID_LEN + 1];

	(void)state;
	assert_int_equal(keyfmt_parse_id("AbC123xyz789", id), 1);
	assert_string_equal(id, "AbC123xyz789");
	assert_int_equal(keyfmt_parse_id("pstn_AbC123xyz789", id), 1);
	assert_string_equal(id, "AbC123xyz789");
	assert_int_equal(keyfmt_parse_id("AbC123xyz78", id), 0);
	assert_int_equal(keyfmt_parse_id("AbC123xyz7890", id), 0);
	assert_int_equal(keyfmt_parse_id("AbC123xyz78-", id), 0);
	assert_int_equal(keyfmt_parse_id("pstn_AbC123xyz78", id), 0);
	assert_int_equal(keyfmt_parse_id("", id), 0);
	assert_int_equal(keyfmt_parse_id(NULL, id), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_parse),
		cmocka_unit_test(test_many_distinct),
		cmocka_unit_test(test_checksum_catches_typos),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
