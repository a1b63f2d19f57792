/*
 * The policy delegation server (check_policy_service): glues the
 * policy parser to the RCPT decision in policy.c and keeps, per
 * connection, the route chosen for the message in progress (Postfix
 * uses one connection per smtpd process, and `instance` names the
 * message).
 */
#include <stdio.h>
#include <string.h>

#include "hookd.h"
#include "log.h"
#include "proto_policy.h"
#include "srv.h"

static ssize_t pol_data(conn *c, const char *buf, size_t len)
{
	policy_memo *memo = conn_state(c);
	hookd *h = conn_ctx(c);
	size_t used = 0;

	while (used < len) {
		pol_request q;
		policy_facts f;
		char action[256], out[300];
		const char *err;
		size_t n = 0;
		proto_status st = pol_parse(&q, buf + used, len - used, &n, &err);
		int w;

		if (st == PROTO_NEED_MORE)
			break;
		used += n;
		if (st == PROTO_ERROR) {
			hlog(LOG_WARNING, "policy: %s: malformed request (%s): closing", conn_peer(c), err);
			return -1;
		}
		if (strcmp(q.request, "smtpd_access_policy") != 0) {
			hlog(LOG_WARNING, "policy: %s: request=%.31s is not smtpd_access_policy: closing", conn_peer(c),
			     q.request);
			return -1;
		}
		f.sasl_username = q.sasl_username;
		f.client_address = q.client_address;
		f.instance = q.instance;
		policy_decide(h, memo, &f, action, sizeof(action));
		w = snprintf(out, sizeof(out), "action=%s\n\n", action);
		if (w < 0 || (size_t)w >= sizeof(out) || conn_write(c, out, (size_t)w) != 0)
			return -1;
	}
	return (ssize_t)used;
}

const proto policy_proto = {"policy", POL_REQUEST_MAX, sizeof(policy_memo), NULL, pol_data, NULL};
