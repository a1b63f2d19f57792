/*
 * The TOTP master key: a small key file outside the database holding
 * one or more AES-256 keys, each with an id, the first being current;
 * and the AES-256-GCM seal/open of a TOTP secret under one of them.
 * See masterkey.c for the file format and its rules.
 */
#ifndef ACCT_MASTERKEY_H
#define ACCT_MASTERKEY_H

#include <stddef.h>
#include <stdint.h>

#define MK_KEY_LEN 32
#define MK_ID_LEN 16 /* hex of 8 random bytes */
#define MK_NONCE_LEN 12
#define MK_TAG_LEN 16
#define MK_MAX_KEYS 8
#define MK_PATH_MAX 1024
#define MK_ERR_MAX 512

typedef struct mk_key {
	char id[MK_ID_LEN + 1];
	unsigned char key[MK_KEY_LEN];
} mk_key;

/* The keys of one file; keys[0] is the current one. */
typedef struct mk_ring {
	mk_key keys[MK_MAX_KEYS];
	int n;
} mk_ring;

/*
 * Load the key file at `path`.  With `create`, a missing file is made
 * (0600, O_EXCL) with one fresh key.  Returns ACCT_OK,
 * ACCT_EUNAVAIL (missing, unreadable), ACCT_EPERM (no access, or the
 * file is open to group/others), ACCT_EINVAL (malformed), with a
 * message naming the path in `err` (never key material).
 */
int mk_load(mk_ring *out, const char *path, int create, char *err, size_t errlen);

/* Replace the file atomically: temp file 0600, fsync, rename, fsync dir. */
int mk_write(const char *path, const mk_ring *ring, char *err, size_t errlen);

/* A fresh random key with a fresh id. */
int mk_generate(mk_key *out);

/* The key with this id, or NULL. */
const mk_key *mk_find(const mk_ring *ring, const char *id);

/* Overwrite every key. */
void mk_wipe(mk_ring *ring);

/*
 * Seal `n` bytes: a random nonce is written to `nonce` and n + MK_TAG_LEN
 * bytes (ciphertext then tag) to `out`.  The user id and key id are
 * authenticated, so a ciphertext moved to another user or relabelled
 * with another key id does not open.  0 or -1.
 */
int mk_seal(const mk_key *k, int64_t user_id, const unsigned char *in, size_t n,
            unsigned char nonce[MK_NONCE_LEN], unsigned char *out);

/* Open what mk_seal made; `len` includes the tag; out gets len - MK_TAG_LEN
 * bytes.  0, or -1 when it does not authenticate (wrong key, tampering). */
int mk_open(const mk_key *k, int64_t user_id, const unsigned char nonce[MK_NONCE_LEN], const unsigned char *in,
            size_t len, unsigned char *out);

#endif
