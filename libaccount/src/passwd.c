/*
 * scrypt password hashes (see passwd.h).  The stored string is parsed
 * strictly and bounded: a tampered or absurd parameter set (say, one
 * asking for 64 GiB) is refused rather than run.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "passwd.h"
#include "utf8.h"

#define SALT_LEN 16
#define DK_LEN 32
#define MAXMEM ((uint64_t)1 << 30)

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* base64 without padding; returns the length written or 0 if it does not fit. */
static size_t b64_encode(char *out, size_t outlen, const unsigned char *in, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t chunk = n - i < 3 ? n - i : 3;

		if (chunk > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (chunk > 2)
			v |= in[i + 2];
		if (o + chunk + 1 >= outlen)
			return 0;
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (chunk > 1)
			out[o++] = b64[(v >> 6) & 63];
		if (chunk > 2)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* Strict decode of exactly `want` bytes from `len` characters. */
static int b64_decode(unsigned char *out, size_t want, const char *in, size_t len)
{
	uint32_t acc = 0;
	size_t bits = 0, o = 0;

	if (len != (want * 4 + 2) / 3)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(in[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* Leftover bits must be zero: one string per byte sequence. */
	return o == want && acc == 0 ? 0 : -1;
}

int passwd_scrypt_raw(unsigned char *out, size_t outlen, const char *password, size_t pwlen,
                      const unsigned char *salt, size_t saltlen, uint64_t n, uint32_t r, uint32_t p)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	uint64_t maxmem = MAXMEM;
	OSSL_PARAM params[7];
	int ok;

	EVP_KDF_free(kdf);
	if (ctx == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)(uintptr_t)password, pwlen);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)salt, saltlen);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	params[6] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(ctx, out, outlen, params) == 1;
	EVP_KDF_CTX_free(ctx);
	return ok ? 0 : -1;
}

int passwd_hash(char out[PASSWD_HASH_MAX], const char *password, size_t pwlen, unsigned int ln)
{
	unsigned char salt[SALT_LEN], dk[DK_LEN];
	char s64[32], d64[48];
	int r = -1;

	out[0] = '\0';
	if (ln < 10 || ln > 22 || RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	if (passwd_scrypt_raw(dk, sizeof(dk), password, pwlen, salt, sizeof(salt), (uint64_t)1 << ln, 8, 1) != 0)
		goto out;
	if (b64_encode(s64, sizeof(s64), salt, sizeof(salt)) == 0 || b64_encode(d64, sizeof(d64), dk, sizeof(dk)) == 0)
		goto out;
	snprintf(out, PASSWD_HASH_MAX, "$scrypt$ln=%u,r=8,p=1$%s$%s", ln, s64, d64);
	r = 0;
out:
	OPENSSL_cleanse(dk, sizeof(dk));
	OPENSSL_cleanse(d64, sizeof(d64));
	return r;
}

/* A decimal 1..max with no sign, no leading zero; advances *s. */
static int number(const char **s, unsigned int max, unsigned int *out)
{
	const char *p = *s;
	unsigned int v = 0;

	if (*p < '1' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (unsigned int)(*p - '0');
		if (v > max)
			return -1;
		p++;
	}
	*s = p;
	*out = v;
	return 0;
}

static int expect(const char **s, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*s, lit, n) != 0)
		return -1;
	*s += n;
	return 0;
}

int passwd_verify(const char *stored, const char *password, size_t pwlen, unsigned int want_ln, int *needs_rehash)
{
	unsigned char salt[SALT_LEN], want[DK_LEN], got[DK_LEN];
	unsigned int ln, r, p;
	const char *s = stored, *salt_end;
	int match;

	*needs_rehash = 0;
	if (stored == NULL || strnlen(stored, PASSWD_HASH_MAX) >= PASSWD_HASH_MAX)
		return -1;
	if (expect(&s, "$scrypt$ln=") || number(&s, 30, &ln) || expect(&s, ",r=") || number(&s, 32, &r) ||
	    expect(&s, ",p=") || number(&s, 16, &p) || expect(&s, "$"))
		return -1;
	/* scrypt needs 128 * r * N bytes: refuse what exceeds the cap. */
	if (((uint64_t)128 * r << ln) > MAXMEM)
		return -1;
	if ((salt_end = strchr(s, '$')) == NULL || b64_decode(salt, sizeof(salt), s, (size_t)(salt_end - s)) != 0 ||
	    b64_decode(want, sizeof(want), salt_end + 1, strlen(salt_end + 1)) != 0)
		return -1;
	if (passwd_scrypt_raw(got, sizeof(got), password, pwlen, salt, sizeof(salt), (uint64_t)1 << ln, r, p) != 0)
		return -1;
	match = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	*needs_rehash = match && (ln != want_ln || r != 8 || p != 1);
	return match;
}

void passwd_dummy_verify(const char *password, size_t pwlen, unsigned int ln)
{
	static const unsigned char salt[SALT_LEN] = {0};
	unsigned char dk[DK_LEN];

	if (ln < 10 || ln > 22)
		ln = PASSWD_DEFAULT_LN;
	(void)passwd_scrypt_raw(dk, sizeof(dk), password, pwlen, salt, sizeof(salt), (uint64_t)1 << ln, 8, 1);
	OPENSSL_cleanse(dk, sizeof(dk));
}

int passwd_check_policy(const char *password, size_t pwlen, char *err, size_t errlen)
{
	if (pwlen < PASSWD_MIN_LEN || pwlen > PASSWD_MAX_LEN) {
		if (err)
			snprintf(err, errlen, "a password must be %d to %d bytes long (this one is %zu)", PASSWD_MIN_LEN,
			         PASSWD_MAX_LEN, pwlen);
		return -1;
	}
	if (!utf8_valid_text(password, pwlen)) {
		if (err)
			snprintf(err, errlen, "a password must be UTF-8 text without control characters");
		return -1;
	}
	return 0;
}
