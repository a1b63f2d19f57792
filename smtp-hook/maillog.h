/*
 * maillog: a pure parser for the Postfix log lines that delivery events
 * are made of (bytes in, one record out; no syscalls, no allocation).
 *
 * Accepted line formats, all ending before an optional "\n" / "\r\n":
 *   "Mmm dd HH:MM:SS HOST TAG[PID]: TEXT"   Postfix's maillog_file (3.4+,
 *        postlogd; day zero-padded) and classic syslog (day space-padded)
 *   "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|+HHMM) HOST TAG[PID]: TEXT"
 *        rsyslog's RFC 3339 format and journalctl -o short-iso
 * TAG is "SYSLOG_NAME/PROGRAM" (postfix/smtpd, postfix/submission/smtpd,
 * postfix/postern-tls-encrypt/smtp, postfix-out/qmgr ...): the program is
 * the last component.  Queue ids are short (hex, the default) or long
 * (enable_long_queue_ids = yes: digits and consonants).
 *
 * Recognised TEXTs (Postfix 2.3 to 3.9; the older formats noted):
 *   smtpd    QID: client=NAME[ADDR], sasl_method=M, sasl_username=U
 *   cleanup  QID: message-id=<ID>
 *   qmgr     QID: from=<S>, size=N, nrcpt=N (queue active)
 *            QID: from=<S>, status=expired, returned to sender
 *            QID: removed
 *   any delivery agent (smtp lmtp local virtual pipe error retry discard
 *   qmgr): QID: to=<R>, [orig_to=<O>,] relay=H, [conn_use=N,] delay=D,
 *            [delays=a/b/c/d,] [dsn=X.Y.Z,] status=S (TEXT)
 *            (dsn= and delays= appeared in 2.3; before they are absent)
 *   smtp/lmtp  TRUST TLS connection established to HOST: PROTO with
 *            cipher CIPHER (N/M bits)...   TRUST = Anonymous, Untrusted,
 *            Trusted or Verified; 2.2-2.4 wrote no TRUST word;
 *            "... connection reused to ..." (3.4+ connection reuse)
 *            certificate verification failed for HOST: REASON
 *            (2.x: "server certificate verification failed for")
 *   bounce   QID: sender non-delivery notification: NEWQID
 *            (also "delay", "delivery status", "postmaster ...")
 * Anything else, Postfix or not, is ML_SKIP.
 *
 * Every field is copied into a fixed buffer of the record: an address
 * or a host longer than its buffer makes the line ML_EMALFORMED (never
 * a silently cut key); the free-text reason is cut at ML_TEXT_MAX bytes.
 */
#ifndef POSTERN_MAILLOG_H
#define POSTERN_MAILLOG_H

#include <stddef.h>
#include <stdint.h>

#define ML_LINE_MAX 8192 /* longer lines are ML_ETOOLONG */
#define ML_QID_MAX 31
#define ML_ADDR_MAX 511
#define ML_HOST_MAX 300
#define ML_NAME_MAX 127 /* sasl_username, syslog name, dsn, protocol, cipher */
#define ML_TEXT_MAX 511

/* maillog_parse() results */
enum {
	ML_REC = 1,         /* *out holds a record */
	ML_SKIP = 0,        /* not a line delivery events are made of */
	ML_ETOOLONG = -1,   /* longer than ML_LINE_MAX */
	ML_EMALFORMED = -2  /* a line we recognise, with a field we cannot take */
};

typedef enum ml_kind {
	ML_NONE = 0,
	ML_SMTPD_CLIENT,     /* qid, client, sasl_method, sasl_username (may be "") */
	ML_CLEANUP_MSGID,    /* qid, text = message id */
	ML_QMGR_FROM,        /* qid, addr = sender, size, nrcpt */
	ML_QMGR_EXPIRED,     /* qid, addr = sender */
	ML_QMGR_REMOVED,     /* qid */
	ML_DELIVERY,         /* qid, addr = recipient, orig_to, host = relay, dsn, status, text */
	ML_TLS_ESTABLISHED,  /* pid, host, trust, protocol, cipher */
	ML_TLS_VERIFY_FAILED,/* pid, host, text = reason */
	ML_BOUNCE_NOTICE     /* qid, notice, text = the new queue id */
} ml_kind;

typedef enum ml_status {
	ML_ST_NONE = 0,
	ML_ST_SENT,
	ML_ST_DEFERRED,
	ML_ST_BOUNCED,
	ML_ST_EXPIRED,
	ML_ST_DELIVERABLE,   /* address verification probes */
	ML_ST_UNDELIVERABLE
} ml_status;

typedef enum ml_trust {
	ML_TRUST_UNKNOWN = 0, /* 2.2-2.4: no trust word */
	ML_TRUST_ANONYMOUS,
	ML_TRUST_UNTRUSTED,
	ML_TRUST_TRUSTED,
	ML_TRUST_VERIFIED
} ml_trust;

typedef enum ml_notice {
	ML_NOTICE_NONE = 0,
	ML_NOTICE_NON_DELIVERY,
	ML_NOTICE_DELAY,
	ML_NOTICE_SUCCESS,
	ML_NOTICE_POSTMASTER
} ml_notice;

/* The time as written: syslog lines have no year (year = 0) and no
 * zone (has_offset = 0); RFC 3339 lines have both. */
typedef struct ml_time {
	int year, mon, mday, hour, min, sec; /* mon 1-12 */
	int has_offset;
	int offset_min; /* east of UTC */
} ml_time;

typedef struct maillog_rec {
	ml_kind kind;
	ml_time time;
	int64_t pid;
	char syslog_name[ML_NAME_MAX + 1]; /* "postfix/postern-tls-encrypt" */
	char program[ML_NAME_MAX + 1];     /* "smtp" */
	char qid[ML_QID_MAX + 1];
	char addr[ML_ADDR_MAX + 1];        /* without <>; "" for the null sender */
	char orig_to[ML_ADDR_MAX + 1];
	char host[ML_HOST_MAX + 1];        /* client=, relay=, TLS peer */
	char sasl_method[ML_NAME_MAX + 1];
	char sasl_username[ML_NAME_MAX + 1];
	char dsn[16];
	char protocol[32];                 /* "TLSv1.3" */
	char cipher[ML_NAME_MAX + 1];
	char text[ML_TEXT_MAX + 1];        /* reason, message id, new queue id */
	int64_t size, nrcpt;               /* -1 = not given */
	ml_status status;
	ml_trust trust;
	ml_notice notice;
	int tls_refusal; /* ML_DELIVERY not delivered because TLS was required
	                    and not available: see maillog_is_tls_refusal() */
} maillog_rec;

/* Parse one line (without or with its newline).  Returns ML_REC, ML_SKIP
 * or a negative ML_E... code; *out is fully written in every case. */
int maillog_parse(maillog_rec *out, const char *line, size_t len);

/* A static English description of a maillog_parse() result. */
const char *maillog_strerror(int code);

/* Whether a delivery status text is an enforcing transport's refusal to
 * send without TLS: Postern's status filter wording ("TLS required but
 * not supported"), or Postfix's own TLS refusals ("TLS is required, but
 * ...", "Cannot start TLS", "Server certificate not verified/trusted",
 * "... certificate verification failed", protocol-version failures)
 * under a 4.7.x or 5.7.x status. */
int maillog_is_tls_refusal(const char *dsn, const char *text);

/* Name of a trust level, status, kind ("verified", "sent", ...). */
const char *maillog_trust_name(ml_trust t);
const char *maillog_status_name(ml_status s);
const char *maillog_kind_name(ml_kind k);

/* Unix time of a record's timestamp.  Lines without a year take the
 * year that puts them nearest `now` (never more than a day ahead, so a
 * December line read in January is last year's); lines without a zone
 * are taken as `local_offset_min` east of UTC.  Returns 0, or -1 for an
 * impossible date. */
int maillog_time_unix(int64_t *out, const ml_time *t, int64_t now, int local_offset_min);

#endif
