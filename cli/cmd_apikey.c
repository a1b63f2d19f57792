/*
 * apikey create/list/revoke/check: an account's API keys.  A new key
 * is printed once and wiped from memory; afterwards only its id is
 * known.  `apikey check` answers whether SMTP would accept a key, and
 * why not, without recording anything.
 */
#include "cli.h"

#include <string.h>

static const char *key_state(cli *c, const acct_apikey *k)
{
	if (k->revoked_at)
		return "revoked";
	if (k->expires_at && k->expires_at <= acct_now(c->db))
		return "expired";
	return "active";
}

static json_t *scopes_json(unsigned int scopes)
{
	char buf[256], *p, *save = NULL;
	json_t *a = json_array();

	if (acct_scopes_format(buf, sizeof(buf), scopes) != ACCT_OK)
		return a;
	for (p = buf; p && *p; p = save) {
		save = strchr(p, ',');
		if (save)
			*save++ = '\0';
		json_array_append_new(a, json_string(p));
	}
	return a;
}

static json_t *key_json(cli *c, const acct_apikey *k)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o}", "id", k->id, "account", k->account, "name",
	                 k->name, "scopes", scopes_json(k->scopes), "state", key_state(c, k), "created_at",
	                 cli_json_time(k->created_at), "expires_at", cli_json_time(k->expires_at), "last_used_at",
	                 cli_json_time(k->last_used_at), "revoked_at", cli_json_time(k->revoked_at));
}

static int cmd_apikey_create(cli *c, int argc, char **argv)
{
	const char *pos[2], *scopes = "mail.send", *expires = NULL;
	const cli_opt opts[] = {{"--scopes", 1, &scopes, NULL}, {"--expires", 1, &expires, NULL}, {NULL, 0, NULL, NULL}};
	char key[ACCT_KEY_MAX + 1], sc[256], t[32];
	acct_apikey *k = NULL;
	unsigned int bits = 0;
	int64_t exp = 0;
	int r;

	if ((r = cli_parse(c, argc, argv, opts, pos, 2, 2)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	if ((r = acct_scopes_parse(&bits, c->db, scopes)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (expires && (r = acct_expiry_parse(&exp, c->db, expires)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if ((r = acct_apikey_add(&k, key, c->db, pos[0], pos[1], bits, exp)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json) {
		json_t *d = key_json(c, k);
		json_object_set_new(d, "key", json_string(key));
		cli_json(c, d);
	} else {
		const char *e = cli_time(t, k->expires_at);
		(void)acct_scopes_format(sc, sizeof(sc), k->scopes);
		printf("%s\n", key);
		fflush(stdout);
		fprintf(stderr, "key %s for '%s' (%s), scopes %s, expires %s\n"
		                "this is the only time the key is shown: store it now\n",
		        k->id, k->account, k->name, sc, e ? e : "never");
	}
	acct_wipe(key, sizeof(key));
	acct_apikey_free(k);
	return 0;
}

struct list {
	cli *c;
	cli_table *t;
	json_t *arr;
};

static int list_one(const acct_apikey *k, void *ctx)
{
	struct list *l = ctx;
	char sc[256], t1[32], t2[32], t3[32];

	if (l->arr) {
		json_array_append_new(l->arr, key_json(l->c, k));
	} else {
		const char *cr = cli_time(t1, k->created_at), *ex = cli_time(t2, k->expires_at),
			   *lu = cli_time(t3, k->last_used_at);
		const char *row[] = {k->id, k->name, sc, key_state(l->c, k), cr ? cr : "-", ex ? ex : "never",
		                     lu ? lu : "never"};
		(void)acct_scopes_format(sc, sizeof(sc), k->scopes);
		cli_table_row(l->t, row);
	}
	return 0;
}

static int cmd_apikey_list(cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {"ID", "NAME", "SCOPES", "STATE", "CREATED", "EXPIRES", "LAST USED"};
	const char *pos[1];
	struct list l = {c, NULL, NULL};
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	cli_list_begin(c, &l.arr, &l.t, 7, hdr);
	r = acct_apikey_foreach(c->db, pos[0], list_one, &l);
	return cli_list_end(c, l.arr, l.t, r);
	return 0;
}

static int cmd_apikey_revoke(cli *c, int argc, char **argv)
{
	const char *pos[1];
	acct_apikey *k = NULL;
	int yes = 0, r;
	const cli_opt opts[] = {{"--yes", 0, NULL, &yes}, {NULL, 0, NULL, NULL}};

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = acct_apikey_get(&k, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	if ((r = cli_scope_account(c, k->account)) != 0 ||
	    (r = cli_confirm(c, yes, "revoke key %s (%s) of '%s'? Mail sent with it will be refused", k->id, k->name,
	                     k->account)) != 0) {
		acct_apikey_free(k);
		return r;
	}
	if ((r = acct_apikey_revoke(c->db, k->id)) != ACCT_OK) {
		acct_apikey_free(k);
		return cli_acct_fail(c, r);
	}
	if (c->json)
		cli_json(c, json_pack("{s:s, s:s, s:b}", "id", k->id, "account", k->account, "revoked", 1));
	else
		cli_say(c, "revoked key %s (%s) of '%s'", k->id, k->name, k->account);
	acct_apikey_free(k);
	return 0;
}

static int cmd_apikey_check(cli *c, int argc, char **argv)
{
	const char *pos[1];
	acct_verdict v;
	int r, yes;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if ((r = acct_apikey_verify(&v, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (v.kind == ACCT_TEMPFAIL)
		return cli_fail(c, EX_TEMPFAIL, "cannot decide now: %s", acct_reason_text(v.reason));
	if (c->self && v.key_id[0] && (r = cli_scope_key(c, v.key_id)) != 0)
		return r;
	yes = v.kind == ACCT_ALLOW;
	if (c->json) {
		json_t *d = json_pack("{s:b, s:s, s:s}", "valid", yes, "reason", acct_reason_code(v.reason),
		                      "reason_text", acct_reason_text(v.reason));
		json_object_set_new(d, "key_id", v.key_id[0] ? json_string(v.key_id) : json_null());
		json_object_set_new(d, "account", v.account[0] ? json_string(v.account) : json_null());
		cli_json(c, d);
	} else if (yes) {
		printf("valid: key %s of '%s' may send mail\n", v.key_id, v.account);
	} else {
		printf("not valid: %s (%s)%s%s\n", acct_reason_text(v.reason), acct_reason_code(v.reason),
		       v.key_id[0] ? ", key " : "", v.key_id);
	}
	return yes ? 0 : CLI_NO;
}

static const cli_cmd cmds[] = {
	{"create", "ACCOUNT NAME [--scopes mail.send,...] [--expires 90d|2027-01-31|never]",
	 "create an API key (printed once; default scope mail.send, no expiry)",
	 "apikey create acme prod --scopes mail.send --expires 90d", cmd_apikey_create, CLI_F_SELF,
	 "--scopes= --expires=", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"list", "ACCOUNT", "list an account's keys (ids, never the keys)", "apikey list acme", cmd_apikey_list,
	 CLI_F_SELF, "", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"revoke", "KEY_ID [--yes]", "revoke a key (asks first)", "apikey revoke 3fK9aLq2ZxW1", cmd_apikey_revoke,
	 CLI_F_SELF, "--yes", {CLI_ARG_KEYID, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"check", "KEY", "would SMTP accept this key? which account? why not?", "apikey check pstn_...",
	 cmd_apikey_check, CLI_F_SELF | CLI_F_SECRET | CLI_F_CHECK, "", {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_apikey = {"apikey", "API keys", cmds};
