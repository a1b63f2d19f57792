/*
 * user add/passwd/list/show/enable/disable/delete/login: the people who
 * log in to an account.  Passwords come from a no-echo prompt (twice
 * when setting one) or, with --password-stdin, from the next line of
 * standard input; never from the command line.  `user login` runs the
 * whole login decision (password, 2FA code, account state) and answers
 * yes (0) or no (1).
 */
#include "cli.h"

#include <string.h>
#include <strings.h>

static const char *state_name(acct_2fa_state s)
{
	return s == ACCT_2FA_ENABLED ? "enabled" : s == ACCT_2FA_PENDING ? "pending" : "none";
}

static json_t *user_json(cli *c, const acct_user *u)
{
	acct_2fa_info info;
	const char *tfa = acct_2fa_status(&info, c->db, u->email) == ACCT_OK ? state_name(info.state) : "none";

	return json_pack("{s:s, s:s, s:b, s:b, s:s, s:o, s:o}", "email", u->email, "account", u->account, "disabled",
	                 u->disabled, "has_password", u->has_password, "2fa", tfa, "created_at",
	                 cli_json_time(u->created_at), "password_changed_at", cli_json_time(u->password_changed_at));
}

static int show(cli *c, const char *email, const char *said)
{
	acct_user *u = NULL;
	acct_2fa_info info;
	char t[32];
	const char *s;
	int r;

	if ((r = acct_user_get(&u, c->db, email)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json) {
		r = cli_json(c, user_json(c, u));
	} else {
		if (said)
			printf("%s\n", said);
		memset(&info, 0, sizeof(info));
		(void)acct_2fa_status(&info, c->db, u->email);
		printf("email:            %s\n", u->email);
		printf("account:          %s\n", u->account);
		printf("state:            %s\n", u->disabled ? "disabled" : "enabled");
		printf("password:         %s\n", u->has_password ? "set" : "none");
		s = cli_time(t, u->password_changed_at);
		printf("password changed: %s\n", s ? s : "-");
		printf("2fa:              %s\n", state_name(info.state));
		printf("created:          %s\n", cli_time(t, u->created_at));
	}
	acct_user_free(u);
	return r;
}

static int cmd_user_add(cli *c, int argc, char **argv)
{
	const char *pos[2];
	char pw[CLI_SECRET_MAX], said[320];
	acct_account *a = NULL;
	int in = 0, r;
	const cli_opt opts[] = {{"--password-stdin", 0, NULL, &in}, {NULL, 0, NULL, NULL}};

	if ((r = cli_parse(c, argc, argv, opts, pos, 2, 2)) != 0)
		return r;
	if ((r = acct_account_get(&a, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	acct_account_free(a);
	if ((r = cli_secret(c, "password for the new user: ", in, 1, pw, sizeof(pw))) != 0)
		return r;
	r = acct_user_add(c->db, pos[0], pos[1], pw);
	acct_wipe(pw, sizeof(pw));
	if (r != ACCT_OK)
		return cli_acct_fail(c, r);
	snprintf(said, sizeof(said), "added user %s to '%s'", pos[1], pos[0]);
	return show(c, pos[1], said);
}

static int cmd_user_passwd(cli *c, int argc, char **argv)
{
	const char *pos[1];
	char pw[CLI_SECRET_MAX];
	acct_user *u = NULL;
	int in = 0, r;
	const cli_opt opts[] = {{"--password-stdin", 0, NULL, &in}, {NULL, 0, NULL, NULL}};

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_email(c, pos[0])) != 0)
		return r;
	if ((r = acct_user_get(&u, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	acct_user_free(u);
	if ((r = cli_secret(c, "new password: ", in, 1, pw, sizeof(pw))) != 0)
		return r;
	r = acct_user_set_password(c->db, pos[0], pw);
	acct_wipe(pw, sizeof(pw));
	if (r != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json)
		return cli_json(c, json_pack("{s:s, s:b}", "email", pos[0], "password_changed", 1));
	cli_say(c, "changed the password of %s", pos[0]);
	return 0;
}

struct list {
	cli *c;
	cli_table *t;
	json_t *arr;
	/* users collected first: the callback must not use the handle */
	char (*emails)[ACCT_EMAIL_MAX + 1];
	size_t n, cap;
};

static int list_one(const acct_user *u, void *ctx)
{
	struct list *l = ctx;
	char t[32];
	const char *when = cli_time(t, u->created_at);
	const char *row[] = {u->email, u->disabled ? "disabled" : "enabled", u->has_password ? "set" : "none",
	                     when ? when : "-"};

	if (l->arr) {
		json_array_append_new(l->arr, json_pack("{s:s, s:s, s:b, s:b, s:o, s:o}", "email", u->email, "account",
		                                        u->account, "disabled", u->disabled, "has_password",
		                                        u->has_password, "created_at", cli_json_time(u->created_at),
		                                        "password_changed_at",
		                                        cli_json_time(u->password_changed_at)));
	} else {
		cli_table_row(l->t, row);
	}
	return 0;
}

static int cmd_user_list(cli *c, int argc, char **argv)
{
	static const char *const hdr[] = {"EMAIL", "STATE", "PASSWORD", "CREATED"};
	const char *pos[1];
	struct list l = {c, NULL, NULL, NULL, 0, 0};
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	cli_list_begin(c, &l.arr, &l.t, 4, hdr);
	r = acct_user_foreach(c->db, pos[0], list_one, &l);
	if (r == ACCT_OK && c->json) {
		/* The 2FA state of each user, now that the walk is over. */
		size_t i;
		json_t *v;
		json_array_foreach(l.arr, i, v) {
			acct_2fa_info info;
			const char *e = json_string_value(json_object_get(v, "email"));
			memset(&info, 0, sizeof(info));
			(void)acct_2fa_status(&info, c->db, e);
			json_object_set_new(v, "2fa", json_string(state_name(info.state)));
		}
	}
	return cli_list_end(c, l.arr, l.t, r);
}

static int cmd_user_show(cli *c, int argc, char **argv)
{
	const char *pos[1];
	acct_user *u = NULL;
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if (c->self) {
		if ((r = acct_user_get(&u, c->db, pos[0])) != ACCT_OK)
			return cli_acct_fail(c, r);
		r = cli_scope_account(c, u->account);
		acct_user_free(u);
		if (r)
			return r;
	}
	return show(c, pos[0], NULL);
}

static int set_disabled(cli *c, int argc, char **argv, int off)
{
	const char *pos[1];
	char said[320];
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if ((r = acct_user_set_disabled(c->db, pos[0], off)) != ACCT_OK)
		return cli_acct_fail(c, r);
	snprintf(said, sizeof(said), "%s user %s", off ? "disabled" : "enabled", pos[0]);
	return show(c, pos[0], said);
}

static int cmd_user_enable(cli *c, int argc, char **argv)
{
	return set_disabled(c, argc, argv, 0);
}

static int cmd_user_disable(cli *c, int argc, char **argv)
{
	return set_disabled(c, argc, argv, 1);
}

static int cmd_user_delete(cli *c, int argc, char **argv)
{
	const char *pos[1];
	acct_user *u = NULL;
	int yes = 0, r;
	const cli_opt opts[] = {{"--yes", 0, NULL, &yes}, {NULL, 0, NULL, NULL}};

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = acct_user_get(&u, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	acct_user_free(u);
	if ((r = cli_confirm(c, yes, "delete user %s?", pos[0])) != 0)
		return r;
	if ((r = acct_user_del(c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json)
		return cli_json(c, json_pack("{s:s}", "deleted", pos[0]));
	cli_say(c, "deleted user %s", pos[0]);
	return 0;
}

static int cmd_user_login(cli *c, int argc, char **argv)
{
	const char *pos[1], *code = NULL, *addr = NULL;
	char pw[CLI_SECRET_MAX];
	acct_verdict v;
	int in = 0, r;
	const cli_opt opts[] = {{"--password-stdin", 0, NULL, &in},
	                        {"--code", 1, &code, NULL},
	                        {"--address", 1, &addr, NULL},
	                        {NULL, 0, NULL, NULL}};

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_secret(c, "password: ", in, 0, pw, sizeof(pw))) != 0)
		return r;
	r = acct_login_check(&v, c->db, pos[0], pw, code, addr);
	acct_wipe(pw, sizeof(pw));
	if (r != ACCT_OK)
		return cli_acct_fail(c, r);
	if (v.kind == ACCT_TEMPFAIL)
		return cli_fail(c, EX_TEMPFAIL, "cannot decide now: %s", acct_reason_text(v.reason));
	if (c->json) {
		json_t *d = json_pack("{s:b, s:s, s:s}", "allowed", v.kind == ACCT_ALLOW, "reason",
		                      acct_reason_code(v.reason), "reason_text", acct_reason_text(v.reason));
		if (v.kind == ACCT_ALLOW)
			json_object_set_new(d, "account", json_string(v.account));
		cli_json(c, d);
	} else if (v.kind == ACCT_ALLOW) {
		printf("allowed: %s may log in to '%s'\n", pos[0], v.account);
	} else {
		printf("denied: %s (%s)\n", acct_reason_text(v.reason), acct_reason_code(v.reason));
	}
	return v.kind == ACCT_ALLOW ? 0 : CLI_NO;
}

static const cli_cmd cmds[] = {
	{"add", "ACCOUNT EMAIL [--password-stdin]", "add a user to an account (asks for the password twice)",
	 "user add acme alice@example.com", cmd_user_add, 0, "--password-stdin",
	 {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"passwd", "EMAIL [--password-stdin]", "set a user's password (asks twice)", "user passwd alice@example.com",
	 cmd_user_passwd, CLI_F_SELF, "--password-stdin", {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"list", "ACCOUNT", "list an account's users", "user list acme", cmd_user_list, CLI_F_SELF, "",
	 {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"show", "EMAIL", "show a user", "user show alice@example.com", cmd_user_show, CLI_F_SELF, "",
	 {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"enable", "EMAIL", "let a user log in again", "user enable alice@example.com", cmd_user_enable, 0, "",
	 {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"disable", "EMAIL", "stop a user from logging in", "user disable alice@example.com", cmd_user_disable, 0, "",
	 {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"delete", "EMAIL [--yes]", "delete a user (asks first)", "user delete alice@example.com", cmd_user_delete, 0,
	 "--yes", {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"login", "EMAIL [--password-stdin] [--code CODE] [--address IP]",
	 "check a whole login (password, 2FA code, account, address); prints the verdict and reason",
	 "user login alice@example.com --code 123456", cmd_user_login, CLI_F_SECRET | CLI_F_CHECK,
	 "--password-stdin --code= --address=", {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_user = {"user", "users, their passwords and logins", cmds};
