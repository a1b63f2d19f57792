-- Postern schema version 3: delivery events learned from Postfix's log,
-- the messages of accounts still in flight, and each log follower's read
-- position.  Applied in one transaction by libaccount (migrate.c); never
-- edit a released migration, add one.
--
-- The follower writes events, messages in flight and its new position in
-- ONE transaction (acct_event_add), so a crash keeps all or none.

-- One row per recipient of a message submitted by an account: its latest
-- outcome.  A deferral is replaced by the final outcome; a final outcome
-- is never replaced by a deferral (libaccount/src/store_sqlite.c).
CREATE TABLE event (
	id            INTEGER PRIMARY KEY,
	time          INTEGER NOT NULL,
	submitted_at  INTEGER NOT NULL,
	queue_id      TEXT    NOT NULL CHECK (length(queue_id) BETWEEN 1 AND 31),
	account       TEXT    NOT NULL CHECK (length(account) BETWEEN 1 AND 320),
	login         TEXT    NOT NULL CHECK (length(login) BETWEEN 1 AND 320),
	sender        TEXT    CHECK (length(sender) <= 511),
	recipient     TEXT    NOT NULL CHECK (length(recipient) BETWEEN 1 AND 511),
	recipient_domain TEXT NOT NULL CHECK (recipient_domain = lower(recipient_domain)),
	message_id    TEXT    CHECK (length(message_id) <= 511),
	client        TEXT    CHECK (length(client) <= 511),
	type          TEXT    NOT NULL CHECK (type IN ('delivered', 'deferred', 'bounced', 'blocked')),
	dsn           TEXT    CHECK (length(dsn) <= 15),
	reason        TEXT    CHECK (length(reason) <= 1023),
	relay         TEXT    CHECK (length(relay) <= 511),
	transport     TEXT    CHECK (length(transport) <= 255),
	network       INTEGER NOT NULL CHECK (network IN (0, 1)),
	tls_protocol  TEXT    CHECK (length(tls_protocol) <= 31),
	tls_cipher    TEXT    CHECK (length(tls_cipher) <= 127),
	tls_trust     TEXT    NOT NULL CHECK (tls_trust IN ('none', 'unknown', 'anonymous', 'untrusted',
	                                                    'trusted', 'verified')),
	tls_refused   INTEGER NOT NULL CHECK (tls_refused IN (0, 1)),
	UNIQUE (queue_id, recipient, submitted_at)
) STRICT;
CREATE INDEX event_account_time ON event (account, time);
CREATE INDEX event_time ON event (time);

-- Messages of accounts still in Postfix's queue, so that a restarted
-- follower knows whose a delivery line is.
CREATE TABLE maillog_pending (
	queue_id      TEXT    PRIMARY KEY CHECK (length(queue_id) BETWEEN 1 AND 31),
	submitted_at  INTEGER NOT NULL,
	account       TEXT    NOT NULL CHECK (length(account) BETWEEN 1 AND 320),
	sender        TEXT    CHECK (length(sender) <= 511),
	message_id    TEXT    CHECK (length(message_id) <= 511),
	client        TEXT    CHECK (length(client) <= 511)
) STRICT;

-- Where each follower is: the followed file (by path), its identity when
-- last read (device and inode, to notice rotation) and the offset after
-- the last line taken into account.
CREATE TABLE log_position (
	name          TEXT    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 1023),
	device        INTEGER NOT NULL,
	inode         INTEGER NOT NULL,
	offset        INTEGER NOT NULL CHECK (offset >= 0),
	updated_at    INTEGER NOT NULL
) STRICT;
