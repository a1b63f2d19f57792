/*
 * The API key format: pstn_<id>_<secret><checksum>.
 *
 * The fixed prefix lets secret scanners recognise a leaked key; the id
 * names the key in lists and logs; the secret carries > 256 bits; the
 * checksum tells a mistyped key from a wrong one without a lookup.
 */
#ifndef ACCT_KEYFMT_H
#define ACCT_KEYFMT_H

#include <stddef.h>

#define KEY_PREFIX "pstn_"
#define KEY_PREFIX_LEN 5
#define KEY_ID_LEN 12
#define KEY_SECRET_LEN 44
#define KEY_CKSUM_LEN 6
#define KEY_LEN (KEY_PREFIX_LEN + KEY_ID_LEN + 1 + KEY_SECRET_LEN + KEY_CKSUM_LEN)
#define KEY_HASH_LEN 32

enum { KEYFMT_OK = 0, KEYFMT_MALFORMED = 1, KEYFMT_BAD_CHECKSUM = 2, KEYFMT_ERROR = -1 };

/* A new random key and its id, NUL-terminated; the caller wipes key. */
int keyfmt_generate(char key[KEY_LEN + 1], char id[KEY_ID_LEN + 1]);

/* Parse untrusted input of `len` bytes.  KEYFMT_MALFORMED for the wrong
 * shape; KEYFMT_BAD_CHECKSUM (id filled) for the right shape with a
 * wrong checksum; KEYFMT_OK with the id and the SHA-256 of the secret. */
int keyfmt_parse(const char *key, size_t len, char id[KEY_ID_LEN + 1], unsigned char hash[KEY_HASH_LEN]);

/* The hash the store keeps for a well-formed key. */
int keyfmt_hash_secret(const char *key, unsigned char hash[KEY_HASH_LEN]);

/* 1 if text is a key id, bare or as "pstn_<id>"; the id goes to id_out. */
int keyfmt_parse_id(const char *text, char id_out[KEY_ID_LEN + 1]);

#endif
