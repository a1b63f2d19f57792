/*
 * The acct_db handle: opening a store, bringing its schema up to date,
 * the per-handle error message, actor and clock, and the transaction
 * and audit helpers that every other module of the library uses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "db_internal.h"
#include "migrate.h"
#include "passwd.h"

const char *acct_strerror(int code)
{
	switch (code) {
	case ACCT_OK: return "success";
	case ACCT_EINVAL: return "invalid input";
	case ACCT_ENOTFOUND: return "not found";
	case ACCT_EEXISTS: return "already exists";
	case ACCT_ECONFLICT: return "conflicts with the current state";
	case ACCT_EDENIED: return "denied";
	case ACCT_EBUSY: return "database busy";
	case ACCT_EUNAVAIL: return "store unavailable";
	case ACCT_EPERM: return "permission denied";
	case ACCT_EVERSION: return "database from a newer version";
	case ACCT_ENOMEM: return "out of memory";
	default: return "internal error";
	}
}

int acct__err(acct_db *db, int code, const char *fmt, ...)
{
	va_list ap;

	if (db) {
		va_start(ap, fmt);
		vsnprintf(db->err, sizeof(db->err), fmt, ap);
		va_end(ap);
	}
	return code;
}

int acct__store_err(acct_db *db, int code)
{
	return acct__err(db, code, "%s", db->st->err[0] ? db->st->err : acct_strerror(code));
}

void acct__clear(acct_db *db)
{
	db->err[0] = '\0';
	db->st->err[0] = '\0';
}

int acct__is_unavailable(int code)
{
	return code == ACCT_EBUSY || code == ACCT_EUNAVAIL || code == ACCT_EPERM || code == ACCT_ENOMEM ||
	       code == ACCT_EINTERNAL || code == ACCT_EVERSION;
}

int acct__begin(acct_db *db)
{
	int r = STORE(db)->begin(db->st);

	return r == ACCT_OK ? r : acct__store_err(db, r);
}

int acct__end(acct_db *db, int r)
{
	if (r == ACCT_OK) {
		if ((r = STORE(db)->commit(db->st)) == ACCT_OK)
			return ACCT_OK;
		r = acct__store_err(db, r);
	}
	STORE(db)->rollback(db->st);
	return r;
}

int acct__audit(acct_db *db, const char *action, const char *account, const char *target, const char *detail,
                const char *address)
{
	int r = STORE(db)->audit_insert(db->st, acct_now(db), db->actor, action, account, target, detail, address);

	return r == ACCT_OK ? r : acct__store_err(db, r);
}

int acct__account_load(acct_db *db, const char *name, rec_account *out)
{
	int r;

	if (name == NULL || *name == '\0')
		return acct__err(db, ACCT_EINVAL, "an account name is required");
	r = STORE(db)->account_get(db->st, name, out);
	if (r == ACCT_ENOTFOUND)
		return acct__err(db, r, "no account named '%.*s'", ACCT_NAME_MAX, name);
	return r == ACCT_OK ? r : acct__store_err(db, r);
}

/* Apply every migration newer than the file, one transaction each. */
static int migrate(acct_db *db, int readonly)
{
	int r, have;

	if ((r = STORE(db)->check_application(db->st)) != ACCT_OK)
		return acct__store_err(db, r);
	if ((r = STORE(db)->schema_version(db->st, &have)) != ACCT_OK)
		return acct__store_err(db, r);
	if (have > acct_migration_count)
		return acct__err(db, ACCT_EVERSION,
		                 "the database has schema version %d, newer than this Postern knows (%d); "
		                 "use a newer Postern",
		                 have, acct_migration_count);
	if (have < acct_migration_count && readonly)
		return acct__err(db, ACCT_EVERSION,
		                 "the database has schema version %d and needs upgrading to %d; "
		                 "open it read-write once",
		                 have, acct_migration_count);
	for (const struct migration *m = acct_migrations; m->version != 0; m++) {
		if (m->version <= have)
			continue;
		if ((r = STORE(db)->migrate(db->st, m->version, m->sql)) != ACCT_OK)
			return acct__err(db, r, "migration %s failed: %s", m->name, db->st->err);
		have = m->version;
	}
	db->schema_version = have;
	return ACCT_OK;
}

/* Migrate only up to `version`: for tests that build old databases. */
int acct__migrate_to(acct_db *db, int version)
{
	int r;

	for (const struct migration *m = acct_migrations; m->version != 0 && m->version <= version; m++) {
		if (m->version <= db->schema_version)
			continue;
		if ((r = STORE(db)->migrate(db->st, m->version, m->sql)) != ACCT_OK)
			return acct__store_err(db, r);
		db->schema_version = m->version;
	}
	return ACCT_OK;
}

int acct__open_raw(acct_db **out, const char *path, const acct_open_options *opts, int run_migrations)
{
	acct_open_options defaults = ACCT_OPEN_OPTIONS_INIT;
	store_open_args args = {0};
	acct_db *db;
	int r;

	if (out == NULL)
		return ACCT_EINVAL;
	*out = NULL;
	if (opts == NULL)
		opts = &defaults;
	if ((db = calloc(1, sizeof(*db))) == NULL)
		return ACCT_ENOMEM;
	db->clock = opts->clock;
	db->clock_ctx = opts->clock_ctx;
	db->scrypt_ln = opts->scrypt_ln ? opts->scrypt_ln : PASSWD_DEFAULT_LN;
	snprintf(db->actor, sizeof(db->actor), "%s", opts->actor && *opts->actor ? opts->actor : "library");

	if (path == NULL || *path == '\0') {
		/* A handle with a message but no store: acct_errmsg works on it. */
		db->st = calloc(1, sizeof(*db->st));
		if (db->st == NULL) {
			free(db);
			return ACCT_ENOMEM;
		}
		*out = db;
		return acct__err(db, ACCT_EINVAL, "a database path is required");
	}
	if (opts->version != ACCT_OPEN_OPTIONS_VERSION) {
		db->st = calloc(1, sizeof(*db->st));
		*out = db;
		return acct__err(db, ACCT_EINVAL, "unsupported acct_open_options version %u", opts->version);
	}
	if (db->scrypt_ln < 10 || db->scrypt_ln > 22) {
		db->st = calloc(1, sizeof(*db->st));
		*out = db;
		return acct__err(db, ACCT_EINVAL, "scrypt_ln %u is out of range (10-22)", db->scrypt_ln);
	}
	if ((r = acct__2fa_configure(db, opts)) != ACCT_OK) {
		db->st = calloc(1, sizeof(*db->st));
		*out = db;
		return r;
	}
	args.readonly = opts->readonly;
	args.no_create = opts->no_create;
	args.busy_timeout_ms = opts->busy_timeout_ms;
	*out = db;
	r = store_backends[0]->open(&db->st, path, &args);
	if (db->st == NULL)
		return ACCT_ENOMEM;
	if (r != ACCT_OK)
		return acct__store_err(db, r);
	db->warnings = STORE(db)->warnings(db->st);
	if (run_migrations)
		return migrate(db, opts->readonly);
	return ACCT_OK;
}

int acct_open(acct_db **out, const char *path, const acct_open_options *opts)
{
	return acct__open_raw(out, path, opts, 1);
}

void acct_close(acct_db *db)
{
	if (db == NULL)
		return;
	if (db->st && db->st->ops)
		acct__touch_fini(db);
	if (db->st && db->st->ops)
		db->st->ops->close(db->st);
	else
		free(db->st);
	free(db);
}

const char *acct_errmsg(const acct_db *db)
{
	return db ? db->err : "no database handle";
}

unsigned int acct_warnings(const acct_db *db)
{
	return db ? db->warnings : 0;
}

int acct_schema_version(const acct_db *db)
{
	return db ? db->schema_version : 0;
}

int acct_data_version(int64_t *out, acct_db *db)
{
	int r;

	if (out == NULL)
		return ACCT_EINVAL;
	*out = 0;
	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (db->st == NULL || db->st->ops == NULL)
		return acct__err(db, ACCT_EUNAVAIL, "the store is not open");
	if ((r = STORE(db)->data_version(db->st, out)) != ACCT_OK)
		return acct__store_err(db, r);
	return ACCT_OK;
}

int acct_schema_latest(void)
{
	return acct_migration_count;
}

int acct_set_actor(acct_db *db, const char *actor)
{
	size_t n;

	if (db == NULL)
		return ACCT_EINVAL;
	if (actor == NULL || (n = strlen(actor)) == 0 || n > ACCT_ACTOR_MAX)
		return acct__err(db, ACCT_EINVAL, "an actor is 1 to %d bytes", ACCT_ACTOR_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)actor[i] < 0x20 || actor[i] == 0x7f)
			return acct__err(db, ACCT_EINVAL, "an actor may not contain control characters");
	memcpy(db->actor, actor, n + 1);
	return ACCT_OK;
}

void acct_set_clock(acct_db *db, acct_clock_fn clock, void *ctx)
{
	if (db == NULL)
		return;
	db->clock = clock;
	db->clock_ctx = ctx;
}

int64_t acct_now(const acct_db *db)
{
	if (db && db->clock)
		return db->clock(db->clock_ctx);
	return (int64_t)time(NULL);
}

void acct_wipe(void *buf, size_t len)
{
	if (buf && len)
		OPENSSL_cleanse(buf, len);
}
