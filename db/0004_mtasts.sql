-- Postern schema version 4: the MTA-STS policy cache of postern-hookd's
-- TLS policy service (smtp-hook/srv_tlspolicy.c, docs/mta-sts.md).
-- Applied in one transaction by libaccount (migrate.c); never edit a
-- released migration, add one.
--
-- One row per recipient domain, of one of two kinds:
--   'policy'    a policy fetched from https://mta-sts.DOMAIN/ for the TXT
--               id `txt_id`; served until `expires` (fetched_at + max_age)
--               and kept past it (expired) until a refetch replaces it or
--               DNS says the domain no longer has a policy, so that a
--               failed refetch of an expired policy defers instead of
--               silently sending without one;
--   'nopolicy'  the negative cache: the domain had no (valid) policy when
--               checked; `expires` is at most a day later (the library
--               bounds it), and such a row never replaces an unexpired
--               policy (a TXT record that disappears does not cancel one).
CREATE TABLE mtasts_policy (
	domain        TEXT    PRIMARY KEY CHECK (length(domain) BETWEEN 1 AND 253 AND domain = lower(domain)),
	kind          TEXT    NOT NULL CHECK (kind IN ('policy', 'nopolicy')),
	txt_id        TEXT    CHECK (txt_id IS NULL OR length(txt_id) BETWEEN 1 AND 32),
	policy        TEXT    CHECK (policy IS NULL OR length(CAST(policy AS BLOB)) <= 65536),
	mode          TEXT    CHECK (mode IS NULL OR mode IN ('enforce', 'testing', 'none')),
	max_age       INTEGER CHECK (max_age IS NULL OR max_age BETWEEN 0 AND 31557600),
	fetched_at    INTEGER NOT NULL,
	expires       INTEGER NOT NULL,
	checked_at    INTEGER NOT NULL,
	last_error    TEXT    CHECK (last_error IS NULL OR length(last_error) BETWEEN 1 AND 511),
	last_error_at INTEGER,
	CHECK ((kind = 'policy') = (txt_id IS NOT NULL AND policy IS NOT NULL AND mode IS NOT NULL
	                            AND max_age IS NOT NULL))
) STRICT;
-- The background refresher takes the entries that expire first.
CREATE INDEX mtasts_policy_expires ON mtasts_policy (expires);
