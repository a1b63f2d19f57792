/*
 * The SASL server for Postfix (smtpd_sasl_type = dovecot): glues the
 * Dovecot protocol parser to libaccount's AUTH decision.
 *
 * Mechanisms PLAIN and LOGIN.  The client sees one generic refusal; the
 * precise reason goes to the audit log (libaccount) and to our log.
 * When the store cannot answer, the connection is closed instead of
 * answering FAIL: Postfix makes a lost auth connection a temporary
 * error (454 4.7.0) for its client, whereas every FAIL is a permanent
 * 535.  One conversation may be in progress per connection, which is
 * all Postfix uses; a new AUTH replaces an unfinished one.
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "hookd.h"
#include "log.h"
#include "proto_dovecot.h"
#include "srv.h"

enum stage { ST_NONE, ST_PLAIN, ST_LOGIN_USER, ST_LOGIN_PASS };

typedef struct dv_state {
	int got_version;
	enum stage stage;
	unsigned long id;
	char user[DV_CRED_MAX + 1];
	char rip[DV_ADDR_MAX + 1];
} dv_state;

static char cookie[33];
static unsigned long cuid;

static int dv_open(conn *c)
{
	char buf[256];
	int n;

	if (cookie[0] == '\0') {
		unsigned char r[16];

		if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return -1;
		for (size_t i = 0; i < sizeof(r); i++)
			snprintf(cookie + 2 * i, 3, "%02x", r[i]);
	}
	n = snprintf(buf, sizeof(buf),
	             "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t%ld\nCUID\t%lu\n"
	             "COOKIE\t%s\nDONE\n",
	             (long)getpid(), ++cuid, cookie);
	return conn_write(c, buf, (size_t)n);
}

/* "VERB<TAB>id<TAB>field\n" */
static int reply(conn *c, const char *verb, unsigned long id, const char *field)
{
	char buf[DV_DATA_MAX + 128];
	int n = snprintf(buf, sizeof(buf), "%s\t%lu\t%s\n", verb, id, field);

	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return conn_write(c, buf, (size_t)n);
}

static int fail(conn *c, unsigned long id)
{
	return reply(c, "FAIL", id, "reason=Invalid credentials");
}

/* The decision for a complete username and password.  -1 closes the
 * connection: the temporary failure. */
static int decide(conn *c, dv_state *s, unsigned long id, const char *user, const char *pass)
{
	hookd *h = conn_ctx(c);
	acct_verdict v;
	acct_db *db;
	char field[ACCT_NAME_MAX + 8];
	int r;

	s->stage = ST_NONE;
	if ((db = hookd_db(h)) == NULL) {
		hlog(LOG_WARNING, "auth: client=%s: store unavailable: temporary failure", s->rip[0] ? s->rip : "-");
		return -1;
	}
	r = hookd_auth(h, &v, user, pass, s->rip);
	if (r != ACCT_OK || v.kind == ACCT_TEMPFAIL) {
		hlog(LOG_WARNING, "auth: client=%s: store unavailable: temporary failure", s->rip[0] ? s->rip : "-");
		hookd_db_failed(h);
		return -1;
	}
	if (v.kind == ACCT_DENY) {
		hlog(LOG_NOTICE, "auth: client=%s key=%s account=%s: denied: %s", s->rip[0] ? s->rip : "-",
		     v.key_id[0] ? v.key_id : "-", v.account[0] ? v.account : "-", acct_reason_code(v.reason));
		return fail(c, id);
	}
	hlog(LOG_DEBUG, "auth: client=%s key=%s account=%s: allowed", s->rip[0] ? s->rip : "-",
	     v.key_id[0] ? v.key_id : "-", v.account);
	snprintf(field, sizeof(field), "user=%s", v.account);
	return reply(c, "OK", id, field);
}

static int on_auth(conn *c, dv_state *s, const dv_request *q)
{
	unsigned char raw[DV_DATA_MAX];
	char user[DV_CRED_MAX + 1], pass[DV_CRED_MAX + 1];
	long n = -1;
	int plain = strcmp(q->mech, "PLAIN") == 0, r;

	explicit_bzero(s->user, sizeof(s->user));
	s->stage = ST_NONE;
	s->id = q->id;
	snprintf(s->rip, sizeof(s->rip), "%s", q->rip);
	if (!plain && strcmp(q->mech, "LOGIN") != 0)
		return reply(c, "FAIL", q->id, "reason=Unsupported authentication mechanism");
	if (!q->has_resp) {
		s->stage = plain ? ST_PLAIN : ST_LOGIN_USER;
		/* A CONT always carries a data field, even an empty one. */
		return reply(c, "CONT", q->id, plain ? "" : "VXNlcm5hbWU6"); /* "Username:" */
	}
	n = dv_b64_decode(raw, sizeof(raw), q->data, q->data_len);
	if (plain) {
		if (n < 0 || dv_plain(user, pass, raw, (size_t)n) != 0) {
			hlog(LOG_NOTICE, "auth: client=%s: malformed PLAIN response", s->rip[0] ? s->rip : "-");
			r = fail(c, q->id);
		} else {
			r = decide(c, s, q->id, user, pass);
		}
		explicit_bzero(raw, sizeof(raw));
		explicit_bzero(pass, sizeof(pass));
		return r;
	}
	if (n < 0 || dv_login_field(s->user, raw, (size_t)n) != 0) {
		explicit_bzero(raw, sizeof(raw));
		return fail(c, q->id);
	}
	s->stage = ST_LOGIN_PASS;
	return reply(c, "CONT", q->id, "UGFzc3dvcmQ6"); /* "Password:" */
}

static int on_cont(conn *c, dv_state *s, const dv_request *q)
{
	unsigned char raw[DV_DATA_MAX];
	char user[DV_CRED_MAX + 1], pass[DV_CRED_MAX + 1];
	long n;
	int r;

	if (s->stage == ST_NONE || q->id != s->id)
		return fail(c, q->id);
	n = dv_b64_decode(raw, sizeof(raw), q->data, q->data_len);
	switch (s->stage) {
	case ST_PLAIN:
		if (n >= 0 && dv_plain(user, pass, raw, (size_t)n) == 0) {
			r = decide(c, s, q->id, user, pass);
		} else {
			s->stage = ST_NONE;
			r = fail(c, q->id);
		}
		break;
	case ST_LOGIN_USER:
		if (n >= 0 && dv_login_field(s->user, raw, (size_t)n) == 0) {
			s->stage = ST_LOGIN_PASS;
			r = reply(c, "CONT", q->id, "UGFzc3dvcmQ6"); /* "Password:" */
		} else {
			s->stage = ST_NONE;
			r = fail(c, q->id);
		}
		break;
	default: /* ST_LOGIN_PASS */
		memcpy(user, s->user, sizeof(user));
		if (n >= 0 && dv_login_field(pass, raw, (size_t)n) == 0) {
			r = decide(c, s, q->id, user, pass);
		} else {
			s->stage = ST_NONE;
			r = fail(c, q->id);
		}
		break;
	}
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(pass, sizeof(pass));
	explicit_bzero(user, sizeof(user));
	if (s->stage == ST_NONE)
		explicit_bzero(s->user, sizeof(s->user));
	return r;
}

static ssize_t dv_data(conn *c, const char *buf, size_t len)
{
	dv_state *s = conn_state(c);
	dv_request q;
	size_t used = 0;
	const char *err;

	while (used < len) {
		size_t n = 0;
		proto_status st = dv_parse(&q, buf + used, len - used, &n, &err);
		int r = 0;

		if (st == PROTO_NEED_MORE)
			break;
		used += n;
		if (st == PROTO_ERROR) {
			hlog(LOG_WARNING, "auth: %s: malformed request (%s): closing", conn_peer(c), err);
			explicit_bzero(&q, sizeof(q));
			return -1;
		}
		switch (q.cmd) {
		case DV_VERSION:
			if (q.major != 1) {
				hlog(LOG_WARNING, "auth: %s: protocol version %lu not supported: closing", conn_peer(c),
				     q.major);
				r = -1;
			}
			s->got_version = 1;
			break;
		case DV_CPID:
		case DV_OTHER:
			break;
		case DV_AUTH:
			r = s->got_version ? on_auth(c, s, &q) : -1;
			break;
		case DV_CONT:
			r = s->got_version ? on_cont(c, s, &q) : -1;
			break;
		}
		explicit_bzero(q.data, sizeof(q.data));
		if (r != 0)
			return -1;
	}
	return (ssize_t)used;
}

static void dv_close(conn *c)
{
	dv_state *s = conn_state(c);

	explicit_bzero(s, sizeof(*s));
}

const proto dovecot_proto = {"auth", DV_LINE_MAX, sizeof(dv_state), dv_open, dv_data, dv_close};
