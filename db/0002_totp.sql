-- Postern schema version 2: two-factor authentication (TOTP, RFC 6238)
-- and recovery codes.  Applied in one transaction by libaccount
-- (migrate.c); never edit a released migration, add one.
--
-- The TOTP secret is never stored in clear: `secret` is its AES-256-GCM
-- ciphertext followed by the 16-byte tag, under the master key named by
-- `key_id`, which lives in the key file outside the database
-- (libaccount/src/masterkey.c).

CREATE TABLE user_totp (
	user_id      INTEGER PRIMARY KEY REFERENCES user(id) ON DELETE CASCADE,
	state        TEXT    NOT NULL CHECK (state IN ('pending', 'enabled')),
	secret       BLOB    NOT NULL CHECK (length(secret) BETWEEN 26 AND 80),
	nonce        BLOB    NOT NULL CHECK (length(nonce) = 12),
	key_id       TEXT    NOT NULL CHECK (length(key_id) BETWEEN 1 AND 32),
	digits       INTEGER NOT NULL CHECK (digits IN (6, 8)),
	period       INTEGER NOT NULL CHECK (period BETWEEN 15 AND 300),
	last_step    INTEGER NOT NULL DEFAULT -1,
	failures     INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
	locked_until INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	enabled_at   INTEGER
) STRICT;

CREATE TABLE recovery_code (
	id        INTEGER PRIMARY KEY,
	user_id   INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
	code_hash BLOB    NOT NULL CHECK (length(code_hash) = 32),
	created_at INTEGER NOT NULL,
	used_at   INTEGER
) STRICT;
CREATE INDEX recovery_code_user ON recovery_code(user_id);
