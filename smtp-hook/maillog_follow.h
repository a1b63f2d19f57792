/*
 * maillog_follow: follows Postfix's log file (maillog_file, or a syslog
 * file) and records delivery events in the store, surviving rotation and
 * its own restarts without losing or doubling an event.
 *
 *  - It reads complete lines only (a partial last line waits for its
 *    newline; a line longer than ML_LINE_MAX is skipped whole), parses
 *    them (maillog.c), correlates them (maillog_track.c) and, every
 *    `batch_lines` lines and at the end of what is there to read, commits
 *    the events, the messages-in-flight changes, the smtp processes' TLS
 *    state changes and the offset after the last line it took, in ONE
 *    transaction (acct_event_add).  A crash
 *    loses only uncommitted work, which it reads again after a restart;
 *    recording the same lines twice changes nothing in the store.
 *  - Rotation: when the path names another file (inode or device
 *    changed), it finishes the old file it still has open (Postfix may
 *    write a last line into it before postlogd reopens), then starts the
 *    new one at offset 0.  A file that shrank below the offset was
 *    truncated (copytruncate) and is read from 0.  At start, when the
 *    saved inode is no longer the file at the path, it looks for the
 *    rotated file among the path's siblings named PATH.* or PATH-*
 *    (Postfix's "postfix logrotate" makes PATH.YYYYMMDD-HHMMSS, logrotate
 *    PATH.1 or PATH-YYYYMMDD) by inode, or, compressed since (gzip, as
 *    Postfix's maillog_file_compressor does a second after the rename),
 *    by the fingerprint saved with the position (SHA-256 of the file's
 *    first min(offset, 4096) bytes), and finishes it first, through zlib.
 *    After a rotated file it reads those rotated after it (by
 *    modification time), then the file at the path.  A damaged .gz is
 *    read up to the damage, reported (opts.notice) and left.
 *  - Retention: with opts.retention, events older than that are deleted
 *    (acct_event_del_before) at the first poll and then once an hour.
 *  - Messages in flight are restored from the store at start, so a
 *    message whose smtpd line was read before a restart still gets its
 *    events after it; so is each smtp process's TLS state (at most one row
 *    per slot of the correlator's table, MLT_PIDS), so a delivery whose
 *    "TLS connection established" line was read before a restart still
 *    gets its TLS protocol, cipher and trust after it.
 *
 *  - A budget: with opts.max_lines, one mlf_poll takes at most that many
 *    lines (the rest waits, read but not taken, for the next call), so a
 *    daemon catching up on a large backlog keeps answering its clients
 *    between two polls.
 *
 * The daemon calls mlf_open() once and mlf_poll() on a timer (every
 * second is plenty), and again at once while mlf_more(); everything
 * else is inside.
 */
#ifndef POSTERN_MAILLOG_FOLLOW_H
#define POSTERN_MAILLOG_FOLLOW_H

#include <stddef.h>
#include <stdint.h>

#include "postern/account.h"

typedef struct mlf mlf;

#define MLF_OPTIONS_VERSION 1

typedef struct mlf_options {
	unsigned int version;   /* MLF_OPTIONS_VERSION */
	size_t batch_lines;     /* lines per transaction; 0 = 2000 */
	size_t max_messages;    /* messages in flight; 0 = MLT_DEFAULT_MAX_MESSAGES */
	int local_offset_min;   /* zone of syslog times without one, minutes east of UTC */
	int64_t retention;      /* seconds to keep events (by event time); 0 = forever.
	                           Pruned at the first poll, then at most once an hour */
	size_t max_lines;       /* lines one mlf_poll takes at most; 0 = everything there is */
	/* what the operator should know (a compressed rotated file resumed,
	 * one damaged, lines lost); warning != 0 for the losses; NULL = quiet */
	void (*notice)(int warning, const char *msg, void *ctx);
	void *notice_ctx;
} mlf_options;

#define MLF_OPTIONS_INIT {MLF_OPTIONS_VERSION, 0, 0, 0, 0, 0, NULL, NULL}

typedef struct mlf_stats {
	uint64_t lines;       /* complete lines read (this process) */
	uint64_t records;     /* of them, delivery-event records */
	uint64_t malformed;   /* recognised but malformed, and over-long lines */
	uint64_t events;      /* events recorded */
	uint64_t commits;     /* transactions */
	uint64_t rotations;   /* switches to a new file */
	uint64_t lost;        /* messages evicted from the in-flight table */
	uint64_t pruned;      /* events deleted for being older than the retention */
} mlf_stats;

/* Open the follower of `path` on an open store (borrowed: it must
 * outlive the follower).  The file need not exist yet.  Returns ACCT_OK
 * or an ACCT_E... code with a message in `err`. */
int mlf_open(mlf **out, acct_db *db, const char *path, const mlf_options *opts, char *err, size_t errlen);

/* Read and record everything there is to read now, or opts.max_lines
 * lines of it (`now` dates syslog lines without a year).  What was taken
 * is committed before it returns.  Returns ACCT_OK or an ACCT_E... code
 * (the store's, with acct_errmsg(db)); after an error the next call
 * starts again from the last committed position. */
int mlf_poll(mlf *f, int64_t now);

/* Nonzero when the last mlf_poll stopped at max_lines with more to read:
 * call it again soon (the daemon does, between its requests) rather than
 * at the next timer. */
int mlf_more(const mlf *f);

void mlf_get_stats(const mlf *f, mlf_stats *out);

void mlf_close(mlf *f);

#endif
