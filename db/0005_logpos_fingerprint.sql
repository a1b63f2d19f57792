-- Schema 5: a fingerprint of the followed file with its read position,
-- so that the follower recognises its file after it was renamed AND
-- compressed (a new inode) or its inode number reused: the follower
-- (smtp-hook/maillog_follow.c) stores the SHA-256 of the file's first
-- min(offset, 4096) bytes.  Opaque to the store; NULL = none (rows
-- written before schema 5 until the follower's next commit).
ALTER TABLE log_position ADD COLUMN fingerprint BLOB
	CHECK (fingerprint IS NULL OR length(fingerprint) BETWEEN 1 AND 64);
