/*
 * audit [ACCOUNT] [--since TIME] [--limit N]: the audit log, oldest
 * first within the newest N entries (50 unless --limit says; 0 = all).
 * In a self-service login it shows only the user's own account.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct list {
	cli_table *t;
	json_t *arr;
};

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int one(const acct_audit_entry *e, void *ctx)
{
	struct list *l = ctx;
	char t[32];

	if (l->arr) {
		json_t *o = json_pack("{s:I, s:o, s:s, s:s}", "id", (json_int_t)e->id, "time", cli_json_time(e->time),
		                      "actor", e->actor, "action", e->action);
		json_object_set_new(o, "account", str_or_null(e->account));
		json_object_set_new(o, "target", str_or_null(e->target));
		json_object_set_new(o, "detail", str_or_null(e->detail));
		json_object_set_new(o, "address", str_or_null(e->address));
		json_array_append_new(l->arr, o);
	} else {
		const char *when = cli_time(t, e->time);
		const char *row[] = {when ? when : "-", e->actor, e->action, e->account ? e->account : "-",
		                     e->target ? e->target : "-", e->address ? e->address : "-",
		                     e->detail ? e->detail : ""};
		cli_table_row(l->t, row);
	}
	return 0;
}

static int cmd_audit(cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {"TIME", "ACTOR", "ACTION", "ACCOUNT", "TARGET", "ADDRESS", "DETAIL"};
	const char *pos[1], *since = NULL, *limit = NULL;
	const cli_opt opts[] = {{"--since", 1, &since, NULL}, {"--limit", 1, &limit, NULL}, {NULL, 0, NULL, NULL}};
	acct_audit_query q;
	struct list l = {NULL, NULL};
	acct_account *a = NULL;
	int r;

	if ((r = cli_parse(c, argc, argv, opts, pos, 0, 1)) != 0)
		return r;
	memset(&q, 0, sizeof(q));
	q.limit = 50;
	if (c->self && pos[0] == NULL)
		pos[0] = c->self_account;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	if (pos[0]) {
		if ((r = acct_account_get(&a, c->db, pos[0])) != ACCT_OK && r != ACCT_ENOTFOUND)
			return cli_acct_fail(c, r);
		acct_account_free(a);
		/* A deleted account's history stays in the log: not finding the account is fine. */
		q.account = pos[0];
	}
	if (since && (r = acct_since_parse(&q.since, c->db, since)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (limit) {
		char *end;
		long n;
		errno = 0;
		n = strtol(limit, &end, 10);
		if (errno || end == limit || *end || n < 0 || n > 1000000)
			return cli_fail(c, EX_USAGE, "--limit takes a number from 0 (no limit) to 1000000, not '%.40s'", limit);
		q.limit = (int)n;
	}
	cli_list_begin(c, &l.arr, &l.t, 7, hdr);
	r = acct_audit_foreach(c->db, &q, one, &l);
	return cli_list_end(c, l.arr, l.t, r);
}

static const cli_cmd cmds[] = {
	{NULL, "[ACCOUNT] [--since TIME] [--limit N]",
	 "show the audit log, oldest first (the newest 50 unless --limit; 0 = all)", "audit acme --since 7d",
	 cmd_audit, CLI_F_SELF, "--since= --limit=", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_audit = {"audit", "the audit log", cmds};
