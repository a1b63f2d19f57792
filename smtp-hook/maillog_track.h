/*
 * maillog_track: the correlator of delivery events.  Pure: fed parsed
 * log records (maillog.h) in log order, it joins, by queue id, smtpd's
 * sasl_username, cleanup's message-id, qmgr's sender and each delivery
 * agent's per-recipient line, and, by process id and remote host, the
 * smtp client's "... TLS connection established to HOST" line that came
 * before the delivery line on the same connection.  It emits through a
 * callback:
 *   MLT_EVENT    one per recipient delivery line: delivered, deferred
 *                (with the reason; a later line for the same recipient
 *                replaces it in the store), bounced or blocked (an
 *                enforcing transport refused to send without TLS)
 *   MLT_EXPIRED  qmgr gave up on a message: its recipients still
 *                deferred are final now (bounced, or blocked when their
 *                deferral was a TLS refusal)
 *   MLT_OPEN     a message of an account is in flight, or its state
 *                changed (message id, sender): persist it, so that a
 *                restarted follower still knows the message's account
 *   MLT_CLOSE    the message left the queue ("removed") or was evicted
 *   MLT_TLS      the TLS state of one of the MLT_PIDS slots of smtp
 *                processes changed: `tls` is what the slot holds now, or
 *                NULL when it was emptied (the process delivered to
 *                another host, or its state aged out); persist it, so
 *                that a restarted follower still gives a delivery line
 *                the TLS details of the "TLS connection established" line
 *                it read before the restart (mlt_restore_tls)
 * Only messages submitted by an account (sasl_username set) are
 * tracked; everything else is ignored.
 *
 * Memory is bounded: at most `max_messages` messages in flight (default
 * 10000; each about 1.6 KB), the oldest evicted first when a new one
 * arrives, counted in stats.lost and reported as MLT_CLOSE with
 * lost = 1 (its later lines then produce no event); and a fixed table of
 * MLT_PIDS smtp processes' current TLS connection (direct-mapped by pid:
 * two live processes whose pids collide share a slot, and the loser's
 * next delivery line carries no TLS details).  TLS state of a process
 * holds for its delivery lines to the same host, and is dropped when it
 * delivers to another host (a new connection) or logs a new one, or when
 * it is older than MLT_TLS_MAX_AGE by the log's clock (Postfix reuses a
 * connection for 300 s at most, smtp_connection_reuse_time_limit: an
 * older state is a process that has exited, whose pid may come back).
 */
#ifndef POSTERN_MAILLOG_TRACK_H
#define POSTERN_MAILLOG_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "maillog.h"
#include "postern/account.h"

#define MLT_DEFAULT_MAX_MESSAGES 10000
#define MLT_PIDS 512
#define MLT_TLS_MAX_AGE 3600 /* seconds of log time */

typedef struct mlt mlt;

typedef enum mlt_kind { MLT_EVENT = 1, MLT_EXPIRED, MLT_OPEN, MLT_CLOSE, MLT_TLS } mlt_kind;

typedef struct mlt_output {
	mlt_kind kind;
	const acct_event *event;       /* MLT_EVENT */
	const acct_event_expiry *expiry; /* MLT_EXPIRED */
	const acct_pending_msg *msg;   /* MLT_OPEN; MLT_CLOSE: queue_id and submitted_at only */
	int lost;                      /* MLT_CLOSE by eviction */
	unsigned int slot;             /* MLT_TLS: 0..MLT_PIDS-1 (pid % MLT_PIDS) */
	const acct_smtp_tls *tls;      /* MLT_TLS: the slot's state now; NULL = empty */
} mlt_output;

/* Return 0 to go on; anything else stops mlt_feed, which returns it. */
typedef int (*mlt_emit_fn)(const mlt_output *out, void *ctx);

typedef struct mlt_stats {
	uint64_t records;   /* fed */
	uint64_t events;    /* MLT_EVENT emitted */
	uint64_t tracked;   /* messages currently in flight */
	uint64_t lost;      /* evicted before "removed" */
	uint64_t unknown;   /* delivery lines of untracked queue ids */
} mlt_stats;

/* max_messages 0 = MLT_DEFAULT_MAX_MESSAGES.  `now` and the local
 * offset (minutes east of UTC) date lines without a year or zone
 * (maillog_time_unix).  Returns NULL when out of memory. */
mlt *mlt_new(size_t max_messages, mlt_emit_fn emit, void *ctx);
void mlt_free(mlt *t);
void mlt_set_clock(mlt *t, int64_t now, int local_offset_min);

/* Feed one record; returns 0 or the callback's non-zero value. */
int mlt_feed(mlt *t, const maillog_rec *rec);

/* Re-create a message in flight from the store after a restart (no
 * output).  Returns 0, or -1 when a field is too long. */
int mlt_restore(mlt *t, const acct_pending_msg *msg);

/* Re-create an smtp process's TLS state from the store after a restart
 * (no output), in slot tls->pid % MLT_PIDS.  When that slot already holds
 * another process, the newer of the two (by time) stays: *displaced (may
 * be NULL) is set to the pid that does not, else 0, so that the caller
 * forgets it too.  Returns 0, or -1 when the pid is not positive or a
 * field is too long for the table (then *displaced = tls->pid). */
int mlt_restore_tls(mlt *t, const acct_smtp_tls *tls, int64_t *displaced);

void mlt_get_stats(const mlt *t, mlt_stats *out);

#endif
