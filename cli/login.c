/*
 * Self-service: `postern --login [EMAIL]`, for an SSH ForceCommand or a
 * restricted login.  The user gives their password and then, if they
 * have 2FA, a TOTP code or a recovery code; the client address (from
 * SSH_CONNECTION or SSH_CLIENT) must pass the account's allowlist.
 * After that the shell (or, without a terminal, the commands on the
 * following input lines) is scoped to the user's account and its
 * subaccounts, and every change is audited with "user:EMAIL" as actor.
 *
 * Without a terminal the email (if not given), the password and the
 * code are read as the first lines of standard input, for automation.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The client's address: the first word of SSH_CONNECTION or SSH_CLIENT. */
static void ssh_address(char *buf, size_t len)
{
	const char *v = getenv("SSH_CONNECTION");
	size_t n;

	if (v == NULL || !*v)
		v = getenv("SSH_CLIENT");
	buf[0] = '\0';
	if (v == NULL)
		return;
	n = strcspn(v, " ");
	if (n == 0 || n >= len)
		return;
	memcpy(buf, v, n);
	buf[n] = '\0';
}

static int refuse(cli *c, const acct_verdict *v, const char *email)
{
	switch (v->reason) {
	case ACCT_R_UNKNOWN_USER:
	case ACCT_R_BAD_PASSWORD:
		return cli_fail(c, EX_NOPERM, "login refused: wrong email or password");
	case ACCT_R_2FA_NOT_ENROLLED:
		return cli_fail(c, EX_NOPERM,
		                "login refused: your account requires two-factor authentication and %s has not set it "
		                "up yet. Ask an administrator to run '2fa enroll %s' with you, scan the QR code it shows "
		                "with an authenticator app (or type in its secret), confirm with a code from the app, "
		                "then log in again",
		                email, email);
	case ACCT_R_IP_NOT_ALLOWED:
		return cli_fail(c, EX_NOPERM, "login refused: your address %s is not in your account's IP allowlist",
		                c->self_address);
	default:
		return cli_fail(c, EX_NOPERM, "login refused: %s", acct_reason_text(v->reason));
	}
}

int cli_login(cli *c, const char *email_arg)
{
	char email[ACCT_EMAIL_MAX + 1], pw[CLI_SECRET_MAX], code[CLI_SECRET_MAX], actor[ACCT_EMAIL_MAX + 16];
	int tty = isatty(STDIN_FILENO), r, st;
	acct_2fa_info info;
	acct_verdict v;

	code[0] = '\0';
	if (!tty)
		c->in = stdin;
	ssh_address(c->self_address, sizeof(c->self_address));
	if (email_arg) {
		if (strlen(email_arg) > ACCT_EMAIL_MAX)
			return cli_fail(c, EX_USAGE, "an email address is at most %d bytes", ACCT_EMAIL_MAX);
		snprintf(email, sizeof(email), "%s", email_arg);
	} else if (tty) {
		if ((st = cli_ask(c, "email: ", email, sizeof(email))) != 0)
			return st;
	} else if ((st = cli_secret(c, "", 1, 0, email, sizeof(email))) != 0) {
		return st;
	}
	if ((st = cli_db(c)) != 0)
		return st;
	if ((st = acct_set_actor(c->db, "login")) != ACCT_OK)
		return cli_acct_fail(c, st);
	if ((st = cli_secret(c, "password: ", !tty, 0, pw, sizeof(pw))) != 0)
		return st;
	/* Ask for a code only after the password is right: nothing about the
	 * user's 2FA shows to someone who does not know it. */
	if (acct_user_verify_password(c->db, email, pw) == ACCT_OK &&
	    acct_2fa_status(&info, c->db, email) == ACCT_OK && info.state == ACCT_2FA_ENABLED &&
	    (st = cli_secret(c, "2FA code (or a recovery code): ", !tty, 0, code, sizeof(code))) != 0) {
		acct_wipe(pw, sizeof(pw));
		return st;
	}
	r = acct_login_check(&v, c->db, email, pw, code, c->self_address[0] ? c->self_address : NULL);
	acct_wipe(pw, sizeof(pw));
	acct_wipe(code, sizeof(code));
	if (r != ACCT_OK)
		return cli_acct_fail(c, r);
	if (v.kind == ACCT_TEMPFAIL)
		return cli_fail(c, EX_TEMPFAIL, "cannot log in now: %s; try again", acct_reason_text(v.reason));
	if (v.kind != ACCT_ALLOW)
		return refuse(c, &v, email);

	/* Logged in: from here on, everything is the user's. */
	c->self = 1;
	snprintf(c->self_email, sizeof(c->self_email), "%s", email);
	snprintf(c->self_account, sizeof(c->self_account), "%s", v.account);
	snprintf(actor, sizeof(actor), "user:%s", email);
	snprintf(c->actor, sizeof(c->actor), "%s", actor);
	if ((r = acct_set_actor(c->db, actor)) != ACCT_OK)
		return cli_acct_fail(c, r);
	(void)acct_audit_add(c->db, "login.allow", v.account, email, "self-service shell",
	                     c->self_address[0] ? c->self_address : NULL);
	if (!c->json && tty)
		printf("logged in as %s, account '%s'%s%s\n", email, v.account, c->self_address[0] ? ", from " : "",
		       c->self_address);
	if (tty) {
		c->mode = CLI_SHELL;
		cli_signals();
		return cli_shell(c);
	}
	c->mode = CLI_SCRIPT;
	return cli_script(c);
}
