/* The answer cache of postern-hookd (see cache.h). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

typedef struct entry {
	unsigned char digest[32];
	int used;
	int64_t filled, expires_at; /* expires_at 0 = never */
	char account[ACCT_NAME_MAX + 1];
	char key_id[ACCT_KEY_ID_MAX + 1];
	acct_tls tls;
} entry;

struct cache {
	int synced;
	int64_t version;
	unsigned char salt[16];
	EVP_MD *md;
	EVP_MD_CTX *ctx;
	entry auth[CACHE_SLOTS];
	entry rcpt[CACHE_SLOTS];
};

cache *cache_new(void)
{
	cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	if (RAND_bytes(c->salt, sizeof(c->salt)) != 1 || (c->md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (c->ctx = EVP_MD_CTX_new()) == NULL) {
		cache_free(c);
		return NULL;
	}
	return c;
}

void cache_free(cache *c)
{
	if (c == NULL)
		return;
	EVP_MD_CTX_free(c->ctx);
	EVP_MD_free(c->md);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

void cache_clear(cache *c)
{
	OPENSSL_cleanse(c->auth, sizeof(c->auth));
	OPENSSL_cleanse(c->rcpt, sizeof(c->rcpt));
	c->synced = 0;
}

int cache_sync(cache *c, acct_db *db)
{
	int64_t v;
	int r = acct_data_version(&v, db);

	if (r != ACCT_OK) {
		cache_clear(c);
		return r;
	}
	if (!c->synced || v != c->version) {
		cache_clear(c);
		c->version = v;
		c->synced = 1;
	}
	return ACCT_OK;
}

/* digest = SHA-256(salt || kind || a || NUL || b); 0 or -1. */
static int digest(cache *c, unsigned char out[32], char kind, const char *a, const char *b)
{
	unsigned int n = 0;

	if (EVP_DigestInit_ex(c->ctx, c->md, NULL) != 1 || EVP_DigestUpdate(c->ctx, c->salt, sizeof(c->salt)) != 1 ||
	    EVP_DigestUpdate(c->ctx, &kind, 1) != 1 || EVP_DigestUpdate(c->ctx, a, strlen(a) + 1) != 1 ||
	    EVP_DigestUpdate(c->ctx, b, strlen(b)) != 1 || EVP_DigestFinal_ex(c->ctx, out, &n) != 1 || n != 32)
		return -1;
	return 0;
}

/* The set of CACHE_WAYS entries a digest may live in: a few ways, so
 * that two questions of a small working set that hash alike do not
 * evict each other on every request. */
static entry *set(entry *table, const unsigned char d[32])
{
	size_t i = ((size_t)d[0] | (size_t)d[1] << 8 | (size_t)d[2] << 16) & (CACHE_SLOTS / CACHE_WAYS - 1);

	return &table[i * CACHE_WAYS];
}

static int usable(const entry *e, int64_t now)
{
	return e->used && now - e->filled < CACHE_TTL && now >= e->filled &&
	       (e->expires_at == 0 || now < e->expires_at);
}

static entry *find(cache *c, entry *table, char kind, const char *a, const char *b, int64_t now)
{
	unsigned char d[32];
	entry *s, *e = NULL;

	if (!c->synced || digest(c, d, kind, a, b) != 0)
		return NULL;
	s = set(table, d);
	for (int w = 0; w < CACHE_WAYS && e == NULL; w++)
		if (s[w].used && CRYPTO_memcmp(s[w].digest, d, sizeof(d)) == 0)
			e = &s[w];
	if (e != NULL && !usable(e, now))
		e = NULL;
	OPENSSL_cleanse(d, sizeof(d));
	return e;
}

static entry *put(cache *c, entry *table, char kind, const char *a, const char *b, int64_t now)
{
	unsigned char d[32];
	entry *s, *e = NULL;

	if (!c->synced || digest(c, d, kind, a, b) != 0)
		return NULL;
	s = set(table, d);
	/* The same question's entry, else a free or stale one, else the oldest. */
	for (int w = 0; w < CACHE_WAYS && e == NULL; w++)
		if (s[w].used && CRYPTO_memcmp(s[w].digest, d, sizeof(d)) == 0)
			e = &s[w];
	for (int w = 0; w < CACHE_WAYS && e == NULL; w++)
		if (!usable(&s[w], now))
			e = &s[w];
	if (e == NULL) {
		e = s;
		for (int w = 1; w < CACHE_WAYS; w++)
			if (s[w].filled < e->filled)
				e = &s[w];
	}
	memset(e, 0, sizeof(*e));
	memcpy(e->digest, d, sizeof(d));
	OPENSSL_cleanse(d, sizeof(d));
	e->used = 1;
	e->filled = now;
	return e;
}

int cache_auth_get(cache *c, acct_verdict *out, const char *key, const char *address, int64_t now)
{
	entry *e = find(c, c->auth, 'A', key, address ? address : "", now);

	if (e == NULL)
		return 0;
	memset(out, 0, sizeof(*out));
	out->kind = ACCT_ALLOW;
	out->reason = ACCT_R_OK;
	memcpy(out->account, e->account, sizeof(out->account));
	memcpy(out->key_id, e->key_id, sizeof(out->key_id));
	return 1;
}

void cache_auth_put(cache *c, const acct_verdict *v, const char *key, const char *address, int64_t expires_at,
                    int64_t now)
{
	entry *e;

	if (v->kind != ACCT_ALLOW || (e = put(c, c->auth, 'A', key, address ? address : "", now)) == NULL)
		return;
	e->expires_at = expires_at;
	memcpy(e->account, v->account, sizeof(e->account));
	memcpy(e->key_id, v->key_id, sizeof(e->key_id));
}

int cache_rcpt_get(cache *c, acct_tls *out, const char *account, const char *address, int64_t now)
{
	entry *e = find(c, c->rcpt, 'R', account, address ? address : "", now);

	if (e == NULL)
		return 0;
	*out = e->tls;
	return 1;
}

void cache_rcpt_put(cache *c, const acct_tls *tls, const char *account, const char *address, int64_t now)
{
	entry *e = put(c, c->rcpt, 'R', account, address ? address : "", now);

	if (e != NULL)
		e->tls = *tls;
}
