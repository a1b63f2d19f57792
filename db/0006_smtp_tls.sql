-- Schema 6: the log follower's TLS state of Postfix's smtp processes,
-- so that a follower restarted between a process's "... TLS connection
-- established to HOST" line and its delivery line ("status=sent") still
-- gives that delivery its TLS protocol, cipher and trust.  The follower
-- (smtp-hook/maillog_follow.c) writes these rows in the same transaction
-- as its events and position (acct_event_add), one per slot of its
-- fixed table of smtp processes (at most 512 rows: a process that takes
-- the slot of another replaces its row), deletes a row when the state is
-- dropped (a delivery to another host, or older than an hour), and reads
-- them back when it starts.
CREATE TABLE maillog_smtp_tls (
	pid           INTEGER PRIMARY KEY CHECK (pid > 0),
	time          INTEGER NOT NULL,
	host          TEXT    NOT NULL CHECK (length(host) BETWEEN 1 AND 511),
	established   INTEGER NOT NULL CHECK (established IN (0, 1)),
	protocol      TEXT    CHECK (length(protocol) <= 31),
	cipher        TEXT    CHECK (length(cipher) <= 127),
	trust         TEXT    NOT NULL CHECK (trust IN ('none', 'unknown', 'anonymous', 'untrusted',
	                                                'trusted', 'verified')),
	verify_error  TEXT    CHECK (length(verify_error) <= 511)
) STRICT;
