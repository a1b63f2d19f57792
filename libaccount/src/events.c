/*
 * Delivery events: what happened to each recipient of each message an
 * account submitted, as the log follower learned it from Postfix, with
 * the follower's read position written in the same transaction (so a
 * crash or restart neither loses nor doubles an event), and the TLS
 * report computed from them.  The store does the SQL; this file checks
 * input, resolves a user's login to the user's account, and wraps each
 * batch in one transaction.
 */
#include <stdio.h>
#include <string.h>

#include "db_internal.h"

#define LOG_NAME_MAX 1023
#define TRANSPORT_MAX 255
#define CLIENT_MAX 511

static int check_text(acct_db *db, const char *what, const char *v, size_t max, int required)
{
	size_t n;

	if (v == NULL || *v == '\0') {
		if (required)
			return acct__err(db, ACCT_EINVAL, "an event needs a %s", what);
		return ACCT_OK;
	}
	if ((n = strlen(v)) > max)
		return acct__err(db, ACCT_EINVAL, "event %s is longer than %zu bytes", what, max);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
			return acct__err(db, ACCT_EINVAL, "event %s contains a control character", what);
	return ACCT_OK;
}

static int check_event(acct_db *db, const acct_event *e)
{
	int r;

	if (e->type < ACCT_EVENT_DELIVERED || e->type > ACCT_EVENT_BLOCKED)
		return acct__err(db, ACCT_EINVAL, "event type must be delivered, deferred, bounced or blocked");
	if ((int)e->tls_trust < ACCT_TRUST_NONE || e->tls_trust > ACCT_TRUST_VERIFIED)
		return acct__err(db, ACCT_EINVAL, "unknown TLS trust level %d", (int)e->tls_trust);
	if ((r = check_text(db, "queue id", e->queue_id, ACCT_QUEUE_ID_MAX, 1)) != ACCT_OK ||
	    (r = check_text(db, "account", e->account, ACCT_EMAIL_MAX, 1)) != ACCT_OK ||
	    (r = check_text(db, "recipient", e->recipient, ACCT_EVENT_ADDR_MAX, 1)) != ACCT_OK ||
	    (r = check_text(db, "sender", e->sender, ACCT_EVENT_ADDR_MAX, 0)) != ACCT_OK ||
	    (r = check_text(db, "message id", e->message_id, ACCT_EVENT_ADDR_MAX, 0)) != ACCT_OK ||
	    (r = check_text(db, "client", e->client, CLIENT_MAX, 0)) != ACCT_OK ||
	    (r = check_text(db, "dsn", e->dsn, 15, 0)) != ACCT_OK ||
	    (r = check_text(db, "reason", e->reason, ACCT_EVENT_TEXT_MAX, 0)) != ACCT_OK ||
	    (r = check_text(db, "relay", e->relay, ACCT_EVENT_ADDR_MAX, 0)) != ACCT_OK ||
	    (r = check_text(db, "transport", e->transport, TRANSPORT_MAX, 0)) != ACCT_OK ||
	    (r = check_text(db, "TLS protocol", e->tls_protocol, 31, 0)) != ACCT_OK ||
	    (r = check_text(db, "TLS cipher", e->tls_cipher, 127, 0)) != ACCT_OK)
		return r;
	return ACCT_OK;
}

static int check_pending(acct_db *db, const acct_pending_msg *m, int full)
{
	int r;

	if ((r = check_text(db, "queue id", m->queue_id, ACCT_QUEUE_ID_MAX, 1)) != ACCT_OK)
		return r;
	if (!full)
		return ACCT_OK;
	if ((r = check_text(db, "account", m->account, ACCT_EMAIL_MAX, 1)) != ACCT_OK ||
	    (r = check_text(db, "sender", m->sender, ACCT_EVENT_ADDR_MAX, 0)) != ACCT_OK ||
	    (r = check_text(db, "message id", m->message_id, ACCT_EVENT_ADDR_MAX, 0)) != ACCT_OK ||
	    (r = check_text(db, "client", m->client, CLIENT_MAX, 0)) != ACCT_OK)
		return r;
	return ACCT_OK;
}

static int check_smtp_tls(acct_db *db, const acct_smtp_tls *t)
{
	int r;

	if (t->pid <= 0)
		return acct__err(db, ACCT_EINVAL, "an smtp process's TLS state needs a process id");
	if ((int)t->tls_trust < ACCT_TRUST_NONE || t->tls_trust > ACCT_TRUST_VERIFIED)
		return acct__err(db, ACCT_EINVAL, "unknown TLS trust level %d", (int)t->tls_trust);
	if ((r = check_text(db, "TLS host", t->host, ACCT_EVENT_ADDR_MAX, 1)) != ACCT_OK ||
	    (r = check_text(db, "TLS protocol", t->protocol, 31, 0)) != ACCT_OK ||
	    (r = check_text(db, "TLS cipher", t->cipher, 127, 0)) != ACCT_OK ||
	    (r = check_text(db, "certificate error", t->verify_error, ACCT_EVENT_TEXT_MAX, 0)) != ACCT_OK)
		return r;
	return ACCT_OK;
}

static int check_batch(acct_db *db, const acct_event_batch *b)
{
	int r;

	if ((b->n_events && !b->events) || (b->n_expired && !b->expired) || (b->n_opened && !b->opened) ||
	    (b->n_closed && !b->closed) || (b->n_tls_dropped && !b->tls_dropped) || (b->n_tls_set && !b->tls_set))
		return acct__err(db, ACCT_EINVAL, "a batch count is set without its array");
	for (size_t i = 0; i < b->n_tls_set; i++)
		if ((r = check_smtp_tls(db, &b->tls_set[i])) != ACCT_OK)
			return r;
	for (size_t i = 0; i < b->n_events; i++)
		if ((r = check_event(db, &b->events[i])) != ACCT_OK)
			return r;
	for (size_t i = 0; i < b->n_expired; i++)
		if ((r = check_text(db, "queue id", b->expired[i].queue_id, ACCT_QUEUE_ID_MAX, 1)) != ACCT_OK)
			return r;
	for (size_t i = 0; i < b->n_opened; i++)
		if ((r = check_pending(db, &b->opened[i], 1)) != ACCT_OK)
			return r;
	for (size_t i = 0; i < b->n_closed; i++)
		if ((r = check_pending(db, &b->closed[i], 0)) != ACCT_OK)
			return r;
	if (b->pos) {
		if ((r = check_text(db, "log name", b->log_name, LOG_NAME_MAX, 1)) != ACCT_OK)
			return r;
		if (b->pos->offset < 0)
			return acct__err(db, ACCT_EINVAL, "a log offset cannot be negative");
	}
	return ACCT_OK;
}

/* The lowercase domain of an address ("" when it has none). */
static void domain_of(const char *addr, char *out, size_t len)
{
	const char *at = strrchr(addr, '@');
	size_t n = 0;

	if (at)
		for (const char *p = at + 1; *p && n + 1 < len; p++)
			out[n++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p - 'A' + 'a') : *p;
	out[n] = '\0';
}

/* Delivered by Postfix's smtp client to a remote host: the only
 * deliveries the TLS report counts (not local, lmtp, discard, pipe). */
static int by_network(const acct_event *e)
{
	const char *t = e->transport, *slash;

	if (!t || !e->relay || !strchr(e->relay, '['))
		return 0;
	slash = strrchr(t, '/');
	return strcmp(slash ? slash + 1 : t, "smtp") == 0;
}

/* The account a SASL name stands for: an account name as is; a user's
 * email as that user's account (the name itself when unknown). */
typedef struct resolver {
	char login[ACCT_EMAIL_MAX + 1];
	char account[ACCT_EMAIL_MAX + 1];
} resolver;

static int resolve(acct_db *db, resolver *rs, const char *login, const char **out)
{
	rec_user u;
	int r;

	if (!strchr(login, '@')) {
		*out = login;
		return ACCT_OK;
	}
	if (strcmp(rs->login, login) != 0) {
		size_t n = strlen(login);
		memcpy(rs->login, login, n + 1);
		r = STORE(db)->user_get(db->st, login, &u);
		if (r == ACCT_OK)
			memcpy(rs->account, u.account, strlen(u.account) + 1);
		else if (r == ACCT_ENOTFOUND)
			memcpy(rs->account, login, n + 1);
		else {
			rs->login[0] = '\0';
			return r;
		}
	}
	*out = rs->account;
	return ACCT_OK;
}

int acct_event_add(acct_db *db, const acct_event_batch *b)
{
	resolver rs;
	char domain[ACCT_EVENT_ADDR_MAX + 1];
	int r;

	if (db == NULL || b == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if ((r = check_batch(db, b)) != ACCT_OK)
		return r;
	if (b->pos && b->pos->fingerprint_len > ACCT_LOG_FINGERPRINT_MAX)
		return acct__err(db, ACCT_EINVAL, "a log position's fingerprint is at most %d bytes",
		                 ACCT_LOG_FINGERPRINT_MAX);
	rs.login[0] = '\0';
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	for (size_t i = 0; r == ACCT_OK && i < b->n_opened; i++)
		r = STORE(db)->pending_put(db->st, &b->opened[i]);
	for (size_t i = 0; r == ACCT_OK && i < b->n_events; i++) {
		acct_event e = b->events[i];
		if ((r = resolve(db, &rs, b->events[i].account, &e.account)) != ACCT_OK)
			break;
		domain_of(e.recipient, domain, sizeof(domain));
		r = STORE(db)->event_put(db->st, &e, b->events[i].account, domain, by_network(&e));
	}
	for (size_t i = 0; r == ACCT_OK && i < b->n_expired; i++)
		r = STORE(db)->event_expire(db->st, &b->expired[i]);
	for (size_t i = 0; r == ACCT_OK && i < b->n_closed; i++)
		r = STORE(db)->pending_del(db->st, b->closed[i].queue_id, b->closed[i].submitted_at);
	for (size_t i = 0; r == ACCT_OK && i < b->n_tls_dropped; i++)
		r = STORE(db)->smtptls_del(db->st, b->tls_dropped[i]);
	for (size_t i = 0; r == ACCT_OK && i < b->n_tls_set; i++)
		r = STORE(db)->smtptls_put(db->st, &b->tls_set[i]);
	if (r == ACCT_OK && b->pos)
		r = STORE(db)->logpos_put(db->st, b->log_name, b->pos, acct_now(db));
	if (r != ACCT_OK && db->st->err[0])
		r = acct__store_err(db, r);
	return acct__end(db, r);
}

int acct_logpos_get(acct_db *db, const char *log_name, acct_log_pos *out)
{
	int r;

	if (db == NULL || out == NULL)
		return ACCT_EINVAL;
	memset(out, 0, sizeof(*out));
	acct__clear(db);
	if ((r = check_text(db, "log name", log_name, LOG_NAME_MAX, 1)) != ACCT_OK)
		return r;
	r = STORE(db)->logpos_get(db->st, log_name, out);
	return r == ACCT_OK ? r : acct__store_err(db, r);
}

int acct_pending_foreach(acct_db *db, acct_pending_cb cb, void *ctx)
{
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	r = STORE(db)->pending_foreach(db->st, cb, ctx);
	if (r < 0 && db->st->err[0])
		return acct__store_err(db, r);
	return r;
}

int acct_smtp_tls_foreach(acct_db *db, acct_smtp_tls_cb cb, void *ctx)
{
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	r = STORE(db)->smtptls_foreach(db->st, cb, ctx);
	if (r < 0 && db->st->err[0])
		return acct__store_err(db, r);
	return r;
}

int acct_event_foreach(acct_db *db, const acct_event_query *query, acct_event_cb cb, void *ctx)
{
	acct_event_query all = {NULL, 0, 0, ACCT_EVENT_ANY, 0};
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (query == NULL)
		query = &all;
	if (query->limit < 0 || query->since < 0 || query->until < 0)
		return acct__err(db, ACCT_EINVAL, "limit, since and until cannot be negative");
	if (query->type < ACCT_EVENT_ANY || query->type > ACCT_EVENT_BLOCKED)
		return acct__err(db, ACCT_EINVAL, "event type must be delivered, deferred, bounced or blocked");
	r = STORE(db)->event_foreach(db->st, query, cb, ctx);
	if (r < 0 && db->st->err[0])
		return acct__store_err(db, r);
	return r;
}

int acct_tls_report_get(acct_tls_report *out, acct_db *db, const char *account, int64_t since)
{
	int r;

	if (out == NULL)
		return ACCT_EINVAL;
	memset(out, 0, sizeof(*out));
	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (since < 0)
		return acct__err(db, ACCT_EINVAL, "since cannot be negative");
	r = STORE(db)->tls_report(db->st, account, since, out);
	if (r != ACCT_OK) {
		memset(out, 0, sizeof(*out));
		return acct__store_err(db, r);
	}
	return ACCT_OK;
}

int acct_tls_cleardomain_foreach(acct_db *db, const char *account, int64_t since, acct_domain_cb cb, void *ctx)
{
	int r;

	if (db == NULL || cb == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (since < 0)
		return acct__err(db, ACCT_EINVAL, "since cannot be negative");
	r = STORE(db)->cleardomain_foreach(db->st, account, since, cb, ctx);
	if (r < 0 && db->st->err[0])
		return acct__store_err(db, r);
	return r;
}

int acct_event_del_before(acct_db *db, int64_t before, int64_t *deleted)
{
	char detail[64];
	int64_t n = 0;
	int r;

	if (deleted)
		*deleted = 0;
	if (db == NULL)
		return ACCT_EINVAL;
	acct__clear(db);
	if (before < 0)
		return acct__err(db, ACCT_EINVAL, "the time cannot be negative");
	if ((r = acct__begin(db)) != ACCT_OK)
		return r;
	if ((r = STORE(db)->event_prune(db->st, before, &n)) != ACCT_OK) {
		r = acct__store_err(db, r);
		return acct__end(db, r);
	}
	/* a prune that found nothing is no change: nothing to audit */
	snprintf(detail, sizeof(detail), "%lld events before %lld", (long long)n, (long long)before);
	r = n > 0 ? acct__audit(db, "event.prune", NULL, NULL, detail, NULL) : ACCT_OK;
	if ((r = acct__end(db, r)) == ACCT_OK && deleted)
		*deleted = n;
	return r;
}
