/*
 * Password hashing: scrypt through OpenSSL 3's EVP_KDF, stored as a
 * self-describing string so the cost can be raised later while old
 * hashes still verify (and are rewritten at the next good login):
 *   $scrypt$ln=15,r=8,p=1$<salt: 16 bytes, base64>$<hash: 32 bytes, base64>
 * (standard base64 alphabet, no padding).
 */
#ifndef ACCT_PASSWD_H
#define ACCT_PASSWD_H

#include <stddef.h>
#include <stdint.h>

#define PASSWD_HASH_MAX 160
#define PASSWD_MIN_LEN 10
#define PASSWD_MAX_LEN 1024
#define PASSWD_DEFAULT_LN 15

/* 0 or -1 (ln outside 10..22, or the KDF failed). */
int passwd_hash(char out[PASSWD_HASH_MAX], const char *password, size_t pwlen, unsigned int ln);

/* 1 match, 0 mismatch, -1 malformed stored string or KDF failure.
 * *needs_rehash = 1 when the stored cost differs from (want_ln, 8, 1). */
int passwd_verify(const char *stored, const char *password, size_t pwlen, unsigned int want_ln, int *needs_rehash);

/* The time of a real verify at cost ln, for users that do not exist. */
void passwd_dummy_verify(const char *password, size_t pwlen, unsigned int ln);

/* 10..1024 bytes of UTF-8 without control characters; the message never
 * quotes the password. */
int passwd_check_policy(const char *password, size_t pwlen, char *err, size_t errlen);

/* The raw KDF, for known-answer tests. */
int passwd_scrypt_raw(unsigned char *out, size_t outlen, const char *password, size_t pwlen,
                      const unsigned char *salt, size_t saltlen, uint64_t n, uint32_t r, uint32_t p);

#endif
