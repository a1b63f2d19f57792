/*
 * events ACCOUNT [--since TIME] [--type T] [--limit N]: what happened to
 * each recipient of the account's mail (delivered, deferred, bounced,
 * blocked), with the remote host and the TLS details, joined with the
 * account's denied SMTP AUTH and RCPT attempts from the audit log
 * (denied), oldest first within the newest N (50 unless --limit; 0 = all).
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

/* Events and denied attempts, as JSON objects, each with its time. */
struct item {
	int64_t time;
	json_t *o;
};

struct list {
	struct item *v;
	size_t n, cap;
	int oom;
};

static void push(struct list *l, int64_t time, json_t *o)
{
	if (!o) {
		l->oom = 1;
		return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct item *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			json_decref(o);
			l->oom = 1;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].time = time;
	l->v[l->n++].o = o;
}

static void list_free(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		json_decref(l->v[i].o);
	free(l->v);
}

static int one(const acct_event *e, void *ctx)
{
	json_t *o = json_pack("{s:I, s:o, s:s, s:s, s:s, s:s}", "id", (json_int_t)e->id, "time", cli_json_time(e->time),
	                      "type", type_name(e->type), "queue_id", e->queue_id, "account", e->account, "recipient",
	                      e->recipient);
	if (o) {
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
	}
	push(ctx, e->time, o);
	return 0;
}

/* The denied SMTP AUTH and RCPT attempts of the audit log. */
static int one_denied(const acct_audit_entry *a, void *ctx)
{
	if (strcmp(a->action, "auth.deny") != 0 && strcmp(a->action, "rcpt.deny") != 0)
		return 0;
	json_t *o = json_pack("{s:I, s:o, s:s, s:s}", "id", (json_int_t)a->id, "time", cli_json_time(a->time), "type",
	                      "denied", "action", a->action);
	if (o) {
		json_object_set_new(o, "account", str_or_null(a->account));
		json_object_set_new(o, "target", str_or_null(a->target));
		json_object_set_new(o, "address", str_or_null(a->address));
		json_object_set_new(o, "reason", str_or_null(a->detail));
	}
	push(ctx, a->time, o);
	return 0;
}

static const char *field(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "-";
}

static void table_row(cli_table *t, json_t *o)
{
	char tls[160];
	json_t *x = json_object_get(o, "tls");
	const char *type = field(o, "type");
	int denied = !strcmp(type, "denied");

	if (denied)
		snprintf(tls, sizeof(tls), "-");
	else if (json_is_object(x))
		snprintf(tls, sizeof(tls), "%s %s", field(x, "protocol"), field(x, "trust"));
	else
		snprintf(tls, sizeof(tls), "clear");
	const char *row[] = {field(o, "time"), denied ? field(o, "action") : type, denied ? "-" : field(o, "queue_id"),
	                     denied ? field(o, "target") : field(o, "recipient"),
	                     denied ? field(o, "address") : field(o, "relay"), tls,
	                     json_is_string(json_object_get(o, "reason")) ? field(o, "reason") : ""};
	cli_table_row(t, row);
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
	acct_audit_query aq;
	struct list ev = {NULL, 0, 0, 0}, den = {NULL, 0, 0, 0};
	int r, want_events = 1, want_denied = 1;

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	memset(&q, 0, sizeof(q));
	q.account = pos[0]; /* events outlive a deleted account, as the audit log does */
	q.limit = 50;
	if (type) {
		int found = !strcmp(type, "denied");
		for (int i = ACCT_EVENT_DELIVERED; i <= ACCT_EVENT_BLOCKED; i++)
			if (!strcmp(type, type_names[i])) {
				q.type = (acct_event_type)i;
				found = 1;
			}
		if (!found)
			return cli_fail(c, EX_USAGE,
			                "--type takes delivered, deferred, bounced, blocked or denied, not '%.40s'", type);
		want_denied = !strcmp(type, "denied");
		want_events = !want_denied;
	}
	if (since && (r = acct_since_parse(&q.since, c->db, since)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (limit && (r = parse_limit(c, limit, &q.limit)) != 0)
		return r;
	if (want_events && (r = acct_event_foreach(c->db, &q, one, &ev)) != ACCT_OK)
		goto fail;
	memset(&aq, 0, sizeof(aq));
	aq.account = pos[0];
	aq.since = q.since;
	if (want_denied && (r = acct_audit_foreach(c->db, &aq, one_denied, &den)) != ACCT_OK)
		goto fail;
	if (ev.oom || den.oom) {
		r = ACCT_ENOMEM;
		goto fail;
	}
	/* both oldest first: merge by time, then keep the newest `limit` */
	size_t n = ev.n + den.n, i = 0, j = 0, k = 0, skip;
	struct item *all = calloc(n + 1, sizeof(*all));
	if (!all) {
		r = ACCT_ENOMEM;
		goto fail;
	}
	while (i < ev.n || j < den.n)
		all[k++] = (j >= den.n || (i < ev.n && ev.v[i].time <= den.v[j].time)) ? ev.v[i++] : den.v[j++];
	skip = q.limit > 0 && n > (size_t)q.limit ? n - (size_t)q.limit : 0;
	free(ev.v);
	free(den.v);
	if (c->json) {
		json_t *arr = json_array();
		for (k = 0; k < n; k++) {
			if (k < skip)
				json_decref(all[k].o);
			else
				json_array_append_new(arr, all[k].o);
		}
		free(all);
		return cli_json(c, arr);
	}
	cli_table *t = cli_table_new(7, hdr);
	for (k = 0; k < n; k++) {
		if (k >= skip)
			table_row(t, all[k].o);
		json_decref(all[k].o);
	}
	free(all);
	cli_table_print(c, t);
	cli_table_free(t);
	return 0;
fail:
	list_free(&ev);
	list_free(&den);
	return r == ACCT_ENOMEM ? cli_fail(c, EX_OSERR, "out of memory") : cli_acct_fail(c, r);
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
	{NULL, "ACCOUNT [--since TIME] [--type delivered|deferred|bounced|blocked|denied] [--limit N]",
	 "show what happened to each recipient of an account's mail (TLS details) and its denied SMTP attempts",
	 "events acme --type blocked --since 7d", cmd_events, CLI_F_SELF, "--since= --type= --limit=",
	 {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_events = {"events", "delivery events", cmds};
