/*
 * tls show/set: the TLS requirement of an account's outgoing mail.
 * Turning TLS off (--mode none) asks for confirmation.  tls report
 * (cmd_events.c) and tls policy (cmd_tls_policy.c) are in this group.
 */
#include "cli.h"

#include <string.h>

static int print_tls(cli *c, const char *account, const acct_tls *t, const char *said)
{
	const char *v = t->min_version == 13 ? "1.3" : "1.2";

	if (c->json)
		return cli_json(c, json_pack("{s:s, s:s, s:b, s:s}", "account", account, "mode", acct_tls_mode_name(t->mode),
		                             "require_valid_cert", t->require_valid_cert, "min_version", v));
	if (said)
		printf("%s\n", said);
	printf("mode:               %s\n", acct_tls_mode_name(t->mode));
	printf("require valid cert: %s\n", t->require_valid_cert ? "on" : "off");
	printf("minimum version:    TLS %s\n", v);
	return 0;
}

static int cmd_tls_show(cli *c, int argc, char **argv)
{
	const char *pos[1];
	acct_tls t;
	int r;

	if ((r = cli_parse(c, argc, argv, NULL, pos, 1, 1)) != 0)
		return r;
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	if ((r = acct_tls_get(&t, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	return print_tls(c, pos[0], &t, NULL);
}

static int cmd_tls_set(cli *c, int argc, char **argv)
{
	const char *pos[1], *mode = NULL, *cert = NULL, *minv = NULL;
	int yes = 0, r, on;
	const cli_opt opts[] = {{"--mode", 1, &mode, NULL},
	                        {"--require-valid-cert", 1, &cert, NULL},
	                        {"--min-version", 1, &minv, NULL},
	                        {"--yes", 0, NULL, &yes},
	                        {NULL, 0, NULL, NULL}};
	acct_tls t;
	char said[128];

	if ((r = cli_parse(c, argc, argv, opts, pos, 1, 1)) != 0)
		return r;
	if (!mode && !cert && !minv)
		return cli_fail(c, EX_USAGE, "say what to set: --mode opportunistic|enforced|none, "
		                             "--require-valid-cert on|off, --min-version 1.2|1.3");
	if ((r = cli_scope_account(c, pos[0])) != 0)
		return r;
	if ((r = acct_tls_get(&t, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	if (mode && acct_tls_mode_parse(&t.mode, mode) != ACCT_OK)
		return cli_fail(c, EX_USAGE, "--mode takes opportunistic, enforced or none, not '%.40s'", mode);
	if (cert) {
		if ((on = cli_onoff(cert)) < 0)
			return cli_fail(c, EX_USAGE, "--require-valid-cert takes on or off, not '%.40s'", cert);
		t.require_valid_cert = on;
	}
	if (minv) {
		if (!strcmp(minv, "1.2"))
			t.min_version = 12;
		else if (!strcmp(minv, "1.3"))
			t.min_version = 13;
		else
			return cli_fail(c, EX_USAGE, "--min-version takes 1.2 or 1.3, not '%.40s'", minv);
	}
	if (mode && t.mode == ACCT_TLS_NONE &&
	    (r = cli_confirm(c, yes, "turn TLS off for '%s'? Its mail will then always be sent in the clear", pos[0])) != 0)
		return r;
	if ((r = acct_tls_set(c->db, pos[0], &t)) != ACCT_OK)
		return cli_acct_fail(c, r);
	if ((r = acct_tls_get(&t, c->db, pos[0])) != ACCT_OK)
		return cli_acct_fail(c, r);
	snprintf(said, sizeof(said), "updated the TLS requirement of '%s'", pos[0]);
	return print_tls(c, pos[0], &t, said);
}

int cli_cmd_tls_report(cli *c, int argc, char **argv); /* cli/cmd_events.c */
int cli_cmd_tls_check(cli *c, int argc, char **argv);  /* cli/cmd_tlscheck.c */
int cli_cmd_tls_survey(cli *c, int argc, char **argv); /* cli/cmd_tlscheck.c */
int cli_cmd_tls_policy(cli *c, int argc, char **argv); /* cli/cmd_tls_policy.c */

static const cli_cmd cmds[] = {
	{"show", "ACCOUNT", "show an account's TLS requirement", "tls show acme", cmd_tls_show, CLI_F_SELF, "",
	 {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"set", "ACCOUNT [--mode opportunistic|enforced|none] [--require-valid-cert on|off] [--min-version 1.2|1.3] [--yes]",
	 "change an account's TLS requirement (--mode none asks first)",
	 "tls set acme --mode enforced --require-valid-cert on", cmd_tls_set, CLI_F_SELF,
	 "--mode= --require-valid-cert= --min-version= --yes", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"report", "ACCOUNT [--since TIME]", "an account's TLS posture: share delivered over TLS, versions, blocked, clear-text domains",
	 "tls report acme --since 30d", cli_cmd_tls_report, CLI_F_SELF, "--since=", {CLI_ARG_ACCOUNT, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"check", "DOMAIN [--port N] [--dns ADDR[@PORT]] [--trust-anchor FILE|none] [--ca-file FILE] [--timeout S] [--helo NAME] [--hookd-config FILE|--no-policy] [--json]",
	 "probe a domain's MX hosts (STARTTLS, TLS, certificate) and say what each TLS setting would do",
	 "tls check example.com", cli_cmd_tls_check, CLI_F_NODB | CLI_F_CHECK,
	 "--port= --dns= --trust-anchor= --ca-file= --timeout= --helo= --hookd-config= --no-policy --json", {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"survey", "FILE|--account ACCOUNT [--concurrency N] [--threads N] [--json|--csv OUT] [--port N] [--dns ADDR[@PORT]] [--trust-anchor FILE|none] [--ca-file FILE] [--timeout S] [--helo NAME] [--hookd-config FILE|--no-policy]",
	 "probe the MX hosts of many domains and summarize: STARTTLS, trusted TLS, failures by category",
	 "tls survey --account acme --csv acme-tls.csv", cli_cmd_tls_survey, CLI_F_NODB,
	 "--account= --concurrency= --threads= --json --csv= --port= --dns= --trust-anchor= --ca-file= --timeout= --helo= --hookd-config= --no-policy",
	 {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{"policy", "DOMAIN [--map NAME] [--hookd-config FILE]",
	 "what postern-hookd's TLS policy service answers for a recipient domain, and why (MTA-STS, DANE, cache)",
	 "tls policy example.net --map tls-policy-verify", cli_cmd_tls_policy, 0, "--map= --hookd-config=",
	 {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_tls = {"tls", "TLS requirements", cmds};
