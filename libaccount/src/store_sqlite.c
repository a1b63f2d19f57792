/*
 * The SQLite backend of the store layer: one database file shared by
 * the shell and the hook daemon, so WAL mode (readers never wait for a
 * writer), a busy timeout, write transactions taken with BEGIN
 * IMMEDIATE (a writer waits for the lock up front instead of failing
 * half-way with SQLITE_BUSY), foreign keys on.  Every statement is
 * prepared once per handle and kept, with bound parameters only: the
 * hook asks the same few questions thousands of times a second.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

enum q {
	Q_BEGIN,
	Q_COMMIT,
	Q_ROLLBACK,
	Q_ACCOUNT_INSERT,
	Q_ACCOUNT_GET,
	Q_ACCOUNT_ALL,
	Q_ACCOUNT_TOP,
	Q_ACCOUNT_CHILDREN,
	Q_ACCOUNT_COUNT_CHILDREN,
	Q_ACCOUNT_UPDATE,
	Q_ACCOUNT_DELETE,
	Q_USER_INSERT,
	Q_USER_GET,
	Q_USER_FOREACH,
	Q_USER_UPDATE,
	Q_USER_DELETE,
	Q_KEY_INSERT,
	Q_KEY_GET,
	Q_KEY_FOREACH,
	Q_KEY_UPDATE,
	Q_KEY_TOUCH,
	Q_IP_INSERT,
	Q_IP_DELETE,
	Q_IP_FOREACH,
	Q_AUDIT_INSERT,
	Q_AUDIT_QUERY,
	/* two-factor authentication */
	Q_TOTP_GET,
	Q_TOTP_PUT,
	Q_TOTP_DELETE,
	Q_TOTP_ALL,
	Q_RECOVERY_INSERT,
	Q_RECOVERY_DELETE,
	Q_RECOVERY_UNUSED,
	Q_RECOVERY_USE,
	Q_RECOVERY_COUNT,
	/* delivery events */
	Q_EVENT_PUT,
	Q_EVENT_EXPIRE,
	Q_PENDING_PUT,
	Q_PENDING_DEL,
	Q_PENDING_ALL,
	Q_LOGPOS_PUT,
	Q_LOGPOS_GET,
	Q_SMTPTLS_PUT,
	Q_SMTPTLS_DEL,
	Q_SMTPTLS_ALL,
	Q_EVENT_QUERY,
	Q_TLS_REPORT,
	Q_TLS_PROTOCOLS,
	Q_CLEAR_DOMAINS,
	Q_EVENT_PRUNE,
	Q_DATA_VERSION,
	/* MTA-STS policy cache */
	Q_STS_PUT,
	Q_STS_GET,
	Q_STS_ALL,
	Q_STS_TOUCH,
	Q_STS_DEL,
	Q_COUNT
};

#define ACCOUNT_COLS                                                                                             \
	"a.id, a.name, coalesce(a.parent_id, 0), coalesce(p.name, ''), coalesce(p.disabled, 0), a.disabled, "         \
	"a.require_2fa, a.smtp_password_auth, a.tls_mode, a.tls_require_valid_cert, a.tls_min_version, a.created_at " \
	"FROM account a LEFT JOIN account p ON p.id = a.parent_id "
#define USER_COLS                                                                                   \
	"u.id, u.account_id, u.created_at, coalesce(u.password_changed_at, 0), u.email, a.name, "          \
	"coalesce(u.password_hash, ''), u.disabled FROM user u JOIN account a ON a.id = u.account_id "
#define KEY_COLS                                                                                          \
	"k.id, k.account_id, k.created_at, coalesce(k.expires_at, 0), coalesce(k.last_used_at, 0), "             \
	"coalesce(k.revoked_at, 0), k.public_id, a.name, k.name, k.scopes, k.secret_hash "                       \
	"FROM api_key k JOIN account a ON a.id = k.account_id "
#define TOTP_COLS                                                                                   \
	"user_id, state, secret, nonce, key_id, digits, period, last_step, failures, locked_until, created_at, " \
	"coalesce(enabled_at, 0) FROM user_totp "

static const char *const sql_text[Q_COUNT] = {
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_ACCOUNT_INSERT] = "INSERT INTO account (name, parent_id, disabled, require_2fa, smtp_password_auth, "
	                     "tls_mode, tls_require_valid_cert, tls_min_version, created_at) "
	                     "VALUES (?1, nullif(?2, 0), ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[Q_ACCOUNT_GET] = "SELECT " ACCOUNT_COLS "WHERE a.name = ?1",
	[Q_ACCOUNT_ALL] = "SELECT " ACCOUNT_COLS "ORDER BY a.name",
	[Q_ACCOUNT_TOP] = "SELECT " ACCOUNT_COLS "WHERE a.parent_id IS NULL ORDER BY a.name",
	[Q_ACCOUNT_CHILDREN] = "SELECT " ACCOUNT_COLS "WHERE a.parent_id = ?1 ORDER BY a.name",
	[Q_ACCOUNT_COUNT_CHILDREN] = "SELECT count(*) FROM account WHERE parent_id = ?1",
	[Q_ACCOUNT_UPDATE] = "UPDATE account SET disabled = ?2, require_2fa = ?3, smtp_password_auth = ?4, "
	                     "tls_mode = ?5, tls_require_valid_cert = ?6, tls_min_version = ?7 WHERE id = ?1",
	[Q_ACCOUNT_DELETE] = "DELETE FROM account WHERE id = ?1",
	[Q_USER_INSERT] = "INSERT INTO user (account_id, email, password_hash, disabled, created_at, "
	                  "password_changed_at) VALUES (?1, ?2, nullif(?3, ''), ?4, ?5, nullif(?6, 0))",
	[Q_USER_GET] = "SELECT " USER_COLS "WHERE u.email = ?1",
	[Q_USER_FOREACH] = "SELECT " USER_COLS "WHERE u.account_id = ?1 ORDER BY u.email",
	[Q_USER_UPDATE] = "UPDATE user SET password_hash = nullif(?2, ''), disabled = ?3, "
	                  "password_changed_at = nullif(?4, 0) WHERE id = ?1",
	[Q_USER_DELETE] = "DELETE FROM user WHERE id = ?1",
	[Q_KEY_INSERT] = "INSERT INTO api_key (public_id, account_id, name, secret_hash, scopes, created_at, "
	                 "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, nullif(?7, 0))",
	[Q_KEY_GET] = "SELECT " KEY_COLS "WHERE k.public_id = ?1",
	[Q_KEY_FOREACH] = "SELECT " KEY_COLS "WHERE k.account_id = ?1 ORDER BY k.created_at, k.id",
	[Q_KEY_UPDATE] = "UPDATE api_key SET revoked_at = nullif(?2, 0), last_used_at = nullif(?3, 0) WHERE id = ?1",
	[Q_KEY_TOUCH] = "UPDATE api_key SET last_used_at = ?2 WHERE id = ?1 AND coalesce(last_used_at, 0) < ?2",
	[Q_IP_INSERT] = "INSERT INTO ip_allow (account_id, cidr, label, created_at) VALUES (?1, ?2, ?3, ?4)",
	[Q_IP_DELETE] = "DELETE FROM ip_allow WHERE account_id = ?1 AND cidr = ?2",
	[Q_IP_FOREACH] = "SELECT id, account_id, created_at, cidr, label FROM ip_allow WHERE account_id = ?1 "
	                 "ORDER BY id",
	[Q_AUDIT_INSERT] = "INSERT INTO audit (time, actor, action, account, target, detail, address) "
	                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	/* The newest `limit` entries of the range, handed out oldest first. */
	[Q_AUDIT_QUERY] = "SELECT id, time, actor, action, account, target, detail, address FROM ("
	                  "SELECT * FROM audit WHERE (?1 IS NULL OR account = ?1) AND time >= ?2 AND time <= ?3 "
	                  "ORDER BY id DESC LIMIT ?4) ORDER BY id",
	/* two-factor authentication */
	[Q_TOTP_GET] = "SELECT " TOTP_COLS "WHERE user_id = ?1",
	[Q_TOTP_PUT] = "INSERT INTO user_totp (user_id, state, secret, nonce, key_id, digits, period, last_step, "
	               "failures, locked_until, created_at, enabled_at) "
	               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, nullif(?12, 0)) "
	               "ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, secret = excluded.secret, "
	               "nonce = excluded.nonce, key_id = excluded.key_id, digits = excluded.digits, "
	               "period = excluded.period, last_step = excluded.last_step, failures = excluded.failures, "
	               "locked_until = excluded.locked_until, created_at = excluded.created_at, "
	               "enabled_at = excluded.enabled_at",
	[Q_TOTP_DELETE] = "DELETE FROM user_totp WHERE user_id = ?1",
	[Q_TOTP_ALL] = "SELECT " TOTP_COLS "ORDER BY user_id",
	[Q_RECOVERY_INSERT] = "INSERT INTO recovery_code (user_id, code_hash, created_at) VALUES (?1, ?2, ?3)",
	[Q_RECOVERY_DELETE] = "DELETE FROM recovery_code WHERE user_id = ?1",
	[Q_RECOVERY_UNUSED] = "SELECT id, user_id, code_hash FROM recovery_code WHERE user_id = ?1 "
	                      "AND used_at IS NULL ORDER BY id",
	[Q_RECOVERY_USE] = "UPDATE recovery_code SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
	[Q_RECOVERY_COUNT] = "SELECT count(*) FROM recovery_code WHERE user_id = ?1 AND used_at IS NULL",
	[Q_DATA_VERSION] = "PRAGMA data_version",
#define STS_COLS "domain, kind, txt_id, policy, mode, coalesce(max_age, 0), fetched_at, expires, checked_at, " \
	"last_error, coalesce(last_error_at, 0)"
	[Q_STS_PUT] = "INSERT OR REPLACE INTO mtasts_policy (domain, kind, txt_id, policy, mode, max_age, fetched_at, "
	              "expires, checked_at, last_error, last_error_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
	              "?11)",
	[Q_STS_GET] = "SELECT " STS_COLS " FROM mtasts_policy WHERE domain = ?1",
	[Q_STS_ALL] = "SELECT " STS_COLS " FROM mtasts_policy ORDER BY expires, domain",
	[Q_STS_TOUCH] = "UPDATE mtasts_policy SET checked_at = ?3, last_error = ?2, "
	                "last_error_at = CASE WHEN ?2 IS NULL THEN NULL ELSE ?3 END WHERE domain = ?1",
	[Q_STS_DEL] = "DELETE FROM mtasts_policy WHERE domain = ?1",
	/* delivery events: a deferral is replaced by anything newer or final;
	 * a final outcome only by a final one (the same line read again) */
	[Q_EVENT_PUT] = "INSERT INTO event (time, submitted_at, queue_id, account, login, sender, recipient, "
	                "recipient_domain, message_id, client, type, dsn, reason, relay, transport, network, "
	                "tls_protocol, tls_cipher, tls_trust, tls_refused) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	                "?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20) "
	                "ON CONFLICT (queue_id, recipient, submitted_at) DO UPDATE SET time = excluded.time, "
	                "type = excluded.type, dsn = excluded.dsn, reason = excluded.reason, relay = excluded.relay, "
	                "transport = excluded.transport, network = excluded.network, "
	                "tls_protocol = excluded.tls_protocol, tls_cipher = excluded.tls_cipher, "
	                "tls_trust = excluded.tls_trust, tls_refused = excluded.tls_refused, "
	                "sender = coalesce(excluded.sender, sender), message_id = coalesce(excluded.message_id, "
	                "message_id) WHERE (event.type = 'deferred' AND (excluded.type <> 'deferred' OR "
	                "excluded.time >= event.time)) OR (event.type <> 'deferred' AND excluded.type <> 'deferred')",
	[Q_EVENT_EXPIRE] = "UPDATE event SET type = CASE WHEN tls_refused = 1 THEN 'blocked' ELSE 'bounced' END, "
	                   "time = ?3, reason = 'expired in the queue: ' || coalesce(reason, 'deferred') "
	                   "WHERE queue_id = ?1 AND submitted_at = ?2 AND type = 'deferred'",
	[Q_PENDING_PUT] = "INSERT OR REPLACE INTO maillog_pending (queue_id, submitted_at, account, sender, "
	                  "message_id, client) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[Q_PENDING_DEL] = "DELETE FROM maillog_pending WHERE queue_id = ?1 AND submitted_at = ?2",
	[Q_PENDING_ALL] = "SELECT queue_id, submitted_at, account, sender, message_id, client FROM maillog_pending "
	                  "ORDER BY submitted_at, rowid",
	[Q_LOGPOS_PUT] = "INSERT INTO log_position (name, device, inode, offset, updated_at, fingerprint) VALUES (?1, "
	                 "?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO UPDATE SET device = excluded.device, inode = "
	                 "excluded.inode, offset = excluded.offset, updated_at = excluded.updated_at, fingerprint = "
	                 "excluded.fingerprint",
	[Q_LOGPOS_GET] = "SELECT device, inode, offset, updated_at, fingerprint FROM log_position WHERE name = ?1",
	[Q_SMTPTLS_PUT] = "INSERT OR REPLACE INTO maillog_smtp_tls (pid, time, host, established, protocol, cipher, "
	                  "trust, verify_error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[Q_SMTPTLS_DEL] = "DELETE FROM maillog_smtp_tls WHERE pid = ?1",
	[Q_SMTPTLS_ALL] = "SELECT pid, time, host, established, protocol, cipher, trust, verify_error FROM "
	                  "maillog_smtp_tls ORDER BY time, pid",
	/* The newest `limit` events of the range, handed out oldest first. */
	[Q_EVENT_QUERY] = "SELECT id, time, submitted_at, queue_id, account, sender, recipient, message_id, client, "
	                  "type, dsn, reason, relay, transport, tls_protocol, tls_cipher, tls_trust, tls_refused "
	                  "FROM (SELECT * FROM event WHERE (?1 IS NULL OR account = ?1) AND time >= ?2 AND "
	                  "time <= ?3 AND (?4 IS NULL OR type = ?4) ORDER BY time DESC, id DESC LIMIT ?5) "
	                  "ORDER BY time, id",
	/* delivered = by the smtp client to a remote host (network = 1) */
	[Q_TLS_REPORT] = "SELECT coalesce(sum(type = 'delivered' AND network = 1), 0), "
	                 "coalesce(sum(type = 'delivered' AND network = 1 AND tls_protocol IS NOT NULL), 0), "
	                 "coalesce(sum(type = 'delivered' AND network = 1 AND tls_protocol IS NULL), 0), "
	                 "coalesce(sum(type = 'delivered' AND network = 1 AND tls_trust = 'verified'), 0), "
	                 "coalesce(sum(type = 'delivered' AND network = 1 AND tls_protocol IS NOT NULL AND "
	                 "tls_trust <> 'verified'), 0), "
	                 "coalesce(sum(type = 'blocked'), 0), coalesce(sum(type = 'bounced'), 0), "
	                 "coalesce(sum(type = 'deferred'), 0) "
	                 "FROM event WHERE (?1 IS NULL OR account = ?1) AND time >= ?2",
	[Q_TLS_PROTOCOLS] = "SELECT tls_protocol, count(*) FROM event WHERE (?1 IS NULL OR account = ?1) AND "
	                    "time >= ?2 AND type = 'delivered' AND network = 1 AND tls_protocol IS NOT NULL "
	                    "GROUP BY tls_protocol ORDER BY count(*) DESC, tls_protocol",
	[Q_CLEAR_DOMAINS] = "SELECT recipient_domain, count(*) FROM event WHERE (?1 IS NULL OR account = ?1) AND "
	                    "time >= ?2 AND type = 'delivered' AND network = 1 AND tls_protocol IS NULL "
	                    "GROUP BY recipient_domain ORDER BY count(*) DESC, recipient_domain",
	/* deferrals of messages still in flight stay: their outcome is to come */
	[Q_EVENT_PRUNE] = "DELETE FROM event WHERE time < ?1 AND NOT (type = 'deferred' AND EXISTS (SELECT 1 FROM "
	                  "maillog_pending p WHERE p.queue_id = event.queue_id AND "
	                  "p.submitted_at = event.submitted_at))",
};

typedef struct sqlite_store {
	store base; /* first: a sqlite_store is a store */
	sqlite3 *db;
	sqlite3_stmt *stmt[Q_COUNT];
	unsigned int warnings;
	int in_tx;
} sqlite_store;

static sqlite_store *S(store *st)
{
	return (sqlite_store *)st;
}

/* Map an SQLite result to our codes, with a message. */
static int fail(sqlite_store *s, int rc, const char *what)
{
	int code;
	int ext = s->db ? sqlite3_extended_errcode(s->db) : rc;
	const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = ACCT_EBUSY;
		msg = "the database is locked by another process; try again";
		break;
	case SQLITE_CONSTRAINT:
		code = (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) ? ACCT_EEXISTS
		                                                                                 : ACCT_ECONFLICT;
		break;
	case SQLITE_NOMEM:
		code = ACCT_ENOMEM;
		break;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		code = ACCT_EPERM;
		break;
	case SQLITE_CANTOPEN:
		code = errno == EACCES ? ACCT_EPERM : ACCT_EUNAVAIL;
		break;
	case SQLITE_NOTADB:
		code = ACCT_EUNAVAIL;
		msg = "the file is not a Postern database (not SQLite, or encrypted)";
		break;
	case SQLITE_CORRUPT:
		code = ACCT_EUNAVAIL;
		msg = "the database file is corrupt";
		break;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_PROTOCOL:
		code = ACCT_EUNAVAIL;
		break;
	default:
		code = ACCT_EINTERNAL;
		break;
	}
	snprintf(s->base.err, sizeof(s->base.err), "%s: %s", what, msg);
	return code;
}

/* A prepared statement for q, reset and ready to bind. */
static int prep(sqlite_store *s, enum q q, sqlite3_stmt **out)
{
	int rc;

	if (s->stmt[q] == NULL) {
		rc = sqlite3_prepare_v3(s->db, sql_text[q], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[q], NULL);
		if (rc != SQLITE_OK) {
			*out = NULL;
			return fail(s, rc, "preparing a query");
		}
	}
	sqlite3_reset(s->stmt[q]);
	sqlite3_clear_bindings(s->stmt[q]);
	*out = s->stmt[q];
	return ACCT_OK;
}

static void done(sqlite3_stmt *st)
{
	if (st)
		sqlite3_reset(st);
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

static void col_text(sqlite3_stmt *st, int i, char *buf, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (n >= len)
		n = len - 1;
	if (n)
		memcpy(buf, t, n);
	buf[n] = '\0';
}

/* Run a statement that returns no rows. */
static int run(sqlite_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);
	int r = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? ACCT_OK : fail(s, rc, what);

	done(st);
	return r;
}

static int exec_simple(sqlite_store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? ACCT_OK : fail(s, rc, what);
}

/* ---------------------------------------------------------------- */

static void sq_close(store *st)
{
	sqlite_store *s = S(st);

	if (!s)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->stmt[i]);
	sqlite3_close_v2(s->db);
	free(s);
}

/*
 * Create a missing file ourselves, so that it is 0600 whatever the
 * umask, before SQLite opens it (SQLite gives its -wal and -shm files
 * the database file's mode).
 */
static int create_private(sqlite_store *s, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd >= 0) {
		close(fd);
		return ACCT_OK;
	}
	if (errno == EEXIST)
		return ACCT_OK;
	snprintf(s->base.err, sizeof(s->base.err), "cannot create %s: %s", path, strerror(errno));
	return errno == EACCES || errno == EPERM || errno == EROFS ? ACCT_EPERM : ACCT_EUNAVAIL;
}

static int sq_open(store **out, const char *path, const store_open_args *args)
{
	sqlite_store *s;
	struct stat sb;
	int flags, rc, r;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return ACCT_ENOMEM;
	s->base.ops = &store_sqlite;
	*out = &s->base;

	if (stat(path, &sb) != 0) {
		if (errno != ENOENT) {
			snprintf(s->base.err, sizeof(s->base.err), "cannot read %s: %s", path, strerror(errno));
			return errno == EACCES ? ACCT_EPERM : ACCT_EUNAVAIL;
		}
		if (args->no_create || args->readonly) {
			snprintf(s->base.err, sizeof(s->base.err), "%s does not exist", path);
			return ACCT_ENOTFOUND;
		}
		if ((r = create_private(s, path)) != ACCT_OK)
			return r;
	} else if (!S_ISREG(sb.st_mode)) {
		snprintf(s->base.err, sizeof(s->base.err), "%s is not a regular file", path);
		return ACCT_EUNAVAIL;
	} else {
		if (sb.st_mode & 077)
			s->warnings |= ACCT_WARN_FILE_MODE;
		/* Fail early and clearly rather than with SQLite's "unable to open". */
		if (access(path, args->readonly ? R_OK : R_OK | W_OK) != 0) {
			snprintf(s->base.err, sizeof(s->base.err), "cannot open %s for %s: %s", path,
			         args->readonly ? "reading" : "reading and writing", strerror(errno));
			return errno == EACCES || errno == EROFS ? ACCT_EPERM : ACCT_EUNAVAIL;
		}
	}

	flags = (args->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_NOMUTEX |
	        SQLITE_OPEN_NOFOLLOW;
	rc = sqlite3_open_v2(path, &s->db, flags, NULL);
	if (rc != SQLITE_OK)
		return fail(s, rc, path);
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, args->busy_timeout_ms > 0 ? args->busy_timeout_ms : 5000);
	/* Defensive: no ATTACH of other files, no writable schema tricks. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_limit(s->db, SQLITE_LIMIT_ATTACHED, 0);

	/* Reading the schema is the first real access: a file that is not
	 * a database, or is corrupt, fails here with a clear message. */
	if ((r = exec_simple(s, "SELECT count(*) FROM sqlite_schema", path)) != ACCT_OK)
		return r;
	if (!args->readonly) {
		if ((r = exec_simple(s, "PRAGMA journal_mode = WAL", path)) != ACCT_OK)
			return r;
	}
	return exec_simple(s, "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL", path);
}

static unsigned int sq_warnings(store *st)
{
	return S(st)->warnings;
}

static int sq_schema_version(store *st, int *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &q, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		*out = sqlite3_column_int(q, 0);
		sqlite3_finalize(q);
		return ACCT_OK;
	}
	sqlite3_finalize(q);
	return fail(s, rc, "reading the schema version");
}

/* A file with tables but not ours is refused before we touch it. */
static int sq_check_application(store *st)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q = NULL;
	int rc, app = 0, tables = 0;

	rc = sqlite3_prepare_v2(s->db, "SELECT (SELECT application_id FROM pragma_application_id), "
	                               "(SELECT count(*) FROM sqlite_schema)", -1, &q, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		app = sqlite3_column_int(q, 0);
		tables = sqlite3_column_int(q, 1);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_OK)
		return fail(s, rc, "reading the database header");
	if (tables > 0 && app != 1347638354) {
		snprintf(s->base.err, sizeof(s->base.err),
		         "this SQLite file belongs to another application (application_id %d), not Postern", app);
		return ACCT_EUNAVAIL;
	}
	return ACCT_OK;
}

static int sq_begin(store *st)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_BEGIN, &q)) != ACCT_OK)
		return r;
	if ((r = run(s, q, "starting a transaction")) == ACCT_OK)
		s->in_tx = 1;
	return r;
}

static int sq_commit(store *st)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_COMMIT, &q)) != ACCT_OK)
		return r;
	if ((r = run(s, q, "committing")) == ACCT_OK)
		s->in_tx = 0;
	return r;
}

static void sq_rollback(store *st)
{
	sqlite_store *s = S(st);

	/* After some errors SQLite has already rolled back; that is fine. */
	if (sqlite3_get_autocommit(s->db) == 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_tx = 0;
}

static int sq_migrate(store *st, int version, const char *sql)
{
	sqlite_store *s = S(st);
	char set[64];
	int r;

	if ((r = exec_simple(s, "BEGIN IMMEDIATE", "starting a migration")) != ACCT_OK)
		return r;
	snprintf(set, sizeof(set), "PRAGMA user_version = %d", version);
	if ((r = exec_simple(s, sql, "applying a schema migration")) != ACCT_OK ||
	    (r = exec_simple(s, set, "recording the schema version")) != ACCT_OK ||
	    (r = exec_simple(s, "COMMIT", "committing a migration")) != ACCT_OK) {
		sq_rollback(st);
		return r;
	}
	return ACCT_OK;
}

/* ---------------------------------------------------------------- */
/* accounts */

static const char *mode_text(int mode)
{
	return mode == ACCT_TLS_ENFORCED ? "enforced" : mode == ACCT_TLS_NONE ? "none" : "opportunistic";
}

static int mode_value(const unsigned char *t)
{
	if (t && strcmp((const char *)t, "enforced") == 0)
		return ACCT_TLS_ENFORCED;
	if (t && strcmp((const char *)t, "none") == 0)
		return ACCT_TLS_NONE;
	return ACCT_TLS_OPPORTUNISTIC;
}

static void row_account(sqlite3_stmt *q, rec_account *a)
{
	const unsigned char *v;

	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(q, 0);
	col_text(q, 1, a->name, sizeof(a->name));
	a->parent_id = sqlite3_column_int64(q, 2);
	col_text(q, 3, a->parent, sizeof(a->parent));
	a->parent_disabled = sqlite3_column_int(q, 4);
	a->disabled = sqlite3_column_int(q, 5);
	a->require_2fa = sqlite3_column_int(q, 6);
	a->smtp_password_auth = sqlite3_column_int(q, 7);
	a->tls_mode = mode_value(sqlite3_column_text(q, 8));
	a->tls_require_valid_cert = sqlite3_column_int(q, 9);
	v = sqlite3_column_text(q, 10);
	a->tls_min_version = (v && strcmp((const char *)v, "1.3") == 0) ? 13 : 12;
	a->created_at = sqlite3_column_int64(q, 11);
}

static int sq_account_insert(store *st, rec_account *a)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_ACCOUNT_INSERT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_text(q, 1, a->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, a->parent_id);
	sqlite3_bind_int(q, 3, a->disabled);
	sqlite3_bind_int(q, 4, a->require_2fa);
	sqlite3_bind_int(q, 5, a->smtp_password_auth);
	sqlite3_bind_text(q, 6, mode_text(a->tls_mode), -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 7, a->tls_require_valid_cert);
	sqlite3_bind_text(q, 8, a->tls_min_version == 13 ? "1.3" : "1.2", -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 9, a->created_at);
	if ((r = run(s, q, "adding the account")) == ACCT_OK)
		a->id = sqlite3_last_insert_rowid(s->db);
	return r;
}

/* Step a single-row query into a record. */
#define GET_ONE(s, q, rowfn, out, what)                        \
	do {                                                   \
		int rc_ = sqlite3_step(q);                     \
		int r_;                                        \
		if (rc_ == SQLITE_ROW) {                       \
			rowfn(q, out);                         \
			r_ = ACCT_OK;                          \
		} else if (rc_ == SQLITE_DONE) {               \
			r_ = ACCT_ENOTFOUND;                   \
		} else {                                       \
			r_ = fail(s, rc_, what);               \
		}                                              \
		done(q);                                       \
		return r_;                                     \
	} while (0)

static int sq_account_get(store *st, const char *name, rec_account *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_ACCOUNT_GET, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
	GET_ONE(s, q, row_account, out, "reading an account");
}

/* Walk the rows of q through rowfn into a record on the stack, calling
 * cb; a non-zero callback result stops the walk and is returned. */
#define WALK(s, q, rectype, rowfn, cb, ctx, what)              \
	do {                                                   \
		rectype rec_;                                  \
		int rc_, r_ = ACCT_OK;                         \
		while ((rc_ = sqlite3_step(q)) == SQLITE_ROW) {\
			rowfn(q, &rec_);                       \
			if ((r_ = cb(&rec_, ctx)) != 0)        \
				break;                         \
		}                                              \
		if (r_ == ACCT_OK && rc_ != SQLITE_DONE)       \
			r_ = fail(s, rc_, what);               \
		done(q);                                       \
		return r_;                                     \
	} while (0)

static int sq_account_foreach(store *st, int64_t parent_id, rec_account_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	r = prep(s, parent_id < 0 ? Q_ACCOUNT_ALL : parent_id == 0 ? Q_ACCOUNT_TOP : Q_ACCOUNT_CHILDREN, &q);
	if (r != ACCT_OK)
		return r;
	if (parent_id > 0)
		sqlite3_bind_int64(q, 1, parent_id);
	WALK(s, q, rec_account, row_account, cb, ctx, "listing accounts");
}

static int sq_account_count_children(store *st, int64_t id, int64_t *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r, rc;

	if ((r = prep(s, Q_ACCOUNT_COUNT_CHILDREN, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	r = rc == SQLITE_ROW ? ACCT_OK : fail(s, rc, "counting subaccounts");
	done(q);
	return r;
}

static int sq_account_update(store *st, const rec_account *a)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_ACCOUNT_UPDATE, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, a->id);
	sqlite3_bind_int(q, 2, a->disabled);
	sqlite3_bind_int(q, 3, a->require_2fa);
	sqlite3_bind_int(q, 4, a->smtp_password_auth);
	sqlite3_bind_text(q, 5, mode_text(a->tls_mode), -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 6, a->tls_require_valid_cert);
	sqlite3_bind_text(q, 7, a->tls_min_version == 13 ? "1.3" : "1.2", -1, SQLITE_STATIC);
	return run(s, q, "updating the account");
}

static int delete_by_id(store *st, enum q which, int64_t id, const char *what)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, which, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, id);
	if ((r = run(s, q, what)) == ACCT_OK && sqlite3_changes(s->db) == 0)
		r = ACCT_ENOTFOUND;
	return r;
}

static int sq_account_delete(store *st, int64_t id)
{
	return delete_by_id(st, Q_ACCOUNT_DELETE, id, "deleting the account");
}

/* ---------------------------------------------------------------- */
/* users */

static void row_user(sqlite3_stmt *q, rec_user *u)
{
	memset(u, 0, sizeof(*u));
	u->id = sqlite3_column_int64(q, 0);
	u->account_id = sqlite3_column_int64(q, 1);
	u->created_at = sqlite3_column_int64(q, 2);
	u->password_changed_at = sqlite3_column_int64(q, 3);
	col_text(q, 4, u->email, sizeof(u->email));
	col_text(q, 5, u->account, sizeof(u->account));
	col_text(q, 6, u->password_hash, sizeof(u->password_hash));
	u->disabled = sqlite3_column_int(q, 7);
}

static int sq_user_insert(store *st, rec_user *u)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_USER_INSERT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, u->account_id);
	sqlite3_bind_text(q, 2, u->email, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, u->password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 4, u->disabled);
	sqlite3_bind_int64(q, 5, u->created_at);
	sqlite3_bind_int64(q, 6, u->password_changed_at);
	if ((r = run(s, q, "adding the user")) == ACCT_OK)
		u->id = sqlite3_last_insert_rowid(s->db);
	return r;
}

static int sq_user_get(store *st, const char *email, rec_user *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_USER_GET, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_text(q, 1, email, -1, SQLITE_STATIC);
	GET_ONE(s, q, row_user, out, "reading a user");
}

static int sq_user_foreach(store *st, int64_t account_id, rec_user_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_USER_FOREACH, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, account_id);
	WALK(s, q, rec_user, row_user, cb, ctx, "listing users");
}

static int sq_user_update(store *st, const rec_user *u)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_USER_UPDATE, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, u->id);
	sqlite3_bind_text(q, 2, u->password_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 3, u->disabled);
	sqlite3_bind_int64(q, 4, u->password_changed_at);
	return run(s, q, "updating the user");
}

static int sq_user_delete(store *st, int64_t id)
{
	return delete_by_id(st, Q_USER_DELETE, id, "deleting the user");
}

/* ---------------------------------------------------------------- */
/* API keys */

static void row_key(sqlite3_stmt *q, rec_key *k)
{
	const void *h;

	memset(k, 0, sizeof(*k));
	k->id = sqlite3_column_int64(q, 0);
	k->account_id = sqlite3_column_int64(q, 1);
	k->created_at = sqlite3_column_int64(q, 2);
	k->expires_at = sqlite3_column_int64(q, 3);
	k->last_used_at = sqlite3_column_int64(q, 4);
	k->revoked_at = sqlite3_column_int64(q, 5);
	col_text(q, 6, k->public_id, sizeof(k->public_id));
	col_text(q, 7, k->account, sizeof(k->account));
	col_text(q, 8, k->name, sizeof(k->name));
	col_text(q, 9, k->scopes, sizeof(k->scopes));
	h = sqlite3_column_blob(q, 10);
	if (h && sqlite3_column_bytes(q, 10) == (int)sizeof(k->secret_hash))
		memcpy(k->secret_hash, h, sizeof(k->secret_hash));
}

static int sq_key_insert(store *st, rec_key *k)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_KEY_INSERT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_text(q, 1, k->public_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, k->account_id);
	sqlite3_bind_text(q, 3, k->name, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 4, k->secret_hash, (int)sizeof(k->secret_hash), SQLITE_STATIC);
	sqlite3_bind_text(q, 5, k->scopes, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 6, k->created_at);
	sqlite3_bind_int64(q, 7, k->expires_at);
	if ((r = run(s, q, "adding the key")) == ACCT_OK)
		k->id = sqlite3_last_insert_rowid(s->db);
	return r;
}

static int sq_key_get(store *st, const char *public_id, rec_key *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_KEY_GET, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_text(q, 1, public_id, -1, SQLITE_STATIC);
	GET_ONE(s, q, row_key, out, "reading a key");
}

static int sq_key_foreach(store *st, int64_t account_id, rec_key_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_KEY_FOREACH, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, account_id);
	WALK(s, q, rec_key, row_key, cb, ctx, "listing keys");
}

static int sq_key_update(store *st, const rec_key *k)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_KEY_UPDATE, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, k->id);
	sqlite3_bind_int64(q, 2, k->revoked_at);
	sqlite3_bind_int64(q, 3, k->last_used_at);
	return run(s, q, "updating the key");
}

static int sq_key_touch(store *st, int64_t id, int64_t when)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_KEY_TOUCH, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, when);
	return run(s, q, "recording the key's use");
}

/* ---------------------------------------------------------------- */
/* IP allowlists */

static void row_ip(sqlite3_stmt *q, rec_ip *e)
{
	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(q, 0);
	e->account_id = sqlite3_column_int64(q, 1);
	e->created_at = sqlite3_column_int64(q, 2);
	col_text(q, 3, e->cidr, sizeof(e->cidr));
	col_text(q, 4, e->label, sizeof(e->label));
}

static int sq_ip_insert(store *st, rec_ip *e)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_IP_INSERT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, e->account_id);
	sqlite3_bind_text(q, 2, e->cidr, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, e->label, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, e->created_at);
	if ((r = run(s, q, "adding the network")) == ACCT_OK)
		e->id = sqlite3_last_insert_rowid(s->db);
	return r;
}

static int sq_ip_delete(store *st, int64_t account_id, const char *cidr)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_IP_DELETE, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, account_id);
	sqlite3_bind_text(q, 2, cidr, -1, SQLITE_STATIC);
	if ((r = run(s, q, "removing the network")) == ACCT_OK && sqlite3_changes(s->db) == 0)
		r = ACCT_ENOTFOUND;
	return r;
}

static int sq_ip_foreach(store *st, int64_t account_id, rec_ip_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_IP_FOREACH, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, account_id);
	WALK(s, q, rec_ip, row_ip, cb, ctx, "listing networks");
}

/* ---------------------------------------------------------------- */
/* audit */

static int sq_audit_insert(store *st, int64_t time, const char *actor, const char *action, const char *account,
                           const char *target, const char *detail, const char *address)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_AUDIT_INSERT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, time);
	bind_text(q, 2, actor);
	bind_text(q, 3, action);
	bind_text(q, 4, account);
	bind_text(q, 5, target);
	bind_text(q, 6, detail);
	bind_text(q, 7, address);
	return run(s, q, "writing the audit log");
}

static const char *ctext(sqlite3_stmt *q, int i)
{
	return (const char *)sqlite3_column_text(q, i);
}

static void row_audit(sqlite3_stmt *q, acct_audit_entry *e)
{
	e->id = sqlite3_column_int64(q, 0);
	e->time = sqlite3_column_int64(q, 1);
	e->actor = ctext(q, 2);
	e->action = ctext(q, 3);
	e->account = ctext(q, 4);
	e->target = ctext(q, 5);
	e->detail = ctext(q, 6);
	e->address = ctext(q, 7);
}

static int sq_audit_foreach(store *st, const acct_audit_query *aq, acct_audit_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_AUDIT_QUERY, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, aq->account);
	sqlite3_bind_int64(q, 2, aq->since);
	sqlite3_bind_int64(q, 3, aq->until > 0 ? aq->until : INT64_MAX);
	sqlite3_bind_int64(q, 4, aq->limit > 0 ? aq->limit : -1);
	WALK(s, q, acct_audit_entry, row_audit, cb, ctx, "reading the audit log");
}

/* ---------------------------------------------------------------- */
/* two-factor authentication (db/0002_totp.sql) */

static void row_totp(sqlite3_stmt *q, rec_totp *t)
{
	const void *b;
	int n;

	memset(t, 0, sizeof(*t));
	t->user_id = sqlite3_column_int64(q, 0);
	b = sqlite3_column_text(q, 1);
	t->state = (b && strcmp(b, "enabled") == 0) ? ACCT_2FA_ENABLED : ACCT_2FA_PENDING;
	b = sqlite3_column_blob(q, 2);
	n = sqlite3_column_bytes(q, 2);
	if (b && n > 0 && (size_t)n <= sizeof(t->secret)) {
		memcpy(t->secret, b, (size_t)n);
		t->secret_len = (size_t)n;
	}
	b = sqlite3_column_blob(q, 3);
	if (b && sqlite3_column_bytes(q, 3) == (int)sizeof(t->nonce))
		memcpy(t->nonce, b, sizeof(t->nonce));
	col_text(q, 4, t->key_id, sizeof(t->key_id));
	t->digits = sqlite3_column_int(q, 5);
	t->period = sqlite3_column_int(q, 6);
	t->last_step = sqlite3_column_int64(q, 7);
	t->failures = sqlite3_column_int64(q, 8);
	t->locked_until = sqlite3_column_int64(q, 9);
	t->created_at = sqlite3_column_int64(q, 10);
	t->enabled_at = sqlite3_column_int64(q, 11);
}

static int sq_totp_get(store *st, int64_t user_id, rec_totp *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_TOTP_GET, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, user_id);
	GET_ONE(s, q, row_totp, out, "reading 2FA settings");
}

static int sq_totp_put(store *st, const rec_totp *t)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_TOTP_PUT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, t->user_id);
	sqlite3_bind_text(q, 2, t->state == ACCT_2FA_ENABLED ? "enabled" : "pending", -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 3, t->secret, (int)t->secret_len, SQLITE_STATIC);
	sqlite3_bind_blob(q, 4, t->nonce, (int)sizeof(t->nonce), SQLITE_STATIC);
	sqlite3_bind_text(q, 5, t->key_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 6, t->digits);
	sqlite3_bind_int(q, 7, t->period);
	sqlite3_bind_int64(q, 8, t->last_step);
	sqlite3_bind_int64(q, 9, t->failures);
	sqlite3_bind_int64(q, 10, t->locked_until);
	sqlite3_bind_int64(q, 11, t->created_at);
	sqlite3_bind_int64(q, 12, t->enabled_at);
	return run(s, q, "writing 2FA settings");
}

static int sq_totp_delete(store *st, int64_t user_id)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_TOTP_DELETE, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, user_id);
	return run(s, q, "removing 2FA settings");
}

static int sq_totp_foreach(store *st, rec_totp_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_TOTP_ALL, &q)) != ACCT_OK)
		return r;
	WALK(s, q, rec_totp, row_totp, cb, ctx, "listing 2FA settings");
}

static int sq_recovery_insert(store *st, int64_t user_id, const unsigned char hash[REC_RECOVERY_HASH_LEN],
                              int64_t created_at)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_RECOVERY_INSERT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, user_id);
	sqlite3_bind_blob(q, 2, hash, REC_RECOVERY_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, created_at);
	return run(s, q, "storing a recovery code");
}

static int sq_recovery_delete(store *st, int64_t user_id)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_RECOVERY_DELETE, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, user_id);
	return run(s, q, "removing recovery codes");
}

static void row_recovery(sqlite3_stmt *q, rec_recovery *c)
{
	const void *h;

	memset(c, 0, sizeof(*c));
	c->id = sqlite3_column_int64(q, 0);
	c->user_id = sqlite3_column_int64(q, 1);
	h = sqlite3_column_blob(q, 2);
	if (h && sqlite3_column_bytes(q, 2) == (int)sizeof(c->code_hash))
		memcpy(c->code_hash, h, sizeof(c->code_hash));
}

static int sq_recovery_foreach(store *st, int64_t user_id, rec_recovery_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_RECOVERY_UNUSED, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, user_id);
	WALK(s, q, rec_recovery, row_recovery, cb, ctx, "reading recovery codes");
}

static int sq_recovery_use(store *st, int64_t id, int64_t used_at)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_RECOVERY_USE, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, id);
	sqlite3_bind_int64(q, 2, used_at);
	if ((r = run(s, q, "using a recovery code")) == ACCT_OK && sqlite3_changes(s->db) == 0)
		r = ACCT_ENOTFOUND;
	return r;
}

static int sq_recovery_count(store *st, int64_t user_id, int64_t *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r, rc;

	if ((r = prep(s, Q_RECOVERY_COUNT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, user_id);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	r = rc == SQLITE_ROW ? ACCT_OK : fail(s, rc, "counting recovery codes");
	done(q);
	return r;
}

/* ---------------------------------------------------------------- */
/* delivery events (db/0003_events.sql) */

static const char *const event_types[] = {NULL, "delivered", "deferred", "bounced", "blocked"};
static const char *const trust_names[] = {"none", "unknown", "anonymous", "untrusted", "trusted", "verified"};

static int name_index(const char *v, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (v && names[i] && strcmp(v, names[i]) == 0)
			return i;
	return 0;
}

static int sq_event_put(store *st, const acct_event *e, const char *login, const char *domain, int network)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_EVENT_PUT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, e->time);
	sqlite3_bind_int64(q, 2, e->submitted_at);
	bind_text(q, 3, e->queue_id);
	bind_text(q, 4, e->account);
	bind_text(q, 5, login);
	bind_text(q, 6, e->sender);
	bind_text(q, 7, e->recipient);
	bind_text(q, 8, domain);
	bind_text(q, 9, e->message_id);
	bind_text(q, 10, e->client);
	bind_text(q, 11, event_types[e->type]);
	bind_text(q, 12, e->dsn);
	bind_text(q, 13, e->reason);
	bind_text(q, 14, e->relay);
	bind_text(q, 15, e->transport);
	sqlite3_bind_int(q, 16, network);
	bind_text(q, 17, e->tls_protocol);
	bind_text(q, 18, e->tls_protocol ? e->tls_cipher : NULL);
	bind_text(q, 19, trust_names[e->tls_protocol ? e->tls_trust : ACCT_TRUST_NONE]);
	sqlite3_bind_int(q, 20, e->tls_refused ? 1 : 0);
	return run(s, q, "recording an event");
}

static int sq_event_expire(store *st, const acct_event_expiry *x)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_EVENT_EXPIRE, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, x->queue_id);
	sqlite3_bind_int64(q, 2, x->submitted_at);
	sqlite3_bind_int64(q, 3, x->time);
	return run(s, q, "recording an expiry");
}

static int sq_pending_put(store *st, const acct_pending_msg *m)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_PENDING_PUT, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, m->queue_id);
	sqlite3_bind_int64(q, 2, m->submitted_at);
	bind_text(q, 3, m->account);
	bind_text(q, 4, m->sender);
	bind_text(q, 5, m->message_id);
	bind_text(q, 6, m->client);
	return run(s, q, "recording a message in flight");
}

static int sq_pending_del(store *st, const char *queue_id, int64_t submitted_at)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_PENDING_DEL, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, queue_id);
	sqlite3_bind_int64(q, 2, submitted_at);
	return run(s, q, "forgetting a message in flight");
}

static void row_pending(sqlite3_stmt *q, acct_pending_msg *m)
{
	m->queue_id = ctext(q, 0);
	m->submitted_at = sqlite3_column_int64(q, 1);
	m->account = ctext(q, 2);
	m->sender = ctext(q, 3);
	m->message_id = ctext(q, 4);
	m->client = ctext(q, 5);
}

static int sq_pending_foreach(store *st, acct_pending_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_PENDING_ALL, &q)) != ACCT_OK)
		return r;
	WALK(s, q, acct_pending_msg, row_pending, cb, ctx, "reading the messages in flight");
}

static int sq_logpos_put(store *st, const char *name, const acct_log_pos *p, int64_t now)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_LOGPOS_PUT, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, name);
	sqlite3_bind_int64(q, 2, p->device);
	sqlite3_bind_int64(q, 3, p->inode);
	sqlite3_bind_int64(q, 4, p->offset);
	sqlite3_bind_int64(q, 5, now);
	if (p->fingerprint_len > 0)
		sqlite3_bind_blob(q, 6, p->fingerprint, (int)p->fingerprint_len, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 6);
	return run(s, q, "saving the log position");
}

static int sq_logpos_get(store *st, const char *name, acct_log_pos *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r, rc;

	if ((r = prep(s, Q_LOGPOS_GET, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, name);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		out->device = sqlite3_column_int64(q, 0);
		out->inode = sqlite3_column_int64(q, 1);
		out->offset = sqlite3_column_int64(q, 2);
		out->updated_at = sqlite3_column_int64(q, 3);
		const void *fp = sqlite3_column_blob(q, 4);
		int fl = sqlite3_column_bytes(q, 4);
		out->fingerprint_len = 0;
		if (fp && fl > 0 && fl <= ACCT_LOG_FINGERPRINT_MAX) {
			memcpy(out->fingerprint, fp, (size_t)fl);
			out->fingerprint_len = (size_t)fl;
		}
		r = ACCT_OK;
	} else if (rc == SQLITE_DONE) {
		snprintf(s->base.err, sizeof(s->base.err), "no saved position for this log");
		r = ACCT_ENOTFOUND;
	} else {
		r = fail(s, rc, "reading the log position");
	}
	done(q);
	return r;
}

static int sq_smtptls_put(store *st, const acct_smtp_tls *t)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_SMTPTLS_PUT, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, t->pid);
	sqlite3_bind_int64(q, 2, t->time);
	bind_text(q, 3, t->host);
	sqlite3_bind_int(q, 4, t->established ? 1 : 0);
	bind_text(q, 5, t->protocol);
	bind_text(q, 6, t->cipher);
	bind_text(q, 7, trust_names[t->tls_trust]);
	bind_text(q, 8, t->verify_error);
	return run(s, q, "saving an smtp process's TLS state");
}

static int sq_smtptls_del(store *st, int64_t pid)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_SMTPTLS_DEL, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, pid);
	return run(s, q, "forgetting an smtp process's TLS state");
}

static void row_smtptls(sqlite3_stmt *q, acct_smtp_tls *t)
{
	t->pid = sqlite3_column_int64(q, 0);
	t->time = sqlite3_column_int64(q, 1);
	t->host = ctext(q, 2);
	t->established = sqlite3_column_int(q, 3);
	t->protocol = ctext(q, 4);
	t->cipher = ctext(q, 5);
	t->tls_trust = (acct_tls_trust)name_index(ctext(q, 6), trust_names, 6);
	t->verify_error = ctext(q, 7);
}

static int sq_smtptls_foreach(store *st, acct_smtp_tls_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_SMTPTLS_ALL, &q)) != ACCT_OK)
		return r;
	WALK(s, q, acct_smtp_tls, row_smtptls, cb, ctx, "reading the smtp processes' TLS state");
}

static void row_event(sqlite3_stmt *q, acct_event *e)
{
	memset(e, 0, sizeof(*e));
	e->id = sqlite3_column_int64(q, 0);
	e->time = sqlite3_column_int64(q, 1);
	e->submitted_at = sqlite3_column_int64(q, 2);
	e->queue_id = ctext(q, 3);
	e->account = ctext(q, 4);
	e->sender = ctext(q, 5);
	e->recipient = ctext(q, 6);
	e->message_id = ctext(q, 7);
	e->client = ctext(q, 8);
	e->type = (acct_event_type)name_index(ctext(q, 9), event_types, 5);
	e->dsn = ctext(q, 10);
	e->reason = ctext(q, 11);
	e->relay = ctext(q, 12);
	e->transport = ctext(q, 13);
	e->tls_protocol = ctext(q, 14);
	e->tls_cipher = ctext(q, 15);
	e->tls_trust = (acct_tls_trust)name_index(ctext(q, 16), trust_names, 6);
	e->tls_refused = sqlite3_column_int(q, 17);
}

static int sq_event_foreach(store *st, const acct_event_query *eq, acct_event_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_EVENT_QUERY, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, eq->account);
	sqlite3_bind_int64(q, 2, eq->since);
	sqlite3_bind_int64(q, 3, eq->until > 0 ? eq->until : INT64_MAX);
	bind_text(q, 4, eq->type > 0 ? event_types[eq->type] : NULL);
	sqlite3_bind_int64(q, 5, eq->limit > 0 ? eq->limit : -1);
	WALK(s, q, acct_event, row_event, cb, ctx, "reading events");
}

static int sq_tls_report(store *st, const char *account, int64_t since, acct_tls_report *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r, rc;

	memset(out, 0, sizeof(*out));
	if ((r = prep(s, Q_TLS_REPORT, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, account);
	sqlite3_bind_int64(q, 2, since);
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW) {
		r = fail(s, rc, "computing the TLS report");
		done(q);
		return r;
	}
	out->delivered = sqlite3_column_int64(q, 0);
	out->delivered_tls = sqlite3_column_int64(q, 1);
	out->delivered_clear = sqlite3_column_int64(q, 2);
	out->verified = sqlite3_column_int64(q, 3);
	out->unverified = sqlite3_column_int64(q, 4);
	out->blocked = sqlite3_column_int64(q, 5);
	out->bounced = sqlite3_column_int64(q, 6);
	out->deferred = sqlite3_column_int64(q, 7);
	done(q);

	if ((r = prep(s, Q_TLS_PROTOCOLS, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, account);
	sqlite3_bind_int64(q, 2, since);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		size_t i = out->n_protocols;
		int64_t n = sqlite3_column_int64(q, 1);
		if (i == ACCT_TLS_REPORT_PROTOCOLS - 1 && strcmp(out->protocols[i].protocol, "other") == 0) {
			out->protocols[i].count += n;
			continue;
		}
		if (i == ACCT_TLS_REPORT_PROTOCOLS - 1) {
			/* the rarest versions share the last slot */
			snprintf(out->protocols[i].protocol, sizeof(out->protocols[i].protocol), "other");
			out->protocols[i].count = n;
			out->n_protocols = ACCT_TLS_REPORT_PROTOCOLS;
			continue;
		}
		if (i >= ACCT_TLS_REPORT_PROTOCOLS) {
			out->protocols[ACCT_TLS_REPORT_PROTOCOLS - 1].count += n;
			continue;
		}
		col_text(q, 0, out->protocols[i].protocol, sizeof(out->protocols[i].protocol));
		out->protocols[i].count = n;
		out->n_protocols = i + 1;
	}
	r = rc == SQLITE_DONE ? ACCT_OK : fail(s, rc, "computing the TLS report");
	done(q);
	return r;
}

static int sq_cleardomain_foreach(store *st, const char *account, int64_t since, acct_domain_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r, rc;

	if ((r = prep(s, Q_CLEAR_DOMAINS, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, account);
	sqlite3_bind_int64(q, 2, since);
	r = ACCT_OK;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW)
		if ((r = cb(ctext(q, 0), sqlite3_column_int64(q, 1), ctx)) != 0)
			break;
	if (r == ACCT_OK && rc != SQLITE_DONE)
		r = fail(s, rc, "listing domains");
	done(q);
	return r;
}

static int sq_event_prune(store *st, int64_t before, int64_t *deleted)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_EVENT_PRUNE, &q)) != ACCT_OK)
		return r;
	sqlite3_bind_int64(q, 1, before);
	if ((r = run(s, q, "pruning events")) == ACCT_OK)
		*deleted = sqlite3_changes64(s->db);
	return r;
}

/* Changes when another connection commits (SQLite's data_version). */
static int sq_data_version(store *st, int64_t *out)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r, rc;

	if ((r = prep(s, Q_DATA_VERSION, &q)) != ACCT_OK)
		return r;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(q, 0);
	r = rc == SQLITE_ROW ? ACCT_OK : fail(s, rc, "reading the data version");
	done(q);
	return r;
}

/* ---- MTA-STS policy cache ---- */

static int sq_sts_put(store *st, const acct_sts_entry *e)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_STS_PUT, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, e->domain);
	bind_text(q, 2, e->kind == ACCT_STS_POLICY ? "policy" : "nopolicy");
	bind_text(q, 3, e->id);
	if (e->policy)
		sqlite3_bind_text(q, 4, e->policy, (int)e->policy_len, SQLITE_STATIC);
	bind_text(q, 5, e->mode);
	if (e->kind == ACCT_STS_POLICY)
		sqlite3_bind_int64(q, 6, e->max_age);
	sqlite3_bind_int64(q, 7, e->fetched_at);
	sqlite3_bind_int64(q, 8, e->expires);
	sqlite3_bind_int64(q, 9, e->checked_at);
	bind_text(q, 10, e->last_error);
	if (e->last_error)
		sqlite3_bind_int64(q, 11, e->last_error_at);
	return run(s, q, "saving the MTA-STS policy");
}

static void row_sts(sqlite3_stmt *q, acct_sts_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->domain = ctext(q, 0);
	e->kind = strcmp(ctext(q, 1), "policy") == 0 ? ACCT_STS_POLICY : ACCT_STS_NOPOLICY;
	e->id = ctext(q, 2);
	e->policy = ctext(q, 3);
	e->policy_len = e->policy ? (size_t)sqlite3_column_bytes(q, 3) : 0;
	e->mode = ctext(q, 4);
	e->max_age = sqlite3_column_int64(q, 5);
	e->fetched_at = sqlite3_column_int64(q, 6);
	e->expires = sqlite3_column_int64(q, 7);
	e->checked_at = sqlite3_column_int64(q, 8);
	e->last_error = ctext(q, 9);
	e->last_error_at = sqlite3_column_int64(q, 10);
}

static int sts_rows(sqlite_store *s, sqlite3_stmt *q, acct_sts_cb cb, void *ctx, int *n)
{
	int rc, r = ACCT_OK;
	acct_sts_entry e;

	*n = 0;
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		row_sts(q, &e);
		(*n)++;
		if ((r = cb(&e, ctx)) != 0)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = fail(s, rc, "reading the MTA-STS policy cache");
	done(q);
	return r;
}

static int sq_sts_get(store *st, const char *domain, acct_sts_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r, n;

	if ((r = prep(s, Q_STS_GET, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, domain);
	r = sts_rows(s, q, cb, ctx, &n);
	if (r == ACCT_OK && n == 0) {
		snprintf(s->base.err, sizeof(s->base.err), "no cached MTA-STS entry for this domain");
		r = ACCT_ENOTFOUND;
	}
	return r;
}

static int sq_sts_foreach(store *st, acct_sts_cb cb, void *ctx)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r, n;

	if ((r = prep(s, Q_STS_ALL, &q)) != ACCT_OK)
		return r;
	return sts_rows(s, q, cb, ctx, &n);
}

static int sq_sts_touch(store *st, const char *domain, const char *error, int64_t at)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_STS_TOUCH, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, domain);
	bind_text(q, 2, error);
	sqlite3_bind_int64(q, 3, at);
	if ((r = run(s, q, "updating the MTA-STS policy cache")) == ACCT_OK && sqlite3_changes64(s->db) == 0) {
		snprintf(s->base.err, sizeof(s->base.err), "no cached MTA-STS entry for this domain");
		r = ACCT_ENOTFOUND;
	}
	return r;
}

static int sq_sts_del(store *st, const char *domain)
{
	sqlite_store *s = S(st);
	sqlite3_stmt *q;
	int r;

	if ((r = prep(s, Q_STS_DEL, &q)) != ACCT_OK)
		return r;
	bind_text(q, 1, domain);
	if ((r = run(s, q, "deleting from the MTA-STS policy cache")) == ACCT_OK && sqlite3_changes64(s->db) == 0) {
		snprintf(s->base.err, sizeof(s->base.err), "no cached MTA-STS entry for this domain");
		r = ACCT_ENOTFOUND;
	}
	return r;
}

const store_ops store_sqlite = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.warnings = sq_warnings,
	.schema_version = sq_schema_version,
	.migrate = sq_migrate,
	.check_application = sq_check_application,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.account_insert = sq_account_insert,
	.account_get = sq_account_get,
	.account_foreach = sq_account_foreach,
	.account_count_children = sq_account_count_children,
	.account_update = sq_account_update,
	.account_delete = sq_account_delete,
	.user_insert = sq_user_insert,
	.user_get = sq_user_get,
	.user_foreach = sq_user_foreach,
	.user_update = sq_user_update,
	.user_delete = sq_user_delete,
	.key_insert = sq_key_insert,
	.key_get = sq_key_get,
	.key_foreach = sq_key_foreach,
	.key_update = sq_key_update,
	.key_touch = sq_key_touch,
	.ip_insert = sq_ip_insert,
	.ip_delete = sq_ip_delete,
	.ip_foreach = sq_ip_foreach,
	.audit_insert = sq_audit_insert,
	.audit_foreach = sq_audit_foreach,
	/* two-factor authentication */
	.totp_get = sq_totp_get,
	.totp_put = sq_totp_put,
	.totp_delete = sq_totp_delete,
	.totp_foreach = sq_totp_foreach,
	.recovery_insert = sq_recovery_insert,
	.recovery_delete = sq_recovery_delete,
	.recovery_foreach = sq_recovery_foreach,
	.recovery_use = sq_recovery_use,
	.recovery_count = sq_recovery_count,
	/* delivery events */
	.event_put = sq_event_put,
	.event_expire = sq_event_expire,
	.pending_put = sq_pending_put,
	.pending_del = sq_pending_del,
	.pending_foreach = sq_pending_foreach,
	.logpos_put = sq_logpos_put,
	.logpos_get = sq_logpos_get,
	.smtptls_put = sq_smtptls_put,
	.smtptls_del = sq_smtptls_del,
	.smtptls_foreach = sq_smtptls_foreach,
	.event_foreach = sq_event_foreach,
	.tls_report = sq_tls_report,
	.cleardomain_foreach = sq_cleardomain_foreach,
	.event_prune = sq_event_prune,
	.data_version = sq_data_version,
	/* MTA-STS policy cache */
	.sts_put = sq_sts_put,
	.sts_get = sq_sts_get,
	.sts_foreach = sq_sts_foreach,
	.sts_touch = sq_sts_touch,
	.sts_del = sq_sts_del,
};

const store_ops *const store_backends[] = {&store_sqlite, NULL};
