/*
 * The configuration table of postern-hookd (see conf.h).  Each setting
 * is a row: name, kind, where it lives in hookd_conf, its default, its
 * bounds and its documentation; parsing, defaults, printing and the
 * documentation all walk the same rows.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

enum kind { K_STRING, K_OPTPATH, K_LISTEN, K_NUMBER, K_BOOL, K_MODE, K_NAME, K_SERVERS };

struct setting {
	const char *name;
	enum kind kind;
	size_t offset;
	size_t size; /* for strings */
	const char *def;
	long min, max;
	const char *doc;
};

#define STR(field, kind, def, doc) \
	{#field, kind, offsetof(hookd_conf, field), sizeof(((hookd_conf *)0)->field), def, 0, 0, doc}
#define NUM(field, def, min, max, doc) {#field, K_NUMBER, offsetof(hookd_conf, field), 0, def, min, max, doc}

static const struct setting settings[] = {
	STR(database, K_STRING, "/var/lib/postern/postern.db", "the Postern database (shared with the postern shell)"),
	STR(key_file, K_STRING, "/etc/postern/master.key", "the 2FA master key file"),
	STR(auth_listen, K_LISTEN, "inet:127.0.0.1:10035",
	    "Dovecot SASL service for Postfix (smtpd_sasl_type = dovecot): unix:PATH, inet:HOST:PORT, or empty for off"),
	STR(policy_listen, K_LISTEN, "inet:127.0.0.1:10036",
	    "policy delegation service for Postfix (check_policy_service): unix:PATH, inet:HOST:PORT, or empty for off"),
	STR(user, K_NAME, "postern", "after binding, run as this user (when started as root)"),
	STR(socket_mode, K_MODE, "0660", "permissions of the unix sockets (octal)"),
	STR(transport_encrypt, K_NAME, "postern-tls-encrypt",
	    "master.cf transport for enforced TLS, TLS 1.2 or newer, any certificate"),
	STR(transport_encrypt13, K_NAME, "postern-tls13-encrypt",
	    "master.cf transport for enforced TLS 1.3, any certificate"),
	STR(transport_verify, K_NAME, "postern-tls-verify",
	    "master.cf transport for enforced TLS, TLS 1.2 or newer, verified certificate"),
	STR(transport_verify13, K_NAME, "postern-tls13-verify",
	    "master.cf transport for enforced TLS 1.3, verified certificate"),
	STR(transport_clear, K_NAME, "postern-notls", "master.cf transport that never uses TLS (accounts with mode none)"),
	NUM(max_connections, "1024", 1, 65536, "most simultaneous connections from Postfix"),
	NUM(idle_timeout, "3600", 5, 86400, "seconds before an idle connection is closed"),
	NUM(busy_timeout_ms, "1000", 0, 60000,
	    "milliseconds to wait for a locked database before answering with a temporary failure"),
	{"debug", K_BOOL, offsetof(hookd_conf, debug), 0, "no", 0, 1, "log every request and decision (never secrets)"},
	STR(maillog_file, K_OPTPATH, "",
	    "Postfix's log (its maillog_file, or a syslog file) to follow for delivery events: an absolute path, or empty for off"),
	NUM(event_retention, "90", 0, 36500, "days to keep delivery events (0 = forever)"),
	STR(tlspolicy_listen, K_LISTEN, "",
	    "MTA-STS/DANE TLS policy socketmap for Postfix (smtp_tls_policy_maps): unix:PATH, inet:HOST:PORT, or empty for off"),
	STR(dns_forward, K_SERVERS, "",
	    "DNS servers the TLS policy service asks (ADDR[@PORT], several separated by spaces or commas), or empty to resolve from the root; DNSSEC is validated either way"),
	STR(dns_trust_anchor_file, K_OPTPATH, "/usr/share/dns/root.key",
	    "DNSSEC trust anchor (DS or DNSKEY records in zone-file form; readable by the daemon's user), or empty for none (then nothing is DNSSEC-secure and DANE never applies)"),
	STR(mtasts_ca_file, K_OPTPATH, "",
	    "CA certificates for the HTTPS fetch of MTA-STS policies, or empty for the system's store"),
	NUM(mtasts_https_port, "443", 1, 65535, "port of the MTA-STS policy servers (443; another only for tests)"),
	NUM(mtasts_timeout, "10000", 100, 60000, "milliseconds for each DNS lookup and for the policy fetch"),
	NUM(mtasts_nopolicy_ttl, "600", 1, 86400, "seconds a domain without an MTA-STS policy is remembered as such"),
	NUM(mtasts_failure_ttl, "60", 1, 86400,
	    "seconds a domain that never had an MTA-STS policy is remembered as having none after its TXT lookup or policy fetch failed (at most mtasts_nopolicy_ttl)"),
	{"mtasts_strict_testing", K_BOOL, offsetof(hookd_conf, mtasts_strict_testing), 0, "no", 0, 1,
	 "enforce MTA-STS policies in mode testing too (RFC 8461 says not to)"},
	{"tlspolicy_postfix_dane", K_BOOL, offsetof(hookd_conf, tlspolicy_postfix_dane), 0, "yes", 0, 1,
	 "every transport asking the tls-policy map runs at Postfix's dane security level (smtp_tls_security_level = dane, as postfix-config writes it), so that map skips the TLSA lookup for a domain without an enforced MTA-STS policy (one DNS round trip per miss); no where tls-policy is asked by a transport below the dane level"},
	NUM(tlspolicy_cache_ttl, "300", 1, 3600,
	    "seconds an evaluated domain is answered from memory (at most until its policy expires); used entries are re-evaluated in the background before"),
	NUM(tlspolicy_cache_size, "100000", 16, 10000000, "most domains answered from memory"),
	NUM(tlspolicy_max_jobs, "256", 1, 65536,
	    "most domain evaluations in flight; a lookup beyond that gets a temporary failure"),
	NUM(tlspolicy_stats_interval, "600", 0, 86400, "seconds between TLS policy statistics lines in the log (0 = off)"),
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

__attribute__((format(printf, 3, 4))) static int errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_number(const char *v, long min, long max, long *out)
{
	long n = 0;

	if (*v == '\0' || (v[0] == '0' && v[1] != '\0'))
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		n = n * 10 + (*v - '0');
		if (n > max)
			return -1;
	}
	if (n < min)
		return -1;
	*out = n;
	return 0;
}

/* unix:/absolute/path or inet:host:port (host a literal or localhost). */
static int check_listen(const char *v, char *err, size_t errlen, const char *name)
{
	const char *colon;
	long port;

	if (*v == '\0')
		return 0;
	if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] != '/')
			return errf(err, errlen, "%s: a unix socket needs an absolute path, as in unix:/run/postern/auth",
			            name);
		return 0;
	}
	if (strncmp(v, "inet:", 5) == 0 && (colon = strrchr(v + 5, ':')) != NULL && colon > v + 5 &&
	    parse_number(colon + 1, 1, 65535, &port) == 0)
		return 0;
	return errf(err, errlen, "%s: '%s' is not a listen address; use unix:/path/to/socket or inet:127.0.0.1:PORT",
	            name, v);
}

static const struct setting *find(const char *name)
{
	for (size_t i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

static int apply(hookd_conf *c, const struct setting *s, const char *v, char *err, size_t errlen)
{
	char *field = (char *)c + s->offset;
	long n;

	switch (s->kind) {
	case K_NUMBER:
		if (parse_number(v, s->min, s->max, &n) != 0)
			return errf(err, errlen, "%s: '%s' is not a number from %ld to %ld", s->name, v, s->min, s->max);
		memcpy(field, &n, sizeof(n));
		return 0;
	case K_BOOL:
		if (strcmp(v, "yes") == 0)
			n = 1;
		else if (strcmp(v, "no") == 0)
			n = 0;
		else
			return errf(err, errlen, "%s: '%s' is not yes or no", s->name, v);
		memcpy(field, &n, sizeof(n));
		return 0;
	case K_LISTEN:
		if (check_listen(v, err, errlen, s->name) != 0)
			return -1;
		break;
	case K_MODE:
		if (strlen(v) != 4 || v[0] != '0' || strspn(v, "01234567") != 4)
			return errf(err, errlen, "%s: '%s' is not an octal mode such as 0660", s->name, v);
		break;
	case K_NAME:
		if (*v == '\0' || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(v))
			return errf(err, errlen, "%s: '%s' is not a name (lowercase letters, digits, '.', '_', '-')",
			            s->name, v);
		break;
	case K_SERVERS:
		if (strspn(v, "0123456789abcdefABCDEF.:@, ") != strlen(v))
			return errf(err, errlen, "%s: '%s' is not a list of ADDR[@PORT] (IP addresses, e.g. 127.0.0.1@5353)",
			            s->name, v);
		break;
	case K_OPTPATH:
		if (*v != '\0' && *v != '/')
			return errf(err, errlen, "%s: '%s' is not an absolute path (or empty for off)", s->name, v);
		break;
	case K_STRING:
		if (*v != '/')
			return errf(err, errlen, "%s: '%s' is not an absolute path", s->name, v);
		break;
	}
	if (strlen(v) >= s->size)
		return errf(err, errlen, "%s: the value is longer than %zu characters", s->name, s->size - 1);
	memcpy(field, v, strlen(v) + 1);
	return 0;
}

int conf_set(hookd_conf *c, const char *name, const char *value, char *err, size_t errlen)
{
	const struct setting *s = find(name);

	if (s == NULL)
		return errf(err, errlen, "unknown setting '%.64s' (postern-hookd -T lists them)", name);
	return apply(c, s, value, err, errlen);
}

void conf_defaults(hookd_conf *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < NSETTINGS; i++)
		(void)apply(c, &settings[i], settings[i].def, err, sizeof(err));
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

int conf_load(hookd_conf *c, const char *path, char *err, size_t errlen)
{
	char line[CONF_LINE_MAX + 2], msg[512];
	unsigned char seen[NSETTINGS] = {0};
	FILE *f = fopen(path, "r");
	int lineno = 0, r = 0;

	if (f == NULL)
		return errf(err, errlen, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p, *eq, *name, *value;
		const struct setting *s;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			r = errf(err, errlen, "%s:%d: line longer than %d characters", path, lineno, CONF_LINE_MAX);
			break;
		}
		p = trim(line);
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL) {
			r = errf(err, errlen, "%s:%d: expected 'name = value'", path, lineno);
			break;
		}
		*eq = '\0';
		name = trim(p);
		value = trim(eq + 1);
		if ((s = find(name)) == NULL) {
			r = errf(err, errlen, "%s:%d: unknown setting '%.64s' (postern-hookd -T lists them)", path, lineno,
			         name);
			break;
		}
		if (seen[s - settings]++) {
			r = errf(err, errlen, "%s:%d: '%s' is set twice", path, lineno, name);
			break;
		}
		if (apply(c, s, value, msg, sizeof(msg)) != 0) {
			r = errf(err, errlen, "%s:%d: %s", path, lineno, msg);
			break;
		}
	}
	if (r == 0 && ferror(f))
		r = errf(err, errlen, "%s: read error", path);
	fclose(f);
	return r;
}

int conf_check(const hookd_conf *c, char *err, size_t errlen)
{
	if (c->auth_listen[0] == '\0' && c->policy_listen[0] == '\0' && c->tlspolicy_listen[0] == '\0')
		return errf(err, errlen, "nothing to serve: auth_listen, policy_listen and tlspolicy_listen are all off");
	if (c->auth_listen[0] && strcmp(c->auth_listen, c->policy_listen) == 0)
		return errf(err, errlen, "auth_listen and policy_listen are the same address (%s)", c->auth_listen);
	if (c->tlspolicy_listen[0] &&
	    (strcmp(c->tlspolicy_listen, c->auth_listen) == 0 || strcmp(c->tlspolicy_listen, c->policy_listen) == 0))
		return errf(err, errlen, "tlspolicy_listen is the same address as another listener (%s)",
		            c->tlspolicy_listen);
	return 0;
}

void conf_print(const hookd_conf *c, FILE *out, int with_docs)
{
	for (size_t i = 0; i < NSETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *field = (const char *)c + s->offset;
		long n;

		if (with_docs)
			fprintf(out, "%s# %s (default: %s)\n", i ? "\n" : "", s->doc, *s->def ? s->def : "empty");
		switch (s->kind) {
		case K_NUMBER:
			memcpy(&n, field, sizeof(n));
			fprintf(out, "%s = %ld\n", s->name, n);
			break;
		case K_BOOL:
			memcpy(&n, field, sizeof(n));
			fprintf(out, "%s = %s\n", s->name, n ? "yes" : "no");
			break;
		default:
			fprintf(out, "%s = %s\n", s->name, field);
			break;
		}
	}
}
