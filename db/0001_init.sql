-- Postern schema version 1: accounts, users, API keys, IP allowlists,
-- TLS requirements and the audit log.  Applied in one transaction by
-- libaccount (migrate.c); never edit a released migration, add one.

PRAGMA application_id = 1347638354; -- 'PSTR'

CREATE TABLE account (
	id                     INTEGER PRIMARY KEY,
	name                   TEXT    NOT NULL UNIQUE
	                       CHECK (length(name) BETWEEN 1 AND 63 AND name = lower(name)),
	parent_id              INTEGER REFERENCES account(id) ON DELETE RESTRICT,
	disabled               INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	require_2fa            INTEGER NOT NULL DEFAULT 0 CHECK (require_2fa IN (0, 1)),
	smtp_password_auth     INTEGER NOT NULL DEFAULT 0 CHECK (smtp_password_auth IN (0, 1)),
	tls_mode               TEXT    NOT NULL DEFAULT 'opportunistic'
	                       CHECK (tls_mode IN ('opportunistic', 'enforced', 'none')),
	tls_require_valid_cert INTEGER NOT NULL DEFAULT 0 CHECK (tls_require_valid_cert IN (0, 1)),
	tls_min_version        TEXT    NOT NULL DEFAULT '1.2' CHECK (tls_min_version IN ('1.2', '1.3')),
	created_at             INTEGER NOT NULL
) STRICT;
CREATE INDEX account_parent ON account(parent_id);

CREATE TABLE user (
	id                  INTEGER PRIMARY KEY,
	account_id          INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
	email               TEXT    NOT NULL UNIQUE COLLATE NOCASE CHECK (length(email) BETWEEN 3 AND 254),
	password_hash       TEXT    CHECK (password_hash IS NULL OR password_hash LIKE '$scrypt$%'),
	disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at          INTEGER NOT NULL,
	password_changed_at INTEGER
) STRICT;
CREATE INDEX user_account ON user(account_id);

CREATE TABLE api_key (
	id           INTEGER PRIMARY KEY,
	public_id    TEXT    NOT NULL UNIQUE CHECK (length(public_id) = 12),
	account_id   INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
	name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 128),
	secret_hash  BLOB    NOT NULL CHECK (length(secret_hash) = 32),
	scopes       TEXT    NOT NULL CHECK (length(scopes) > 0),
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	last_used_at INTEGER,
	revoked_at   INTEGER
) STRICT;
CREATE INDEX api_key_account ON api_key(account_id);
-- A name is reusable once the key that had it is revoked.
CREATE UNIQUE INDEX api_key_live_name ON api_key(account_id, name) WHERE revoked_at IS NULL;

CREATE TABLE ip_allow (
	id         INTEGER PRIMARY KEY,
	account_id INTEGER NOT NULL REFERENCES account(id) ON DELETE CASCADE,
	cidr       TEXT    NOT NULL CHECK (length(cidr) BETWEEN 4 AND 43),
	label      TEXT    NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL,
	UNIQUE (account_id, cidr)
) STRICT;

-- Append-only: the account is kept by name, so an account's history
-- outlives the account.
CREATE TABLE audit (
	id      INTEGER PRIMARY KEY,
	time    INTEGER NOT NULL,
	actor   TEXT    NOT NULL,
	action  TEXT    NOT NULL,
	account TEXT,
	target  TEXT,
	detail  TEXT,
	address TEXT
) STRICT;
CREATE INDEX audit_time ON audit(time);
CREATE INDEX audit_account_time ON audit(account, time);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
