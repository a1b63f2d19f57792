/*
 * API keys as text (see keyfmt.h).  Everything random comes from
 * RAND_bytes; base62 digits are drawn by rejection sampling so each of
 * the 62 characters is equally likely.  The checksum is the first 32
 * bits of SHA-256 over everything before it, in 6 base62 digits.
 */
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "keyfmt.h"

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int is_b62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* n uniformly random base62 characters. */
static int random_b62(char *out, size_t n)
{
	unsigned char buf[64];
	size_t have = 0, used = sizeof(buf);

	while (have < n) {
		if (used == sizeof(buf)) {
			if (RAND_bytes(buf, (int)sizeof(buf)) != 1)
				return -1;
			used = 0;
		}
		/* 248 = 4 * 62: bytes above it would favour the first characters. */
		if (buf[used] < 248)
			out[have++] = b62[buf[used] % 62];
		used++;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static void checksum(const char *text, size_t len, char out[KEY_CKSUM_LEN])
{
	unsigned char h[SHA256_DIGEST_LENGTH];
	uint32_t v;

	SHA256((const unsigned char *)text, len, h);
	v = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | (uint32_t)h[3];
	for (int i = KEY_CKSUM_LEN - 1; i >= 0; i--) {
		out[i] = b62[v % 62];
		v /= 62;
	}
}

int keyfmt_generate(char key[KEY_LEN + 1], char id[KEY_ID_LEN + 1])
{
	char *p = key;

	memcpy(p, KEY_PREFIX, KEY_PREFIX_LEN);
	p += KEY_PREFIX_LEN;
	if (random_b62(p, KEY_ID_LEN) != 0)
		return -1;
	memcpy(id, p, KEY_ID_LEN);
	id[KEY_ID_LEN] = '\0';
	p += KEY_ID_LEN;
	*p++ = '_';
	if (random_b62(p, KEY_SECRET_LEN) != 0)
		return -1;
	p += KEY_SECRET_LEN;
	checksum(key, (size_t)(p - key), p);
	key[KEY_LEN] = '\0';
	return 0;
}

static const char *secret_of(const char *key)
{
	return key + KEY_PREFIX_LEN + KEY_ID_LEN + 1;
}

int keyfmt_hash_secret(const char *key, unsigned char hash[KEY_HASH_LEN])
{
	if (SHA256((const unsigned char *)secret_of(key), KEY_SECRET_LEN, hash) == NULL)
		return -1;
	return 0;
}

int keyfmt_parse(const char *key, size_t len, char id[KEY_ID_LEN + 1], unsigned char hash[KEY_HASH_LEN])
{
	char sum[KEY_CKSUM_LEN];
	const char *body;

	id[0] = '\0';
	if (key == NULL || len != KEY_LEN || memcmp(key, KEY_PREFIX, KEY_PREFIX_LEN) != 0 ||
	    key[KEY_PREFIX_LEN + KEY_ID_LEN] != '_')
		return KEYFMT_MALFORMED;
	body = key + KEY_PREFIX_LEN;
	for (size_t i = 0; i < KEY_LEN - KEY_PREFIX_LEN; i++)
		if (i != KEY_ID_LEN && !is_b62(body[i]))
			return KEYFMT_MALFORMED;
	memcpy(id, body, KEY_ID_LEN);
	id[KEY_ID_LEN] = '\0';
	checksum(key, KEY_LEN - KEY_CKSUM_LEN, sum);
	/* Not secret, but no reason to leak how much of it matched. */
	if (CRYPTO_memcmp(sum, key + KEY_LEN - KEY_CKSUM_LEN, KEY_CKSUM_LEN) != 0)
		return KEYFMT_BAD_CHECKSUM;
	return keyfmt_hash_secret(key, hash) == 0 ? KEYFMT_OK : KEYFMT_ERROR;
}

int keyfmt_parse_id(const char *text, char id_out[KEY_ID_LEN + 1])
{
	size_t n;

	if (text == NULL)
		return 0;
	n = strnlen(text, KEY_PREFIX_LEN + KEY_ID_LEN + 1);
	if (n == KEY_PREFIX_LEN + KEY_ID_LEN && memcmp(text, KEY_PREFIX, KEY_PREFIX_LEN) == 0) {
		text += KEY_PREFIX_LEN;
		n -= KEY_PREFIX_LEN;
	}
	if (n != KEY_ID_LEN)
		return 0;
	for (size_t i = 0; i < KEY_ID_LEN; i++)
		if (!is_b62(text[i]))
			return 0;
	memcpy(id_out, text, KEY_ID_LEN);
	id_out[KEY_ID_LEN] = '\0';
	return 1;
}
