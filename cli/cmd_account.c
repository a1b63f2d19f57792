/*
 * account create/list/show/enable/disable/delete/set: accounts and
 * their subaccounts.  In a self-service login only list and show are
 * offered, limited to the user's own account and its subaccounts.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static json_t *account_json(const acct_account *a)
{
	return json_pack("{s:s, s:o, s:b, s:b, s:b, s:{s:s, s:b, s:s}, s:o}", "name", a->name, "parent",
	                 a->parent ? json_string(a->parent) : json_null(), "disabled", a->disabled, "require_2fa",
	                 a->require_2fa, "smtp_password_auth", a->smtp_password_auth, "tls", "mode",
	                 acct_tls_mode_name(a->tls.mode), "require_valid_cert", a->tls.require_valid_cert,
	                 "min_version", a->tls.min_version == 13 ? "1.3" : "1.2", "created_at",
	                 cli_json_time(a->created_at));
}

static int show(cli *c, const char *name, const char *said)
{
	acct_account *a = NULL;
	char t[32];
	int r;

	if ((r = acct_account_get(&a, c->db, name)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json) {
		r = cli_json(c, account_json(a));
	} else {
		if (said)
			printf("%s\n", said);
		printf("name:               %s\n", a->name);
		printf("parent:             %s\n", a->parent ? a->parent : "-");
		printf("state:              %s\n", a->disabled ? "disabled" : "enabled");
		printf("require 2fa:        %s\n", a->require_2fa ? "on" : "off");
		printf("smtp password auth: %s\n", a->smtp_password_auth ? "on" : "off");
		printf("tls:                %s, valid certificate %s, minimum %s\n", acct_tls_mode_name(a->tls.mode),
		       a->tls.require_valid_cert ? "required" : "not required", a->tls.min_version == 13 ? "1.3" : "1.2");
		printf("created:            %s\n", cli_time(t, a->created_at));
	}
	acct_account_free(a);
	return r;
}

static int cmd_account_create(cli *c, int argc, char **argv)
{
	const char *pos[1], *parent = NULL;
	int req = 0, r;
	acct_account_opts o;
	const cli_opt opts[] = {{"--parent", 1, &parent, NULL}, {"--require-2fa", 0, NULL, &req}, {NULL, 0, NULL, NULL}};
	char said[128];

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	memset(&o, 0, sizeof(o));
	o.parent = parent;
	o.require_2fa = req;
	if ((r = acct_account_add(c->db, pos[0], &o)) != ACCT_OK)
		return cli_acct_fail(c, r);
	snprintf(said, sizeof(said), "created account '%s'", pos[0]);
	return show(c, pos[0], said);
}

struct list {
	cli *c;
	cli_table *t;
	json_t *arr;
};

static int list_one(const acct_account *a, void *ctx)
{
	struct list *l = ctx;
	char t[32];
	const char *when = cli_time(t, a->created_at);

	if (l->c->self && strcmp(a->name, l->c->self_account) &&
	    (a->parent == NULL || strcmp(a->parent, l->c->self_account)))
		return 0;
	if (l->arr) {
		json_array_append_new(l->arr, account_json(a));
	} else {
		const char *row[] = {a->name,
		                     a->parent ? a->parent : "-",
		                     a->disabled ? "disabled" : "enabled",
		                     a->require_2fa ? "on" : "off",
		                     acct_tls_mode_name(a->tls.mode),
		                     when ? when : "-"};
		cli_table_row(l->t, row);
	}
	return 0;
}

static int cmd_account_list(cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {"NAME", "PARENT", "STATE", "2FA", "TLS", "CREATED"};
	struct list l = {c, NULL, NULL};
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, NULL, 0, 0)) != 0)
		return r;
	cli_list_begin(c, &l.arr, &l.t, 6, hdr);
	r = acct_account_foreach(c->db, NULL, list_one, &l);
	return cli_list_end(c, l.arr, l.t, r);
}

static int cmd_account_show(cli *c, int argc, char **argv)
{
	const char *pos[1];
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	return show(c, pos[0], NULL);
}

static int set_flag(cli *c, int argc, char **argv, acct_account_flag flag, int on, const char *done)
{
	const char *pos[1];
	char said[128];
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if ((r = acct_account_set_flag(c->db, pos[0], flag, on)) != ACCT_OK)
		return cli_acct_fail(c, r);
	snprintf(said, sizeof(said), "%s account '%s'", done, pos[0]);
	return show(c, pos[0], said);
}

static int cmd_account_enable(cli *c, int argc, char **argv)
{
	return set_flag(c, argc, argv, ACCT_ACCOUNT_DISABLED, 0, "enabled");
}

static int cmd_account_disable(cli *c, int argc, char **argv)
{
	return set_flag(c, argc, argv, ACCT_ACCOUNT_DISABLED, 1, "disabled");
}

static int cmd_account_delete(cli *c, int argc, char **argv)
{
	const char *pos[1];
	acct_account *a = NULL;
	int yes = 0, r;
	const cli_opt opts[] = {{"--yes", 0, NULL, &yes}, {NULL, 0, NULL, NULL}};

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = acct_account_get(&a, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	acct_account_free(a);
	if ((r = cli_confirm(c, yes, "delete account '%s' with its users, keys, allowlist and settings?", pos[0])) != 0)
		return r;
	if ((r = acct_account_del(c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json)
		return cli_json(c, json_pack("{s:s}", "deleted", pos[0]));
	cli_say(c, "deleted account '%s'", pos[0]);
	return 0;
}

static int cmd_account_set(cli *c, int argc, char **argv)
{
	const char *pos[1], *req = NULL, *spa = NULL;
	const cli_opt opts[] = {{"--require-2fa", 1, &req, NULL}, {"--smtp-password-auth", 1, &spa, NULL}, {NULL, 0, NULL, NULL}};
	acct_account *a = NULL;
	char said[128];
	int r, vreq = -1, vspa = -1;

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if (!req && !spa)
		return cli_fail(c, EX_USAGE, "say what to set: --require-2fa on|off, --smtp-password-auth on|off");
	if (req && (vreq = cli_onoff(req)) < 0)
		return cli_fail(c, EX_USAGE, "--require-2fa takes on or off, not '%.40s'", req);
	if (spa && (vspa = cli_onoff(spa)) < 0)
		return cli_fail(c, EX_USAGE, "--smtp-password-auth takes on or off, not '%.40s'", spa);
	if ((r = acct_account_get(&a, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	acct_account_free(a);
	if (vreq >= 0 && (r = acct_account_set_flag(c->db, pos[0], ACCT_ACCOUNT_REQUIRE_2FA, vreq)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (vspa >= 0 && (r = acct_account_set_flag(c->db, pos[0], ACCT_ACCOUNT_SMTP_PASSWORD_AUTH, vspa)) != ACCT_OK)
		return cli_acct_fail(c, r);
	snprintf(said, sizeof(said), "updated account '%s'", pos[0]);
	return show(c, pos[0], said);
}

static const cli_cmd cmds[] = {
	{"create", "NAME [--parent NAME] [--require-2fa]", "create an account, or a subaccount of --parent",
	 "account create acme-eu --parent acme", cmd_account_create, 0, "--parent= --require-2fa",
	 {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"list", "", "list every account and subaccount", "account list", cmd_account_list, CLI_F_SELF, "",
	 {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"show", "NAME", "show an account's settings", "account show acme", cmd_account_show, CLI_F_SELF, "",
	 {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"enable", "NAME", "let an account send again", "account enable acme", cmd_account_enable, 0, "",
	 {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"disable", "NAME", "stop an account (and its subaccounts) from sending", "account disable acme",
	 cmd_account_disable, 0, "", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"delete", "NAME [--yes]", "delete an account with its users, keys, allowlist and settings (asks first)",
	 "account delete acme-eu", cmd_account_delete, 0, "--yes", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"set", "NAME [--require-2fa on|off] [--smtp-password-auth on|off]",
	 "change whether users need 2FA, and whether they may SMTP AUTH with their password",
	 "account set acme --require-2fa on", cmd_account_set, 0, "--require-2fa= --smtp-password-auth=",
	 {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_account = {"account", "accounts and subaccounts", cmds};
