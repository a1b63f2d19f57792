/*
 * 2fa enroll/confirm/verify/status/disable/reset/recovery-codes: a
 * user's TOTP second factor.  `enroll` prints the QR code, the base32
 * secret and the otpauth URI; in the interactive shell it then asks
 * for a code from the app and confirms at once.  Recovery codes are
 * printed once and wiped.  Where the user acts for themselves (a
 * self-service login) changes need proof: a current code or an unused
 * recovery code, asked for without echo.
 */
#include "cli.h"

#include <string.h>

static const char *state_name(acct_2fa_state s)
{
	return s == ACCT_2FA_ENABLED ? "enabled" : s == ACCT_2FA_PENDING ? "pending" : "none";
}

static int print_codes(cli *c, const char *email, acct_recovery_codes *rc)
{
	if (c->json) {
		json_t *a = json_array();
		for (int i = 0; i < ACCT_RECOVERY_CODES; i++)
			json_array_append_new(a, json_string(rc->code[i]));
		cli_json(c, json_pack("{s:s, s:s, s:o}", "email", email, "state", "enabled", "recovery_codes", a));
	} else {
		printf("2FA is on for %s. Recovery codes (each works once; shown only now, store them safely):\n", email);
		for (int i = 0; i < ACCT_RECOVERY_CODES; i++)
			printf("  %s\n", rc->code[i]);
	}
	acct_wipe(rc, sizeof(*rc));
	return 0;
}

static int confirm_code(cli *c, const char *email, const char *code)
{
	acct_recovery_codes rc;
	acct_reason why = ACCT_R_OK;
	int r;

	r = acct_2fa_confirm(&rc, &why, c->db, email, code);
	if (r != ACCT_OK) {
		acct_wipe(&rc, sizeof(rc));
		return cli_acct_fail(c, r);
	}
	return print_codes(c, email, &rc);
}

/* The proof a user gives for a change to their own 2FA. */
static int get_proof(cli *c, const char *given, char *buf, size_t len)
{
	if (given) {
		snprintf(buf, len, "%s", given);
		return 0;
	}
	return cli_secret(c, "current 2FA code or a recovery code: ", 0, 0, buf, len);
}

static int cmd_2fa_enroll(cli *c, int argc, char **argv)
{
	const char *pos[1], *code = NULL;
	int ascii = 0, r;
	const cli_opt opts[] = {{"--ascii", 0, NULL, &ascii}, {"--code", 1, &code, NULL}, {NULL, 0, NULL, NULL}};
	acct_2fa_enrollment *e = NULL;
	acct_2fa_info info;
	char proof[CLI_SECRET_MAX], answer[64];

	proof[0] = '\0';
	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_email(c, pos[0])) != 0)
		return r;
	if ((r = acct_2fa_status(&info, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (info.state == ACCT_2FA_ENABLED) {
		if (!code && c->mode != CLI_SHELL)
			return cli_fail(c, EX_DATAERR,
			                "%s already has 2FA; replacing it needs --code with a current or recovery code%s",
			                pos[0], c->self ? "" : " (or '2fa reset' first)");
		if ((r = get_proof(c, code, proof, sizeof(proof))) != 0)
			return r;
	}
	r = acct_2fa_enroll(&e, c->db, pos[0], proof[0] ? proof : NULL, ascii ? ACCT_QR_ASCII : 0);
	acct_wipe(proof, sizeof(proof));
	if (r != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json) {
		cli_json(c, json_pack("{s:s, s:s, s:s, s:s, s:s}", "email", pos[0], "state", "pending", "secret",
		                      e->secret, "uri", e->uri, "qr", e->qr));
		acct_2fa_enrollment_free(e);
		return 0;
	}
	printf("Scan this with an authenticator app:\n\n%s\n", e->qr);
	printf("secret: %s\n", e->secret);
	printf("uri:    %s\n", e->uri);
	acct_2fa_enrollment_free(e);
	if (c->mode != CLI_SHELL) {
		printf("then turn it on with: 2fa confirm %s CODE\n", pos[0]);
		return 0;
	}
	fflush(stdout);
	for (;;) {
		r = cli_ask(c, "code from the app (empty to confirm later): ", answer, sizeof(answer));
		if (r != 0)
			return r;
		if (answer[0] == '\0') {
			printf("2FA stays pending until: 2fa confirm %s CODE\n", pos[0]);
			return 0;
		}
		r = confirm_code(c, pos[0], answer);
		acct_wipe(answer, sizeof(answer));
		if (r != EX_DATAERR)
			return r;
		/* A mistyped code: ask again (the library's lock-out bounds the tries). */
	}
}

static int cmd_2fa_confirm(cli *c, int argc, char **argv)
{
	const char *pos[2];
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 2, 2)) != 0)
		return r;
	if ((r = cli_scope_email(c, pos[0])) != 0)
		return r;
	return confirm_code(c, pos[0], pos[1]);
}

static int cmd_2fa_verify(cli *c, int argc, char **argv)
{
	const char *pos[2];
	acct_reason why = ACCT_R_OK;
	int r, yes;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 2, 2)) != 0)
		return r;
	if ((r = cli_scope_email(c, pos[0])) != 0)
		return r;
	r = acct_2fa_verify(&why, c->db, pos[0], pos[1]);
	if (r != ACCT_OK && r != ACCT_EDENIED)
		return cli_acct_fail(c, r);
	if (r == ACCT_EDENIED && why == ACCT_R_KEY_FILE)
		return cli_acct_fail(c, ACCT_EUNAVAIL);
	yes = r == ACCT_OK;
	if (c->json)
		cli_json(c, json_pack("{s:s, s:b, s:s, s:s}", "email", pos[0], "valid", yes, "reason",
		                      acct_reason_code(yes ? ACCT_R_OK : why), "reason_text",
		                      acct_reason_text(yes ? ACCT_R_OK : why)));
	else if (yes)
		printf("valid: the code is right for %s\n", pos[0]);
	else
		printf("not valid: %s (%s)\n", acct_errmsg(c->db), acct_reason_code(why));
	return yes ? 0 : CLI_NO;
}

static int cmd_2fa_status(cli *c, int argc, char **argv)
{
	const char *pos[1];
	acct_2fa_info i;
	char t[32], t2[32];
	const char *en, *lk;
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_email(c, pos[0])) != 0)
		return r;
	if ((r = acct_2fa_status(&i, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	en = cli_time(t, i.enabled_at);
	lk = i.locked_until > acct_now(c->db) ? cli_time(t2, i.locked_until) : NULL;
	if (c->json)
		return cli_json(c, json_pack("{s:s, s:s, s:o, s:i, s:i, s:o}", "email", pos[0], "state",
		                             state_name(i.state), "enabled_at", cli_json_time(i.enabled_at),
		                             "recovery_codes_left", i.recovery_codes_left, "failures", i.failures,
		                             "locked_until", lk ? json_string(lk) : json_null()));
	printf("state:               %s\n", state_name(i.state));
	printf("enabled:             %s\n", en ? en : "-");
	printf("recovery codes left: %d\n", i.recovery_codes_left);
	printf("failed attempts:     %d\n", i.failures);
	printf("locked until:        %s\n", lk ? lk : "-");
	return 0;
}

static int cmd_2fa_disable(cli *c, int argc, char **argv)
{
	const char *pos[1], *code = NULL;
	const cli_opt opts[] = {{"--code", 1, &code, NULL}, {NULL, 0, NULL, NULL}};
	char proof[CLI_SECRET_MAX];
	int r;

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_email(c, pos[0])) != 0)
		return r;
	if ((r = get_proof(c, code, proof, sizeof(proof))) != 0)
		return r;
	r = acct_2fa_disable(c->db, pos[0], proof);
	acct_wipe(proof, sizeof(proof));
	if (r != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json)
		return cli_json(c, json_pack("{s:s, s:s}", "email", pos[0], "state", "none"));
	cli_say(c, "2FA is off for %s", pos[0]);
	return 0;
}

static int cmd_2fa_reset(cli *c, int argc, char **argv)
{
	const char *pos[1];
	int yes = 0, r;
	const cli_opt opts[] = {{"--yes", 0, NULL, &yes}, {NULL, 0, NULL, NULL}};
	acct_2fa_info i;

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = acct_2fa_status(&i, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	if ((r = cli_confirm(c, yes, "turn 2FA off for %s without their code? They will need to enroll again", pos[0])) != 0)
		return r;
	if ((r = acct_2fa_disable(c->db, pos[0], NULL)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (c->json)
		return cli_json(c, json_pack("{s:s, s:s}", "email", pos[0], "state", "none"));
	cli_say(c, "2FA is off for %s; they can enroll again with: 2fa enroll %s", pos[0], pos[0]);
	return 0;
}

static int cmd_2fa_recovery_codes(cli *c, int argc, char **argv)
{
	const char *pos[1], *code = NULL;
	const cli_opt opts[] = {{"--code", 1, &code, NULL}, {NULL, 0, NULL, NULL}};
	char proof[CLI_SECRET_MAX];
	acct_recovery_codes rc;
	int r;

	proof[0] = '\0';
	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_email(c, pos[0])) != 0)
		return r;
	if ((c->self || code) && (r = get_proof(c, code, proof, sizeof(proof))) != 0)
		return r;
	r = acct_2fa_recovery_regenerate(&rc, c->db, pos[0], proof[0] ? proof : NULL);
	acct_wipe(proof, sizeof(proof));
	if (r != ACCT_OK) {
		acct_wipe(&rc, sizeof(rc));
		return cli_acct_fail(c, r);
	}
	if (!c->json)
		printf("new recovery codes; the old ones no longer work.\n");
	return print_codes(c, pos[0], &rc);
}

static const cli_cmd cmds[] = {
	{"enroll", "EMAIL [--ascii] [--code CODE]",
	 "start 2FA: prints the QR code, secret and otpauth URI (the shell then asks for a code)",
	 "2fa enroll alice@example.com", cmd_2fa_enroll, CLI_F_SELF, "--ascii --code=",
	 {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"confirm", "EMAIL CODE", "turn 2FA on with a code from the app; prints the recovery codes once",
	 "2fa confirm alice@example.com 123456", cmd_2fa_confirm, CLI_F_SELF | CLI_F_SECRET, "",
	 {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"verify", "EMAIL CODE", "is this code right for the user now?", "2fa verify alice@example.com 123456",
	 cmd_2fa_verify, CLI_F_SELF | CLI_F_SECRET | CLI_F_CHECK, "", {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"status", "EMAIL", "show a user's 2FA state, recovery codes left and lock-out",
	 "2fa status alice@example.com", cmd_2fa_status, CLI_F_SELF, "", {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"disable", "EMAIL [--code CODE]", "turn 2FA off, with a current or recovery code as proof (asked for)",
	 "2fa disable alice@example.com", cmd_2fa_disable, CLI_F_SELF | CLI_F_SECRET, "--code=",
	 {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"reset", "EMAIL [--yes]", "an administrator turns a user's 2FA off without a code (asks first)",
	 "2fa reset alice@example.com", cmd_2fa_reset, 0, "--yes", {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"recovery-codes", "EMAIL [--code CODE]", "make new recovery codes (the old ones stop working)",
	 "2fa recovery-codes alice@example.com", cmd_2fa_recovery_codes, CLI_F_SELF, "--code=",
	 {CLI_ARG_EMAIL, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_2fa = {"2fa", "two-factor authentication (TOTP)", cmds};
