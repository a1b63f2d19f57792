/*
 * Users: the people who log in to an account with an email and a
 * password.  Passwords are kept only as scrypt hashes (passwd.c) and
 * are never copied anywhere but the KDF; a hash made with older cost
 * parameters is replaced on the next successful login.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "passwd.h"
#include "validate.h"

static acct_user *user_from_rec(const rec_user *u)
{
	acct_user *out = calloc(1, sizeof(*out));

	if (out == NULL)
		return NULL;
	out->id = u->id;
	out->email = strdup(u->email);
	out->account = strdup(u->account);
	out->disabled = u->disabled;
	out->has_password = u->password_hash[0] != '\0';
	out->created_at = u->created_at;
	out->password_changed_at = u->password_changed_at;
	if (out->email == NULL || out->account == NULL) {
		acct_user_free(out);
		return NULL;
	}
	return out;
}

void acct_user_free(acct_user *user)
{
	if (user == NULL)
		return;
	free(user->email);
	free(user->account);
	free(user);
}

/* Normalise an email for lookup; the message never echoes more than the input. */
static int norm_email(acct_db *db, char out[ACCT_EMAIL_MAX + 1], const char *email)
{
	char msg[320];

	if (email == NULL || *email == '\0')
		return acct__err(db, ACCT_EINVAL, "an email address is required");
	if (validate_email(out, ACCT_EMAIL_MAX + 1, email, msg, sizeof(msg)) != 0)
		return acct__err(db, ACCT_EINVAL, "%s", msg);
	return ACCT_OK;
}

static int hash_password(acct_db *db, char out[PASSWD_HASH_MAX], const char *password)
{
	char msg[256];
	size_t n = strlen(password);

	if (passwd_check_policy(password, n, msg, sizeof(msg)) != 0)
		return acct__err(db, ACCT_EINVAL, "%s", msg);
	if (passwd_hash(out, password, n, db->scrypt_ln) != 0)
		return acct__err(db, ACCT_EINTERNAL, "hashing the password failed");
	return ACCT_OK;
}

int acct__user_load(acct_db *db, const char *email, rec_user *out)
{
	char norm[ACCT_EMAIL_MAX + 1];
	int r;

	if ((r = norm_email(db, norm, email)) != ACCT_OK)
		return r;
	r = STORE(db)->user_get(db->st, norm, out);
	if (r == ACCT_ENOTFOUND)
		return acct__err(db, r, "no user '%s'", norm);
	return r == ACCT_OK ? r : acct__store_err(db, r);
}

int acct_user_add(acct_db *db, const char *account, const char *email, const char *password)
{
	rec_account a;
	rec_user u;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	memset(&u, 0, sizeof(u));
	if ((r = norm_email(db, u.email, email)) != ACCT_OK)
		return r;
	u.created_at = acct_now(db);
	if (password) {
		if ((r = hash_password(db, u.password_hash, password)) != ACCT_OK)
			return r;
		u.password_changed_at = u.created_at;
	}
	if ((r = acct__begin(db)) != ACCT_OK)
		goto wipe;
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		goto out;
	u.account_id = a.id;
	r = STORE(db)->user_insert(db->st, &u);
	if (r == ACCT_EEXISTS) {
		r = acct__err(db, r, "a user '%s' already exists", u.email);
		goto out;
	}
	if (r != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	r = acct__audit(db, "user.add", a.name, u.email, password ? "password set" : "no password", NULL);
out:
	r = acct__end(db, r);
wipe:
	acct_wipe(u.password_hash, sizeof(u.password_hash));
	return r;
}

int acct_user_get(acct_user **out, acct_db *db, const char *email)
{
	rec_user u;
	int r;

	if (out == NULL || db == NULL)
		return ACCT_EINVAL;
	*out = NULL;
	acct__clear(db);
	if ((r = acct__user_load(db, email, &u)) != ACCT_OK)
		return r;
	*out = user_from_rec(&u);
	acct_wipe(u.password_hash, sizeof(u.password_hash));
	return *out ? ACCT_OK : acct__err(db, ACCT_ENOMEM, "out of memory");
}

struct user_walk {
	acct_user_cb cb;
	void *ctx;
	int oom;
};

static int user_walk_one(const rec_user *rec, void *ctx)
{
	struct user_walk *w = ctx;
	acct_user *u = user_from_rec(rec);
	int r;

	if (u == NULL) {
		w->oom = 1;
		return ACCT_ENOMEM;
	}
	r = w->cb(u, w->ctx);
	acct_user_free(u);
	return r;
}

int acct_user_foreach(acct_db *db, const char *account, acct_user_cb cb, void *ctx)
{
	struct user_walk w = {cb, ctx, 0};
	rec_account a;
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__account_load(db, account, &a)) != ACCT_OK)
		return r;
	r = STORE(db)->user_foreach(db->st, a.id, user_walk_one, &w);
	if (w.oom)
		return acct__err(db, ACCT_ENOMEM, "out of memory");
	if (r < 0 && db->st->err[0])
		return acct__store_err(db, r);
	return r;
}

int acct_user_set_password(acct_db *db, const char *email, const char *password)
{
	char hash[PASSWD_HASH_MAX];
	rec_user u;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	memset(&u, 0, sizeof(u));
	if (password == NULL)
		return acct__err(db, ACCT_EINVAL, "a password is required");
	if ((r = hash_password(db, hash, password)) != ACCT_OK)
		return r;
	if ((r = acct__begin(db)) != ACCT_OK)
		goto wipe;
	if ((r = acct__user_load(db, email, &u)) != ACCT_OK)
		goto out;
	memcpy(u.password_hash, hash, sizeof(hash));
	u.password_changed_at = acct_now(db);
	if ((r = STORE(db)->user_update(db->st, &u)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	r = acct__audit(db, "user.passwd", u.account, u.email, NULL, NULL);
out:
	r = acct__end(db, r);
wipe:
	acct_wipe(hash, sizeof(hash));
	acct_wipe(u.password_hash, sizeof(u.password_hash));
	return r;
}

int acct_user_set_disabled(acct_db *db, const char *email, int disabled)
{
	rec_user u;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = acct__user_load(db, email, &u)) != ACCT_OK)
		goto out;
	if (u.disabled == (disabled ? 1 : 0))
		goto out;
	u.disabled = disabled ? 1 : 0;
	if ((r = STORE(db)->user_update(db->st, &u)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	r = acct__audit(db, disabled ? "user.disable" : "user.enable", u.account, u.email, NULL, NULL);
out:
	acct_wipe(u.password_hash, sizeof(u.password_hash));
	return acct__end(db, r);
}

int acct_user_del(acct_db *db, const char *email)
{
	rec_user u;
	int r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = acct__user_load(db, email, &u)) != ACCT_OK)
		goto out;
	if ((r = STORE(db)->user_delete(db->st, u.id)) != ACCT_OK) {
		r = acct__store_err(db, r);
		goto out;
	}
	r = acct__audit(db, "user.delete", u.account, u.email, NULL, NULL);
out:
	acct_wipe(u.password_hash, sizeof(u.password_hash));
	return acct__end(db, r);
}

/*
 * The password check behind acct_user_verify_password and the login
 * decisions.  `u` is filled when the user exists.  Returns ACCT_OK,
 * ACCT_EDENIED (wrong, unknown or no password: same time for all) or
 * a store failure.
 */
int acct__password_check(acct_db *db, const char *email, const char *password, rec_user *u, int *known)
{
	char norm[ACCT_EMAIL_MAX + 1], fresh[PASSWD_HASH_MAX];
	size_t pwlen = password ? strlen(password) : 0;
	int r, match, rehash = 0;

	*known = 0;
	memset(u, 0, sizeof(*u));
	if (password == NULL || pwlen > PASSWD_MAX_LEN || email == NULL ||
	    validate_email(norm, sizeof(norm), email, NULL, 0) != 0) {
		passwd_dummy_verify(password ? password : "", pwlen > PASSWD_MAX_LEN ? 0 : pwlen, db->scrypt_ln);
		return acct__err(db, ACCT_EDENIED, "wrong email or password");
	}
	r = STORE(db)->user_get(db->st, norm, u);
	if (r != ACCT_OK && r != ACCT_ENOTFOUND)
		return acct__store_err(db, r);
	if (r == ACCT_ENOTFOUND || u->password_hash[0] == '\0') {
		*known = r == ACCT_OK;
		passwd_dummy_verify(password, pwlen, db->scrypt_ln);
		return acct__err(db, ACCT_EDENIED, "wrong email or password");
	}
	*known = 1;
	match = passwd_verify(u->password_hash, password, pwlen, db->scrypt_ln, &rehash);
	if (match != 1)
		return acct__err(db, ACCT_EDENIED, "wrong email or password");
	if (rehash && passwd_hash(fresh, password, pwlen, db->scrypt_ln) == 0) {
		/* Best effort: a busy store must not turn a good login into a failure. */
		if (STORE(db)->begin(db->st) == ACCT_OK) {
			memcpy(u->password_hash, fresh, sizeof(fresh));
			if (STORE(db)->user_update(db->st, u) == ACCT_OK &&
			    acct__audit(db, "user.rehash", u->account, u->email, "password hash upgraded", NULL) == ACCT_OK)
				(void)acct__end(db, ACCT_OK);
			else
				STORE(db)->rollback(db->st);
		}
		acct_wipe(fresh, sizeof(fresh));
	}
	return ACCT_OK;
}

int acct_user_verify_password(acct_db *db, const char *email, const char *password)
{
	rec_user u;
	int known, r;

	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	r = acct__password_check(db, email, password, &u, &known);
	acct_wipe(&u, sizeof(u));
	return r;
}
