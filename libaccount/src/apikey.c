/*
 * API keys: created once and shown once, then known to the store only
 * by their public id and the SHA-256 of their secret (a 256-bit random
 * secret needs no slow hash: there is nothing to guess).  The format
 * lives in keyfmt.c; scopes, expiry and revocation live here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "keyfmt.h"
#include "validate.h"

static int scopes_from_text(unsigned int *out, const char *text)
{
	return validate_scopes(out, text, NULL, 0);
}

static acct_apikey *key_from_rec(const rec_key *k)
{
	acct_apikey *out = calloc(1, sizeof(*out));

	if (out == NULL)
		return NULL;
	memcpy(out->id, k->public_id, sizeof(out->id));
	out->account = strdup(k->account);
	out->name = strdup(k->name);
	if (scopes_from_text(&out->scopes, k->scopes) != 0)
		out->scopes = 0; /* a scope this version does not know grants nothing */
	out->created_at = k->created_at;
	out->expires_at = k->expires_at;
	out->last_used_at = k->last_used_at;
	out->revoked_at = k->revoked_at;
	if (out->account == NULL || out->name == NULL) {
		acct_apikey_free(out);
		return NULL;
	}
	return out;
}

void acct_apikey_free(acct_apikey *key)
{
	if (key == NULL)
		return;
	free(key->account);
	free(key->name);
	free(key);
}

int acct_scopes_parse(unsigned int *out, acct_db *db, const char *text)
{
	char msg[256];

	if (out == NULL)
		return ACCT_EINVAL;
	if (text == NULL || validate_scopes(out, text, msg, sizeof(msg)) != 0)
		return acct__err(db, ACCT_EINVAL, "%s", text ? msg : "scopes are required");
	return ACCT_OK;
}

int acct_scopes_format(char *buf, size_t buflen, unsigned int scopes)
{
	if (buf == NULL || scopes_format(buf, buflen, scopes) != 0)
		return ACCT_EINVAL;
	return ACCT_OK;
}

int acct_expiry_parse(int64_t *out, acct_db *db, const char *text)
{
	long long v;
	char msg[256];

	if (out == NULL || db == NULL)
		return ACCT_EINVAL;
	if (text == NULL || validate_expiry(&v, text, (long long)acct_now(db), msg, sizeof(msg)) != 0)
		return acct__err(db, ACCT_EINVAL, "%s", text ? msg : "an expiry is required");
	*out = (int64_t)v;
	return ACCT_OK;
}

int acct_since_parse(int64_t *out, acct_db *db, const char *text)
{
	long long v;
	char msg[256];

	if (out == NULL || db == NULL)
		return ACCT_EINVAL;
	if (text == NULL || validate_since(&v, text, (long long)acct_now(db), msg, sizeof(msg)) != 0)
		return acct__err(db, ACCT_EINVAL, "%s", text ? msg : "a time is required");
	*out = (int64_t)v;
	return ACCT_OK;
}

int acct_apikey_add(acct_apikey **out, char key_out[ACCT_KEY_MAX + 1], acct_db *db, const char *account,
                    const char *name, unsigned int scopes, int64_t expires_at)
{
	char key[KEY_LEN + 1], msg[256];
	rec_account a;
	rec_key k;
	int r;

	if (out)
		*out = NULL;
	if (key_out == NULL || db == NULL)
		return ACCT_EINVAL;
	key_out[0] = '\0';
	acct__clear(db);
	if (name == NULL || validate_label(name, REC_LABEL_MAX, msg, sizeof(msg)) != 0)
		return acct__err(db, ACCT_EINVAL, "key name: %s", name ? msg : "required");
	if (scopes == 0 || (scopes & ~(unsigned int)ACCT_SCOPE_ALL) != 0)
		return acct__err(db, ACCT_EINVAL, "a key needs at least one scope, from: mail.send, accounts.read, "
		                                  "accounts.write, keys.read, keys.write, settings.read, settings.write");
	if (expires_at != 0 && expires_at <= acct_now(db))
		return acct__err(db, ACCT_EINVAL, "the expiry is in the past");

	memset(&k, 0, sizeof(k));
	memcpy(k.name, name, strlen(name) + 1);
	(void)scopes_format(k.scopes, sizeof(k.scopes), scopes);
	k.created_at = acct_now(db);
	k.expires_at = expires_at;
	if (keyfmt_generate(key, k.public_id) != 0 || keyfmt_hash_secret(key, k.secret_hash) != 0)
		return acct__err(db, ACCT_EINTERNAL, "the random generator failed");

	if ((r = acct__begin(db)) != ACCT_OK)
		goto wipe;
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		goto out;
	k.account_id = a.id;
	memcpy(k.account, a.name, sizeof(k.account));
	r = STORE(db)->key_insert(db->st, &k);
	if (r == ACCT_EEXISTS) {
		/* The id is random: a clash is a live key with this name. */
		r = acct__err(db, r, "account '%s' already has a key named '%s'; revoke it or choose another name",
		              a.name, name);
		goto out;
	}
	if (r != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	snprintf(msg, sizeof(msg), "name=%s scopes=%s expires=%lld", k.name, k.scopes, (long long)k.expires_at);
	r = acct__audit(db, "apikey.add", a.name, k.public_id, msg, NULL);
out:
	if ((r = acct__end(db, r)) == ACCT_OK) {
		memcpy(key_out, key, sizeof(key));
		if (out && (*out = key_from_rec(&k)) == NULL)
			r = acct__err(db, ACCT_ENOMEM, "out of memory (the key was created: %s)", k.public_id);
	}
wipe:
	acct_wipe(key, sizeof(key));
	acct_wipe(k.secret_hash, sizeof(k.secret_hash));
	return r;
}

static int key_load(acct_db *db, const char *id, rec_key *out)
{
	char pid[KEY_ID_LEN + 1];
	int r;

	if (id == NULL || !keyfmt_parse_id(id, pid))
		return acct__err(db, ACCT_EINVAL, "'%.*s' is not a key id; a key id is 12 letters and digits, "
		                                  "as shown by 'apikey list'", 40, id ? id : "");
	r = STORE(db)->key_get(db->st, pid, out);
	if (r == ACCT_ENOTFOUND)
		return acct__err(db, r, "no key with id %s", pid);
	return r == ACCT_OK ? r : acct__store_err(db, r);
}

int acct_apikey_get(acct_apikey **out, acct_db *db, const char *id)
{
	rec_key k;
	int r;

	if (out == NULL || db == NULL)
		return ACCT_EINVAL;
	*out = NULL;
	acct__clear(db);
	if ((r = key_load(db, id, &k)) != ACCT_OK)
		return r;
	*out = key_from_rec(&k);
	return *out ? ACCT_OK : acct__err(db, ACCT_ENOMEM, "out of memory");
}

struct key_walk {
	acct_apikey_cb cb;
	void *ctx;
	int oom;
};

static int key_walk_one(const rec_key *rec, void *ctx)
{
	struct key_walk *w = ctx;
	acct_apikey *k = key_from_rec(rec);
	int r;

	if (k == NULL) {
		w->oom = 1;
		return ACCT_ENOMEM;
	}
	r = w->cb(k, w->ctx);
	acct_apikey_free(k);
	return r;
}

int acct_apikey_foreach(acct_db *db, const char *account, acct_apikey_cb cb, void *ctx)
{
	struct key_walk w = {cb, ctx, 0};
	rec_account a;
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		return r;
	r = STORE(db)->key_foreach(db->st, a.id, key_walk_one, &w);
	if (w.oom)
		return acct__err(db, ACCT_ENOMEM, "out of memory");
	if (r < 0 && db->st->err[0])
		return acct__store_err(db, r);
	return r;
}

int acct_apikey_revoke(acct_db *db, const char *id)
{
	rec_key k;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = key_load(db, id, &k)) != ACCT_OK)
		goto out;
	if (k.revoked_at != 0) {
		r = acct__err(db, ACCT_ECONFLICT, "key %s is already revoked", k.public_id);
		goto out;
	}
	k.revoked_at = acct_now(db);
	if ((r = STORE(db)->key_update(db->st, &k)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	r = acct__audit(db, "apikey.revoke", k.account, k.public_id, k.name, NULL);
out:
	return acct__end(db, r);
}
