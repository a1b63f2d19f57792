/*
 * Policy delegation decisions (check_policy_service, at RCPT): is the
 * authenticated account still allowed to send from this address, and
 * which route must its mail take so that its TLS requirement holds?
 *
 *   opportunistic          DUNNO (Postfix's own smtp_tls_security_level)
 *   enforced               FILTER to a transport that refuses to send in
 *                          the clear: encrypt or verify, TLS 1.2+ or 1.3
 *   none                   FILTER to a transport without TLS
 *
 * FILTER applies to the whole message, so the first recipient of a
 * message (Postfix's `instance`) fixes the route; should the account's
 * settings change between two recipients of one message, the later one
 * is deferred (452 4.5.3) and comes back in a transaction of its own.
 */
#include <stdio.h>
#include <string.h>

#include "hookd.h"
#include "log.h"

static const char *route_for(const hookd_conf *c, const acct_tls *t)
{
	switch (t->mode) {
	case ACCT_TLS_ENFORCED:
		if (t->require_valid_cert)
			return t->min_version == 13 ? c->transport_verify13 : c->transport_verify;
		return t->min_version == 13 ? c->transport_encrypt13 : c->transport_encrypt;
	case ACCT_TLS_NONE:
		return c->transport_clear;
	case ACCT_TLS_OPPORTUNISTIC:
		break;
	}
	return NULL;
}

static void decide(hookd *h, const policy_facts *f, char *action, size_t len)
{
	acct_verdict v;
	acct_tls tls;
	const char *route;
	acct_db *db;
	int64_t now;
	int r;

	if (f->sasl_username == NULL || *f->sasl_username == '\0') {
		snprintf(action, len, "DUNNO");
		return;
	}
	if ((db = hookd_db(h)) == NULL || hookd_cache_sync(h, db) != ACCT_OK)
		goto tempfail;
	now = acct_now(db);
	if (cache_rcpt_get(h->cache, &tls, f->sasl_username, f->client_address, now))
		goto route;
	r = acct_account_check(&v, db, f->sasl_username, f->client_address);
	if (r != ACCT_OK || v.kind == ACCT_TEMPFAIL) {
		hookd_db_failed(h);
		goto tempfail;
	}
	if (v.kind == ACCT_DENY) {
		hlog(LOG_NOTICE, "policy: account=%s client=%s: reject: %s", f->sasl_username,
		     f->client_address ? f->client_address : "-", acct_reason_code(v.reason));
		snprintf(action, len, "REJECT 5.7.1 %s",
		         v.reason == ACCT_R_IP_NOT_ALLOWED ? "Client address not permitted for this account"
		                                           : "Account not permitted to send");
		return;
	}
	if (acct_tls_get(&tls, db, v.account) != ACCT_OK) {
		hookd_db_failed(h);
		goto tempfail;
	}
	cache_rcpt_put(h->cache, &tls, f->sasl_username, f->client_address, now);
route:
	route = route_for(&h->conf, &tls);
	if (route == NULL)
		snprintf(action, len, "DUNNO");
	else
		snprintf(action, len, "FILTER %s:", route);
	hlog(LOG_DEBUG, "policy: account=%s client=%s tls=%s: %s", f->sasl_username,
	     f->client_address ? f->client_address : "-", acct_tls_mode_name(tls.mode), action);
	return;
tempfail:
	hlog(LOG_WARNING, "policy: account=%s: store unavailable: deferring", f->sasl_username);
	snprintf(action, len, "DEFER_IF_PERMIT 4.3.5 Account service temporarily unavailable; try again later");
}

void policy_decide(hookd *h, policy_memo *memo, const policy_facts *f, char *action, size_t len)
{
	const char *inst = f->instance ? f->instance : "";

	decide(h, f, action, len);
	if (*inst == '\0' || strncmp(action, "DEFER", 5) == 0 || strncmp(action, "REJECT", 6) == 0)
		return;
	if (strcmp(memo->instance, inst) != 0) {
		snprintf(memo->instance, sizeof(memo->instance), "%s", inst);
		snprintf(memo->action, sizeof(memo->action), "%s", action);
		return;
	}
	if (strcmp(memo->action, action) != 0) {
		hlog(LOG_NOTICE, "policy: account=%s: route changed within message %s (%s, now %s): deferring recipient",
		     f->sasl_username, inst, memo->action, action);
		snprintf(action, len, "452 4.5.3 Account TLS settings changed during this message; send this "
		                      "recipient again");
	}
}
