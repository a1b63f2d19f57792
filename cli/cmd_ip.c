/*
 * ip allow/remove/list/check: an account's IP allowlist (an empty list
 * allows every address).  In a self-service login the shell knows the
 * address the user came from, and asks before a change that would
 * lock that address out of the next login.
 */
#include "cli.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* Parse "addr" or "addr/len" into 16 bytes (IPv4 as v4-mapped) and a prefix length over 128. */
static int parse_net(const char *text, unsigned char a[16], int *plen)
{
	char buf[64];
	const char *slash = strchr(text, '/');
	size_t n = slash ? (size_t)(slash - text) : strlen(text);
	struct in_addr v4;
	int v6 = 0, max;

	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	memset(a, 0, 16);
	if (inet_pton(AF_INET, buf, &v4) == 1) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &v4, 4);
	} else if (inet_pton(AF_INET6, buf, a) == 1) {
		v6 = 1;
	} else {
		return -1;
	}
	max = v6 ? 128 : 32;
	*plen = max;
	if (slash) {
		char *end;
		long l = strtol(slash + 1, &end, 10);
		if (*end || end == slash + 1 || l < 0 || l > max)
			return -1;
		*plen = (int)l;
	}
	if (!v6)
		*plen += 96;
	return 0;
}

static int net_contains(const char *cidr, const char *address)
{
	unsigned char n[16], x[16];
	int nl, xl;

	if (parse_net(cidr, n, &nl) || parse_net(address, x, &xl))
		return 0;
	for (int i = 0; i < nl; i++) {
		int byte = i / 8, bit = 7 - i % 8;
		if (((n[byte] >> bit) & 1) != ((x[byte] >> bit) & 1))
			return 0;
	}
	return 1;
}

/* Same prefix length (so that 10.0.0.0/8 and 10.0.0.0/16 differ). */
static int same_len(const char *a, const char *b)
{
	unsigned char x[16];
	int la, lb;

	return parse_net(a, x, &la) == 0 && parse_net(b, x, &lb) == 0 && la == lb;
}

struct nets {
	char (*cidr)[64];
	size_t n, cap;
};

static int collect(const acct_ip *e, void *ctx)
{
	struct nets *s = ctx;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char(*p)[64] = realloc(s->cidr, cap * sizeof(*p));
		if (p == NULL)
			return ACCT_ENOMEM;
		s->cidr = p;
		s->cap = cap;
	}
	snprintf(s->cidr[s->n++], 64, "%s", e->cidr);
	return 0;
}

/* Would the logged-in address still be allowed once `cidr` is added or removed? */
static int locks_out(cli *c, const char *account, const char *cidr, int removing)
{
	struct nets s = {NULL, 0, 0};
	int allowed = 0, any = 0;

	if (!c->self || !c->self_address[0] || strcmp(account, c->self_account))
		return 0;
	if (acct_ip_foreach(c->db, account, collect, &s) != ACCT_OK) {
		free(s.cidr);
		return 0;
	}
	for (size_t i = 0; i < s.n; i++) {
		if (removing && net_contains(s.cidr[i], cidr) && net_contains(cidr, s.cidr[i]) && same_len(s.cidr[i], cidr))
			continue; /* the one being removed */
		any = 1;
		if (net_contains(s.cidr[i], c->self_address))
			allowed = 1;
	}
	if (!removing) {
		any = 1;
		if (net_contains(cidr, c->self_address))
			allowed = 1;
	}
	free(s.cidr);
	return any && !allowed;
}

/* The stored (canonical) form of what the user typed: "192.0.2.1" is "192.0.2.1/32". */
static void canonical(cli *c, const char *account, const char *typed, char *out, size_t len)
{
	struct nets s = {NULL, 0, 0};

	snprintf(out, len, "%s", typed);
	if (acct_ip_foreach(c->db, account, collect, &s) == ACCT_OK)
		for (size_t i = 0; i < s.n; i++)
			if (net_contains(s.cidr[i], typed) && net_contains(typed, s.cidr[i]) &&
			    strchr(s.cidr[i], '/') && same_len(s.cidr[i], typed))
				snprintf(out, len, "%s", s.cidr[i]);
	free(s.cidr);
}

static int cmd_ip_allow(cli *c, int argc, char **argv)
{
	char canon[64];
	const char *pos[2], *label = NULL;
	int yes = 0, r;
	const cli_opt opts[] = {{"--label", 1, &label, NULL}, {"--yes", 0, NULL, &yes}, {NULL, 0, NULL, NULL}};

	if ((r = cli_parse(c, argc, argv, opts, pos, 2, 2)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	if (locks_out(c, pos[0], pos[1], 0) &&
	    (r = cli_confirm(c, yes,
	                     "you are logged in from %s, which %s would not include: the allowlist would then lock you "
	                     "out of your next login; allow it anyway?",
	                     c->self_address, pos[1])) != 0)
		return r;
	if ((r = acct_ip_add(c->db, pos[0], pos[1], label ? label : "")) != ACCT_OK)
		return cli_acct_fail(c, r);
	canonical(c, pos[0], pos[1], canon, sizeof(canon));
	if (c->json)
		return cli_json(c, json_pack("{s:s, s:s, s:s}", "account", pos[0], "cidr", canon, "label",
		                             label ? label : ""));
	cli_say(c, "allowed %s for '%s'", canon, pos[0]);
	return 0;
}

static int cmd_ip_remove(cli *c, int argc, char **argv)
{
	const char *pos[2];
	int yes = 0, r;
	const cli_opt opts[] = {{"--yes", 0, NULL, &yes}, {NULL, 0, NULL, NULL}};

	if ((r = cli_parse(c, argc, argv, opts, pos, 2, 2)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	if (locks_out(c, pos[0], pos[1], 1) &&
	    (r = cli_confirm(c, yes,
	                     "you are logged in from %s: without %s the allowlist locks you out of your next login; "
	                     "remove it anyway?",
	                     c->self_address, pos[1])) != 0)
		return r;
	if ((r = acct_ip_del(c->db, pos[0], pos[1])) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json)
		return cli_json(c, json_pack("{s:s, s:s, s:b}", "account", pos[0], "cidr", pos[1], "removed", 1));
	cli_say(c, "removed %s from the allowlist of '%s'", pos[1], pos[0]);
	return 0;
}

struct list {
	cli_table *t;
	json_t *arr;
};

static int list_one(const acct_ip *e, void *ctx)
{
	struct list *l = ctx;
	char t[32];
	const char *when = cli_time(t, e->created_at);
	const char *row[] = {e->cidr, e->label, when ? when : "-"};

	if (l->arr)
		json_array_append_new(l->arr, json_pack("{s:s, s:s, s:o}", "cidr", e->cidr, "label", e->label,
		                                        "created_at", cli_json_time(e->created_at)));
	else
		cli_table_row(l->t, row);
	return 0;
}

static int cmd_ip_list(cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {"NETWORK", "LABEL", "ADDED"};
	const char *pos[1];
	struct list l = {NULL, NULL};
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	cli_list_begin(c, &l.arr, &l.t, 3, hdr);
	r = acct_ip_foreach(c->db, pos[0], list_one, &l);
	if (r == ACCT_OK && !c->json && cli_table_empty(l.t)) {
		puts("(empty: every address is allowed)");
		cli_table_free(l.t);
		return 0;
	}
	return cli_list_end(c, l.arr, l.t, r);
}

static int cmd_ip_check(cli *c, int argc, char **argv)
{
	const char *pos[2];
	int r, yes;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 2, 2)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	r = acct_ip_check(c->db, pos[0], pos[1]);
	if (r != ACCT_OK && r != ACCT_EDENIED)
		return cli_acct_fail(c, r);
	yes = r == ACCT_OK;
	if (c->json)
		cli_json(c, json_pack("{s:b, s:s, s:s, s:s}", "allowed", yes, "reason", yes ? "ok" : "ip_not_allowed",
		                      "account", pos[0], "address", pos[1]));
	else if (yes)
		printf("allowed: %s may act for '%s'\n", pos[1], pos[0]);
	else
		printf("denied: %s\n", acct_errmsg(c->db));
	return yes ? 0 : CLI_NO;
}

static const cli_cmd cmds[] = {
	{"allow", "ACCOUNT CIDR [--label TEXT]", "allow a network or address for an account",
	 "ip allow acme 192.0.2.0/24 --label office", cmd_ip_allow, CLI_F_SELF, "--label= --yes",
	 {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"remove", "ACCOUNT CIDR [--yes]", "remove a network from an account's allowlist", "ip remove acme 192.0.2.0/24",
	 cmd_ip_remove, CLI_F_SELF, "--yes", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"list", "ACCOUNT", "list an account's allowlist (empty: every address is allowed)", "ip list acme",
	 cmd_ip_list, CLI_F_SELF, "", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"check", "ACCOUNT ADDRESS", "may this address act for the account?", "ip check acme 192.0.2.7",
	 cmd_ip_check, CLI_F_SELF | CLI_F_CHECK, "", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_ip = {"ip", "IP allowlists", cmds};
