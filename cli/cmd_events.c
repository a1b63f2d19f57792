/*
 * events ACCOUNT [--since TIME] [--type T] [--limit N]: what happened to
 * each recipient of the account's mail (delivered, deferred, bounced,
 * blocked), with the remote host and the TLS details, oldest first
 * within the newest N (50 unless --limit; 0 = all).
 * tls report ACCOUNT [--since TIME]: the account's TLS posture from those
 * events (its entry is in cmd_tls.c's table).  The events come from the
 * Postfix log follower (docs/events.md).
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[] = {"any", "delivered", "deferred", "bounced", "blocked"};
static const char *const trust_names[] = {"none", "unknown", "anonymous", "untrusted", "trusted", "verified"};

static const char *type_name(acct_event_type t)
{
	return t >= ACCT_EVENT_DELIVERED && t <= ACCT_EVENT_BLOCKED ? type_names[t] : "unknown";
}

static const char *trust_name(acct_tls_trust t)
{
	return t >= ACCT_TRUST_NONE && t <= ACCT_TRUST_VERIFIED ? trust_names[t] : "unknown";
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

struct list {
	cli_table *t;
	json_t *arr;
};

static int one(const acct_event *e, void *ctx)
{
	struct list *l = ctx;
	char t[32], tls[160];

	if (l->arr) {
		json_t *o = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s}", "id", (json_int_t)e->id, "time",
		                      cli_json_time(e->time), "type", type_name(e->type), "queue_id", e->queue_id,
		                      "account", e->account, "recipient", e->recipient);
		json_object_set_new(o, "submitted_at", cli_json_time(e->submitted_at));
		json_object_set_new(o, "sender", str_or_null(e->sender));
		json_object_set_new(o, "message_id", str_or_null(e->message_id));
		json_object_set_new(o, "client", str_or_null(e->client));
		json_object_set_new(o, "relay", str_or_null(e->relay));
		json_object_set_new(o, "transport", str_or_null(e->transport));
		json_object_set_new(o, "dsn", str_or_null(e->dsn));
		json_object_set_new(o, "reason", str_or_null(e->reason));
		if (e->tls_protocol)
			json_object_set_new(o, "tls",
			                    json_pack("{s:s, s:o, s:s, s:b}", "protocol", e->tls_protocol, "cipher",
			                              str_or_null(e->tls_cipher), "trust", trust_name(e->tls_trust),
			                              "verified", e->tls_trust == ACCT_TRUST_VERIFIED));
		else
			json_object_set_new(o, "tls", json_null());
		json_object_set_new(o, "tls_refused", json_boolean(e->tls_refused));
		json_array_append_new(l->arr, o);
	} else {
		const char *when = cli_time(t, e->time);
		if (e->tls_protocol)
			snprintf(tls, sizeof(tls), "%s %s", e->tls_protocol, trust_name(e->tls_trust));
		else
			snprintf(tls, sizeof(tls), "clear");
		const char *row[] = {when ? when : "-", type_name(e->type), e->queue_id, e->recipient,
		                     e->relay ? e->relay : "-", tls, e->reason ? e->reason : ""};
		cli_table_row(l->t, row);
	}
	return 0;
}

static int parse_limit(cli *c, const char *limit, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(limit, &end, 10);
	if (errno || end == limit || *end || n < 0 || n > 1000000)
		return cli_fail(c, EX_USAGE, "--limit takes a number from 0 (no limit) to 1000000, not '%.40s'", limit);
	*out = (int)n;
	return 0;
}

static int cmd_events(cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {"TIME", "TYPE", "QUEUE ID", "RECIPIENT", "RELAY", "TLS", "REASON"};
	const char *pos[1], *since = NULL, *type = NULL, *limit = NULL;
	const cli_opt opts[] = {{"--since", 1, &since, NULL},
	                        {"--type", 1, &type, NULL},
	                        {"--limit", 1, &limit, NULL},
	                        {NULL, 0, NULL, NULL}};
	acct_event_query q;
	struct list l = {NULL, NULL};
	int r;

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	memset(&q, 0, sizeof(q));
	q.account = pos[0]; /* events outlive a deleted account, as the audit log does */
	q.limit = 50;
	if (type) {
		int found = 0;
		for (int i = ACCT_EVENT_DELIVERED; i <= ACCT_EVENT_BLOCKED; i++)
			if (!strcmp(type, type_names[i])) {
				q.type = (acct_event_type)i;
				found = 1;
			}
		if (!found)
			return cli_fail(c, EX_USAGE, "--type takes delivered, deferred, bounced or blocked, not '%.40s'",
			                type);
	}
	if (since && (r = acct_since_parse(&q.since, c->db, since)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (limit && (r = parse_limit(c, limit, &q.limit)) != 0)
		return r;
	if (c->json)
		l.arr = json_array();
	else
		l.t = cli_table_new(7, hdr);
	if ((r = acct_event_foreach(c->db, &q, one, &l)) != ACCT_OK) {
		json_decref(l.arr);
		cli_table_free(l.t);
		return cli_acct_fail(c, r);
	}
	if (c->json)
		return cli_json(c, l.arr);
	cli_table_print(c, l.t);
	cli_table_free(l.t);
	return 0;
}

struct domains {
	json_t *arr;
	cli_table *t;
};

static int one_domain(const char *domain, int64_t count, void *ctx)
{
	struct domains *d = ctx;
	char n[32];

	if (d->arr) {
		json_array_append_new(d->arr, json_pack("{s:s, s:I}", "domain", domain, "recipients", (json_int_t)count));
	} else {
		snprintf(n, sizeof(n), "%lld", (long long)count);
		const char *row[] = {domain[0] ? domain : "(no domain)", n};
		cli_table_row(d->t, row);
	}
	return 0;
}

static double share(int64_t part, int64_t whole)
{
	return whole > 0 ? 100.0 * (double)part / (double)whole : 0.0;
}

int cli_cmd_tls_report(cli *c, int argc, char **argv);

int cli_cmd_tls_report(cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {"DOMAIN", "RECIPIENTS"};
	const char *pos[1], *since = NULL;
	const cli_opt opts[] = {{"--since", 1, &since, NULL}, {NULL, 0, NULL, NULL}};
	acct_tls_report rep;
	struct domains d = {NULL, NULL};
	int64_t from = 0;
	char t[32];
	int r;

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	if (since && (r = acct_since_parse(&from, c->db, since)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if ((r = acct_tls_report_get(&rep, c->db, pos[0], from)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json)
		d.arr = json_array();
	else
		d.t = cli_table_new(2, hdr);
	if ((r = acct_tls_cleardomain_foreach(c->db, pos[0], from, one_domain, &d)) != ACCT_OK) {
		json_decref(d.arr);
		cli_table_free(d.t);
		return cli_acct_fail(c, r);
	}
	if (c->json) {
		json_t *protos = json_object();
		for (size_t i = 0; i < rep.n_protocols; i++)
			json_object_set_new(protos, rep.protocols[i].protocol, json_integer((json_int_t)rep.protocols[i].count));
		json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I}", "account", pos[0],
		                      "delivered", (json_int_t)rep.delivered, "delivered_tls",
		                      (json_int_t)rep.delivered_tls, "delivered_clear", (json_int_t)rep.delivered_clear,
		                      "protocols", protos, "verified", (json_int_t)rep.verified, "unverified",
		                      (json_int_t)rep.unverified, "blocked", (json_int_t)rep.blocked, "bounced",
		                      (json_int_t)rep.bounced, "deferred", (json_int_t)rep.deferred);
		json_object_set_new(o, "since", from ? cli_json_time(from) : json_null());
		json_object_set_new(o, "tls_share", rep.delivered ? json_real((double)rep.delivered_tls /
		                                                              (double)rep.delivered)
		                                                  : json_null());
		json_object_set_new(o, "clear_domains", d.arr);
		return cli_json(c, o);
	}
	const char *when = from ? cli_time(t, from) : NULL;
	printf("TLS report of '%s'%s%s\n", pos[0], when ? " since " : "", when ? when : "");
	printf("delivered:          %lld recipients\n", (long long)rep.delivered);
	printf("  over TLS:         %lld (%.1f%%)\n", (long long)rep.delivered_tls,
	       share(rep.delivered_tls, rep.delivered));
	for (size_t i = 0; i < rep.n_protocols; i++)
		printf("    %-16s%lld\n", rep.protocols[i].protocol, (long long)rep.protocols[i].count);
	printf("    verified:       %lld\n", (long long)rep.verified);
	printf("    unverified:     %lld\n", (long long)rep.unverified);
	printf("  in the clear:     %lld (%.1f%%)\n", (long long)rep.delivered_clear,
	       share(rep.delivered_clear, rep.delivered));
	printf("blocked:            %lld\n", (long long)rep.blocked);
	printf("bounced:            %lld\n", (long long)rep.bounced);
	printf("deferred (pending): %lld\n", (long long)rep.deferred);
	if (cli_table_empty(d.t)) {
		printf("no recipient domain received mail in the clear\n");
	} else {
		printf("recipient domains that received mail in the clear:\n");
		cli_table_print(c, d.t);
	}
	cli_table_free(d.t);
	return 0;
}

static const cli_cmd cmds[] = {
	{NULL, "ACCOUNT [--since TIME] [--type delivered|deferred|bounced|blocked] [--limit N]",
	 "show what happened to each recipient of an account's mail, with its TLS details",
	 "events acme --type blocked --since 7d", cmd_events, CLI_F_SELF, "--since= --type= --limit=",
	 {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_events = {"events", "delivery events", cmds};
