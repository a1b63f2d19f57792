/*
 * postfix-config and postfix-check: Postern's place in a Postfix
 * configuration, written and verified with Postfix's own postconf(1).
 *
 *   postfix-config [--hookd ADDRESS] [--apply CONFIG_DIR]
 *       prints (or applies with postconf -e / postconf -M) the main.cf
 *       settings and master.cf services Postern needs: the SASL path and
 *       the policy service of postern-hookd, submission on 587
 *       (STARTTLS, AUTH only over TLS), 465 (implicit TLS) and 2525, the
 *       TLS-enforcing transports with their status filter, the TLS
 *       Received header, and the recipient domains' TLS policy (MTA-STS
 *       and DANE, docs/mta-sts.md): smtp_tls_policy_maps on the default
 *       smtp transport and a map of its own on each Postern transport,
 *       DNSSEC lookups and Postfix's dane security level for DANE, and
 *       the TLS log lines delivery events need.  A stronger
 *       smtp_tls_security_level already in main.cf is kept (and said).
 *   postfix-check [--config-dir DIR] [--hookd-config FILE]
 *       reads a live configuration (postconf -n, -M, -P) and reports what
 *       is missing or misplaced, such as a check_policy_service that a
 *       preceding permit_sasl_authenticated makes unreachable; with
 *       postern-hookd's configuration (FILE, or the default one if it
 *       exists), also TLS policy maps that ask where nothing listens.
 *
 * ADDRESS is inet:HOST:PORT (SASL on PORT, policy on PORT+1, TLS policy
 * on PORT+2; the daemon's defaults are inet:127.0.0.1:10035, :10036 and
 * :10037) or unix:DIR (sockets DIR/auth, DIR/policy and DIR/tlspolicy).  postconf runs without a shell, with
 * a fixed argument vector.  docs/postfix.md explains every line.
 */
#include "cli.h"
#include "conf.h" /* postern-hookd's configuration (smtp-hook/conf.c) */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT_MAX (1u << 20)
#define STATUS_FILTER "postern_tls_status.pcre"

/* The transports postern-hookd routes to (its transport_* defaults), the
 * TLS level each must have, its minimum protocol, and the TLS policy
 * map name it asks (smtp-hook/mtasts.h sts_map_parse).  postern-notls
 * runs at level none, so it does no DANE itself: its map always answers
 * DANE (tls-policy leaves it to Postfix's dane level, which the default
 * smtp transport runs at). */
static const struct transport {
	const char *name, *level, *protocols, *map;
} transports[] = {
	{"postern-tls-encrypt", "encrypt", ">=TLSv1.2", "tls-policy-encrypt"},
	{"postern-tls13-encrypt", "encrypt", ">=TLSv1.3", "tls-policy-encrypt13"},
	{"postern-tls-verify", "verify", ">=TLSv1.2", "tls-policy-verify"},
	{"postern-tls13-verify", "verify", ">=TLSv1.3", "tls-policy-verify13"},
	{"postern-notls", "none", NULL, "tls-policy-none"},
};
/* The map of the default smtp transport (opportunistic accounts), and
 * the level it runs at: Postfix does DANE itself for a domain the map
 * answers NOTFOUND (postern-hookd's tlspolicy_postfix_dane). */
#define DEFAULT_MAP "tls-policy"
#define DEFAULT_LEVEL "dane"
#define NTRANSPORTS (sizeof(transports) / sizeof(transports[0]))

/* Run postconf with argv (NULL-terminated, argv[0] = "postconf"); its
 * standard output and error into *out (malloc'd, NUL-terminated).
 * Returns its exit status, or -1 if it could not run. */
static int postconf(char **out, const char *const argv[])
{
	int p[2], st;
	size_t len = 0;
	char *buf = malloc(OUT_MAX + 1);
	pid_t pid;

	*out = NULL;
	if (buf == NULL || pipe(p) != 0) {
		free(buf);
		return -1;
	}
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		free(buf);
		return -1;
	}
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		char *v[16];
		int i;
		close(p[0]);
		close(p[1]);
		/* execvp wants writable strings: the child's own copies. */
		for (i = 0; i < 15 && argv[i]; i++)
			if ((v[i] = strdup(argv[i])) == NULL)
				_exit(127);
		v[i] = NULL;
		execvp("postconf", v);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], buf + len, OUT_MAX - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == OUT_MAX)
			break;
	}
	close(p[0]);
	buf[len] = '\0';
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	*out = buf;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the addresses of postern-hookd ---- */

typedef struct hookd_addr {
	char auth[320], policy[320], tlspolicy[320];
} hookd_addr;

static int parse_hookd(cli *c, const char *spec, hookd_addr *a)
{
	if (strncmp(spec, "inet:", 5) == 0) {
		const char *colon = strrchr(spec + 5, ':');
		char *end;
		long port;

		errno = 0;
		port = colon ? strtol(colon + 1, &end, 10) : 0;
		if (colon == NULL || colon == spec + 5 || errno || *end || end == colon + 1 || port < 1 || port > 65533 ||
		    (size_t)(colon - spec) > 256 || strpbrk(spec, " \t,") != NULL)
			return cli_fail(c, EX_USAGE,
			                "--hookd: '%.80s' is not inet:HOST:PORT (SASL on PORT, policy on PORT+1, TLS policy "
			                "on PORT+2) or unix:DIR",
			                spec);
		snprintf(a->auth, sizeof(a->auth), "%.*s:%ld", (int)(colon - spec), spec, port);
		snprintf(a->policy, sizeof(a->policy), "%.*s:%ld", (int)(colon - spec), spec, port + 1);
		snprintf(a->tlspolicy, sizeof(a->tlspolicy), "%.*s:%ld", (int)(colon - spec), spec, port + 2);
		return 0;
	}
	if (strncmp(spec, "unix:", 5) == 0 && spec[5] == '/' && strlen(spec) < 250 &&
	    strpbrk(spec, " \t,") == NULL) {
		snprintf(a->auth, sizeof(a->auth), "%s/auth", spec + 5);
		snprintf(a->policy, sizeof(a->policy), "%s/policy", spec);
		snprintf(a->tlspolicy, sizeof(a->tlspolicy), "%s/tlspolicy", spec);
		return 0;
	}
	return cli_fail(c, EX_USAGE, "--hookd: '%.80s' is not inet:HOST:PORT or unix:/DIRECTORY", spec);
}

/* ---- postfix-config ---- */

typedef struct setting {
	const char *name;
	char value[512];
} setting;

typedef struct service {
	const char *key; /* postconf -M name/type */
	char entry[1024];
} service;

#define NMAIN 7
#define M_LEVEL 5 /* m[M_LEVEL] is smtp_tls_security_level */
#define NSERVICES (3 + NTRANSPORTS)

static void build(const hookd_addr *a, setting *m, service *s)
{
	static const char *const subs[3][3] = {
		{"submission/inet", "submission", "-o smtpd_tls_security_level=encrypt"},
		{"submissions/inet", "submissions", "-o smtpd_tls_wrappermode=yes"},
		{"2525/inet", "2525", "-o smtpd_tls_security_level=encrypt"},
	};
	size_t i;

	m[0].name = "smtpd_sasl_type";
	snprintf(m[0].value, sizeof(m[0].value), "dovecot");
	m[1].name = "smtpd_sasl_path";
	snprintf(m[1].value, sizeof(m[1].value), "%s", a->auth);
	m[2].name = "smtpd_tls_received_header";
	snprintf(m[2].value, sizeof(m[2].value), "yes");
	/* The recipient domains' MTA-STS/DANE requirement, for the default
	 * smtp transport; DANE needs DNSSEC-validated lookups; delivery
	 * events need the TLS lines of the smtp client's log. */
	m[3].name = "smtp_tls_policy_maps";
	snprintf(m[3].value, sizeof(m[3].value), "socketmap:%s:" DEFAULT_MAP, a->tlspolicy);
	m[4].name = "smtp_dns_support_level";
	snprintf(m[4].value, sizeof(m[4].value), "dnssec");
	/* Opportunistic DANE by Postfix itself, as TLS_README recommends
	 * (with dnssec lookups): the tls-policy map then need not ask TLSA
	 * for a domain without an enforced MTA-STS policy (one DNS round
	 * trip per miss, docs/mta-sts.md). */
	m[M_LEVEL].name = "smtp_tls_security_level";
	snprintf(m[M_LEVEL].value, sizeof(m[M_LEVEL].value), DEFAULT_LEVEL);
	m[6].name = "smtp_tls_loglevel";
	snprintf(m[6].value, sizeof(m[6].value), "1");
	for (i = 0; i < 3; i++) {
		s[i].key = subs[i][0];
		snprintf(s[i].entry, sizeof(s[i].entry),
		         "%s inet n - - - - smtpd -o syslog_name=postfix/%s %s -o smtpd_tls_auth_only=yes "
		         "-o smtpd_sasl_auth_enable=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject "
		         "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject "
		         "-o smtpd_recipient_restrictions=check_policy_service,%s,permit_sasl_authenticated,reject",
		         subs[i][1], subs[i][1], subs[i][2], a->policy);
	}
	for (i = 0; i < NTRANSPORTS; i++) {
		const struct transport *t = &transports[i];
		char *e = s[3 + i].entry;
		size_t cap = sizeof(s[3 + i].entry);
		int n;

		s[3 + i].key = NULL; /* name/unix, made below */
		n = snprintf(e, cap, "%s unix - - - - - smtp -o syslog_name=postfix/%s -o smtp_tls_security_level=%s",
		             t->name, t->name, t->level);
		if (t->protocols && n > 0 && (size_t)n < cap)
			n += snprintf(e + n, cap - (size_t)n,
			              " -o smtp_tls_mandatory_protocols=%s -o smtp_delivery_status_filter=pcre:"
			              "$config_directory/" STATUS_FILTER,
			              t->protocols);
		/* Its own map name: the answer is never weaker than the
		 * transport's level (docs/mta-sts.md). */
		if (n > 0 && (size_t)n < cap)
			snprintf(e + n, cap - (size_t)n, " -o smtp_tls_policy_maps=socketmap:%s:%s", a->tlspolicy, t->map);
	}
}

/* The status filter: an enforcing transport's TLS refusal (4.7.x) becomes
 * final at once, with a text the sender understands, instead of days of
 * retries.  Mail is never sent in the clear either way. */
static const char status_filter[] =
	"# Written by postern postfix-config: the TLS-enforcing transports'\n"
	"# refusals become immediate bounces (see docs/postfix.md).\n"
	"/^4(\\.7\\.[0-9]+) (.*)$/ 5$1 TLS required but not supported: $2\n";

static int read_file(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	long n;

	*out = NULL;
	if (f == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (long)OUT_MAX || fseek(f, 0, SEEK_SET) != 0 ||
	    (*out = malloc((size_t)n + 1)) == NULL || fread(*out, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(*out);
		*out = NULL;
		return -1;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

static int write_file(const char *path, const char *data, size_t len, mode_t mode)
{
	char tmp[4200];
	int fd, ok;

	snprintf(tmp, sizeof(tmp), "%s.postern-tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		return -1;
	ok = write(fd, data, len) == (ssize_t)len && fchmod(fd, mode) == 0 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Levels stronger than dane for a domain without DANE: a main.cf that
 * has one keeps it (the administrator asked every delivery for at least
 * that).  Then Postfix does no DANE itself; postern-hookd must answer
 * DANE on tls-policy (tlspolicy_postfix_dane = no). */
static int stronger_than_dane(const char *level)
{
	static const char *const strong[] = {"encrypt", "dane-only", "fingerprint", "verify", "secure"};

	for (size_t i = 0; i < sizeof(strong) / sizeof(strong[0]); i++)
		if (!strcmp(level, strong[i]))
			return 1;
	return 0;
}

/* main.cf's smtp_tls_security_level, $names expanded (postconf -x -h; "" when
 * unset); with it unset, the obsolete smtp_enforce_tls = yes means
 * encrypt. */
static void current_level(const char *dir, char *out, size_t len)
{
	const char *a1[] = {"postconf", "-c", dir, "-x", "-h", "smtp_tls_security_level", NULL};
	const char *a2[] = {"postconf", "-c", dir, "-h", "smtp_enforce_tls", NULL};
	char *o = NULL;

	out[0] = '\0';
	if (postconf(&o, a1) == 0 && o) {
		o[strcspn(o, "\n")] = '\0';
		snprintf(out, len, "%s", o);
	}
	free(o);
	o = NULL;
	if (out[0] == '\0' && postconf(&o, a2) == 0 && o && !strncmp(o, "yes", 3))
		snprintf(out, len, "encrypt");
	free(o);
}

static int apply(cli *c, const char *dir, const setting *m, const service *s, char *was, size_t wlen, int *kept)
{
	char mainp[4200], masterp[4200], filterp[4200], arg[1200], key[96], *out = NULL;
	char *saved_main = NULL, *saved_master = NULL;
	size_t main_len = 0, master_len = 0;
	int r = 0, st;
	size_t i;

	snprintf(mainp, sizeof(mainp), "%s/main.cf", dir);
	snprintf(masterp, sizeof(masterp), "%s/master.cf", dir);
	snprintf(filterp, sizeof(filterp), "%s/" STATUS_FILTER, dir);
	if (strlen(dir) > 4000 || read_file(mainp, &saved_main, &main_len) != 0 ||
	    read_file(masterp, &saved_master, &master_len) != 0) {
		free(saved_main);
		return cli_fail(c, EX_NOINPUT, "--apply: %.200s needs a readable main.cf and master.cf (a Postfix "
		                               "configuration directory such as /etc/postfix)", dir);
	}
	current_level(dir, was, wlen);
	*kept = stronger_than_dane(was);
	for (i = 0; i < NMAIN && r == 0; i++) {
		const char *argv[] = {"postconf", "-c", dir, "-e", arg, NULL};
		if (i == M_LEVEL && *kept)
			continue; /* the administrator's stronger level stays */
		snprintf(arg, sizeof(arg), "%s=%s", m[i].name, m[i].value);
		if ((st = postconf(&out, argv)) != 0)
			r = cli_fail(c, EX_SOFTWARE, "postconf -e %s failed (status %d): %.300s", m[i].name, st,
			             out ? out : "could not run postconf");
		free(out);
	}
	for (i = 0; i < NSERVICES && r == 0; i++) {
		const char *argv[] = {"postconf", "-c", dir, "-M", arg, NULL};
		if (s[i].key)
			snprintf(key, sizeof(key), "%s", s[i].key);
		else
			snprintf(key, sizeof(key), "%s/unix", transports[i - 3].name);
		snprintf(arg, sizeof(arg), "%s=%s", key, s[i].entry);
		if ((st = postconf(&out, argv)) != 0)
			r = cli_fail(c, EX_SOFTWARE, "postconf -M %s failed (status %d): %.300s", key, st,
			             out ? out : "could not run postconf");
		free(out);
	}
	if (r == 0 && write_file(filterp, status_filter, sizeof(status_filter) - 1, 0644) != 0)
		r = cli_fail(c, EX_CANTCREAT, "cannot write %.300s: %s", filterp, strerror(errno));
	if (r != 0) {
		/* Nothing half-written: put both files back as they were. */
		if (write_file(mainp, saved_main, main_len, 0644) != 0 || write_file(masterp, saved_master, master_len, 0644) != 0)
			cli_warn(c, "could not restore %s/main.cf and master.cf", dir);
	}
	free(saved_main);
	free(saved_master);
	return r;
}

static int cmd_postfix_config(cli *c, int argc, char **argv)
{
	const char *pos[1], *hookd = "inet:127.0.0.1:10035", *dir = NULL;
	const cli_opt opts[] = {{"--hookd", 1, &hookd, NULL}, {"--apply", 1, &dir, NULL}, {NULL, 0, NULL, NULL}};
	setting m[NMAIN];
	service s[NSERVICES];
	hookd_addr a;
	size_t i;
	int r;

	if ((r = cli_parse(c, argc, argv, opts, pos, 0, 0)) != 0)
		return r;
	if ((r = parse_hookd(c, hookd, &a)) != 0)
		return r;
	build(&a, m, s);
	if (dir) {
		char was[256];
		int kept = 0;

		if ((r = apply(c, dir, m, s, was, sizeof(was), &kept)) != 0)
			return r;
		if (c->json)
			return cli_json(c, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "applied", dir, "sasl", a.auth,
			                             "policy", a.policy, "tlspolicy", a.tlspolicy, "smtp_tls_security_level",
			                             kept ? was : DEFAULT_LEVEL, "smtp_tls_security_level_was", was,
			                             "tlspolicy_postfix_dane", !kept));
		printf("applied to %s: %d main.cf settings, %d master.cf services, %s\n", dir, NMAIN - kept,
		       (int)NSERVICES, STATUS_FILTER);
		if (kept)
			printf("kept smtp_tls_security_level = %s (stronger than dane for domains without DANE): Postfix "
			       "does no DANE itself, so set tlspolicy_postfix_dane = no in postern-hookd's configuration "
			       "(its tls-policy map then answers DANE for the domains that publish it)\n",
			       was);
		else if (strcmp(was, DEFAULT_LEVEL) != 0)
			printf("smtp_tls_security_level: %s -> " DEFAULT_LEVEL " (opportunistic DANE by Postfix itself, "
			       "TLS where offered otherwise; postern-hookd's tlspolicy_postfix_dane = yes relies on it)\n",
			       was[0] ? was : "(unset)");
		printf("next: in postern-hookd's configuration tlspolicy_listen = %s (the TLS policy maps' address); "
		       "postfix check && postfix reload; then postern postfix-check\n",
		       a.tlspolicy);
		return 0;
	}
	if (c->json) {
		json_t *mj = json_object(), *sj = json_object();
		for (i = 0; i < NMAIN; i++)
			json_object_set_new(mj, m[i].name, json_string(m[i].value));
		for (i = 0; i < NSERVICES; i++) {
			char key[96];
			snprintf(key, sizeof(key), "%s", s[i].key ? s[i].key : transports[i - 3].name);
			if (!s[i].key)
				snprintf(key, sizeof(key), "%s/unix", transports[i - 3].name);
			json_object_set_new(sj, key, json_string(s[i].entry));
		}
		return cli_json(c, json_pack("{s:o, s:o, s:s, s:s}", "main.cf", mj, "master.cf", sj, "status_filter_file",
		                             STATUS_FILTER, "status_filter", status_filter));
	}
	printf("# main.cf (postconf -e)\n");
	for (i = 0; i < NMAIN; i++)
		printf("%s = %s\n", m[i].name, m[i].value);
	printf("\n# master.cf (postconf -M); chroot '-' is Postfix's default, n since 3.0\n");
	for (i = 0; i < NSERVICES; i++) {
		const char *e = s[i].entry, *o;
		/* One -o per line, as master.cf is usually written. */
		while ((o = strstr(e, " -o ")) != NULL) {
			printf("%.*s\n  ", (int)(o - e), e);
			e = o + 1;
		}
		printf("%s\n", e);
	}
	printf("\n# $config_directory/%s\n%s", STATUS_FILTER, status_filter);
	return 0;
}

/* ---- postfix-check ---- */

typedef struct check {
	cli *c;
	const char *dir;
	char *main_n, *services, *params; /* postconf -n, -M, -P */
	json_t *findings;
	int errors, warnings;
	const char *hookd_file;  /* postern-hookd's configuration, when read */
	char tlspolicy[4096];    /* its tlspolicy_listen ("" = off) */
	int said_tlspolicy_off;
	int postfix_dane;        /* its tlspolicy_postfix_dane (the default, yes, without a file) */
} check;

static void finding(check *k, const char *level, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void finding(check *k, const char *level, const char *where, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!strcmp(level, "error"))
		k->errors++;
	else if (!strcmp(level, "warning"))
		k->warnings++;
	if (k->findings)
		json_array_append_new(k->findings, json_pack("{s:s, s:s?, s:s}", "level", level, "service", where,
		                                             "message", msg));
	else
		printf("%s: %s%s%s\n", level, where ? where : "", where ? ": " : "", msg);
}

/* The value of `name = value` in postconf output `text` (one per line),
 * copied to out; 0 if found. */
static int lookup(const char *text, const char *name, char *out, size_t len)
{
	size_t nl = strlen(name);

	for (const char *p = text; p && *p;) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);

		if (ll > nl + 3 && !strncmp(p, name, nl) && !strncmp(p + nl, " = ", 3)) {
			snprintf(out, len, "%.*s", (int)(ll - nl - 3), p + nl + 3);
			return 0;
		}
		p = eol ? eol + 1 : NULL;
	}
	return -1;
}

/* A main.cf parameter's effective value, $names expanded (postconf -x -h). */
static void main_value(check *k, const char *name, char *out, size_t len)
{
	const char *argv[] = {"postconf", "-c", k->dir, "-x", "-h", name, NULL};
	char *o = NULL;

	out[0] = '\0';
	if (postconf(&o, argv) == 0 && o) {
		o[strcspn(o, "\n")] = '\0';
		snprintf(out, len, "%s", o);
	}
	free(o);
}

/* A parameter as a service sees it: its -o override, else main.cf's.
 * An override that names one parameter ($name) is followed. */
static void service_value(check *k, const char *svc, const char *name, char *out, size_t len)
{
	char key[256];

	snprintf(key, sizeof(key), "%s/%s", svc, name);
	if (lookup(k->params, key, out, len) != 0) {
		main_value(k, name, out, len);
		return;
	}
	if (out[0] == '$') {
		char ref[128];
		size_t n = strlen(out);
		if (out[1] == '{' && out[n - 1] == '}')
			snprintf(ref, sizeof(ref), "%.*s", (int)(n - 3), out + 2);
		else
			snprintf(ref, sizeof(ref), "%s", out + 1);
		if (strspn(ref, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(ref))
			main_value(k, ref, out, len);
	}
}

/* Split a restriction list into words (commas and blanks separate). */
static int words(char *list, char **w, int max)
{
	int n = 0;

	for (char *t = strtok_r(list, ", \t", &list); t && n < max; t = strtok_r(NULL, ", \t", &list))
		w[n++] = t;
	return n;
}

/* Where check_policy_service sits in one restriction list: -1 if absent;
 * *blocker names a preceding restriction that ends the list for an
 * authenticated client, if any. */
static int find_policy(char *list, const char **blocker, char *server, size_t slen)
{
	char *w[128];
	int n = words(list, w, 128);

	*blocker = NULL;
	for (int i = 0; i < n; i++) {
		if (!strcmp(w[i], "check_policy_service")) {
			snprintf(server, slen, "%s", i + 1 < n ? w[i + 1] : "");
			return i;
		}
		if (!*blocker && (!strcmp(w[i], "permit_sasl_authenticated") || !strcmp(w[i], "permit") ||
		                  !strcmp(w[i], "permit_mynetworks")))
			*blocker = w[i];
	}
	return -1;
}

static void check_submission(check *k, const char *svc)
{
	/* find_policy's *blocker points into copy: keep it alive to the end. */
	char v[2048], relay[2048], rcpt[2048], server[512], copy[2048];
	const char *blocker = NULL;
	int at;

	service_value(k, svc, "smtpd_sasl_type", v, sizeof(v));
	if (strcmp(v, "dovecot") != 0)
		finding(k, "error", svc, "smtpd_sasl_type is '%s', not dovecot: AUTH does not reach postern-hookd", v);
	service_value(k, svc, "smtpd_sasl_path", v, sizeof(v));
	if (strncmp(v, "inet:", 5) != 0 && v[0] != '/')
		finding(k, "warning", svc, "smtpd_sasl_path is '%s'; postern-hookd listens on inet:HOST:PORT or an "
		                           "absolute unix socket path", v);
	service_value(k, svc, "smtpd_tls_auth_only", v, sizeof(v));
	{
		char wrap[64];
		service_value(k, svc, "smtpd_tls_wrappermode", wrap, sizeof(wrap));
		if (strcmp(v, "yes") != 0 && strcmp(wrap, "yes") != 0)
			finding(k, "warning", svc, "AUTH is offered without TLS: set -o smtpd_tls_auth_only=yes");
	}
	service_value(k, svc, "smtpd_relay_restrictions", relay, sizeof(relay));
	service_value(k, svc, "smtpd_recipient_restrictions", rcpt, sizeof(rcpt));
	snprintf(copy, sizeof(copy), "%s", relay);
	at = find_policy(copy, &blocker, server, sizeof(server));
	if (at >= 0) {
		if (blocker)
			finding(k, "error", svc, "check_policy_service in smtpd_relay_restrictions comes after %s, which "
			                         "ends the list for authenticated clients: the policy service is never asked",
			        blocker);
		else
			finding(k, "warning", svc, "check_policy_service is in smtpd_relay_restrictions, before the relay "
			                           "check; put it first in smtpd_recipient_restrictions");
	} else {
		snprintf(copy, sizeof(copy), "%s", rcpt);
		at = find_policy(copy, &blocker, server, sizeof(server));
		if (at < 0)
			finding(k, "error", svc, "no check_policy_service in smtpd_recipient_restrictions: IP allowlists "
			                         "and TLS requirements are not applied at RCPT");
		else if (blocker && !strcmp(blocker, "permit_mynetworks"))
			finding(k, "warning", svc, "permit_mynetworks comes before check_policy_service: clients in "
			                           "mynetworks skip the policy service");
		else if (blocker)
			finding(k, "error", svc, "check_policy_service comes after %s in smtpd_recipient_restrictions, which "
			                         "ends the list for authenticated clients: the policy service is never asked "
			                         "(move it before %s)", blocker, blocker);
	}
	if (at >= 0 && (!blocker || !strcmp(blocker, "permit_mynetworks")))
		finding(k, "ok", svc, "AUTH offered; policy service %s asked at RCPT", server);
}

/* Is v exactly one of postern-hookd's TLS policy maps,
 * socketmap:inet:HOST:PORT:NAME or socketmap:unix:/PATH:NAME with a
 * name starting tls-policy?  The name goes to name. */
static int postern_map(const char *v, char *name, size_t len)
{
	const char *last = strrchr(v, ':');

	if (strncmp(v, "socketmap:", 10) != 0 || (strncmp(v + 10, "inet:", 5) != 0 && strncmp(v + 10, "unix:/", 6) != 0) ||
	    strpbrk(v, " \t,") != NULL || last == NULL || strncmp(last + 1, "tls-policy", 10) != 0)
		return 0;
	snprintf(name, len, "%s", last + 1);
	return 1;
}

/* What an smtp client service (the default smtp, or a Postern transport)
 * needs for the recipient domains' TLS policy: postern-hookd's map under
 * its own name, DNSSEC lookups (DANE), the TLS log lines (events). */
static void check_smtp_client(check *k, const char *svc, const char *want)
{
	char v[1024], name[128], key[256];

	service_value(k, svc, "smtp_tls_policy_maps", v, sizeof(v));
	if (v[0] == '\0')
		finding(k, "error", svc, "no smtp_tls_policy_maps: the recipient domains' MTA-STS and DANE "
		                         "requirements are not applied (socketmap:ADDRESS:%s; postern postfix-config "
		                         "prints it)", want);
	else if (!postern_map(v, name, sizeof(name))) {
		if (strstr(v, ":tls-policy") != NULL)
			finding(k, "warning", svc, "smtp_tls_policy_maps (%s) has other maps besides postern-hookd's: "
			                           "where it answers NOTFOUND they can answer weaker than %s", v, want);
		else
			finding(k, "warning", svc, "smtp_tls_policy_maps is %s, not postern-hookd's: its answers override "
			                           "the transport's TLS level, and MTA-STS and DANE are not applied", v);
	} else if (strcmp(name, want) != 0 && !strcmp(want, "tls-policy-none") && !strcmp(name, DEFAULT_MAP))
		finding(k, "error", svc, "smtp_tls_policy_maps asks postern-hookd's map '%s', must be %s: this "
		                         "transport (level none) does no DANE itself, and %s may leave DANE to Postfix's "
		                         "dane level (tlspolicy_postfix_dane): mail to a DANE domain would go in the clear "
		                         "(postern postfix-config --apply writes %s)", name, want, name, want);
	else if (strcmp(name, want) != 0)
		finding(k, "error", svc, "smtp_tls_policy_maps asks postern-hookd's map '%s', must be %s: the answers "
		                         "would be for another TLS requirement", name, want);
	if (v[0] && k->hookd_file && postern_map(v, name, sizeof(name))) {
		/* The address between "socketmap:" and ":NAME", against what the daemon listens on. */
		size_t alen = strlen(v) - 10 - strlen(name) - 1;
		if (k->tlspolicy[0] == '\0') {
			if (!k->said_tlspolicy_off++)
				finding(k, "error", NULL, "tlspolicy_listen is off in %s: nothing answers smtp_tls_policy_maps "
				                          "and Postfix defers every delivery (set tlspolicy_listen = %.*s)",
				        k->hookd_file, (int)alen, v + 10);
		} else if (strlen(k->tlspolicy) != alen || strncmp(k->tlspolicy, v + 10, alen) != 0)
			finding(k, "error", svc, "smtp_tls_policy_maps asks %.*s, but postern-hookd's tlspolicy_listen is %s "
			                         "(%s): Postfix defers every delivery", (int)alen, v + 10, k->tlspolicy,
			        k->hookd_file);
	}
	/* main.cf's values are checked once, in cmd_postfix_check; here only
	 * a service's own override. */
	snprintf(key, sizeof(key), "%s/smtp_dns_support_level", svc);
	if (lookup(k->params, key, v, sizeof(v)) == 0 && strcmp(v, "dnssec") != 0)
		finding(k, "error", svc, "smtp_dns_support_level=%s: DANE needs dnssec", v);
	snprintf(key, sizeof(key), "%s/smtp_tls_loglevel", svc);
	if (lookup(k->params, key, v, sizeof(v)) == 0 && strcmp(v, "0") == 0)
		finding(k, "warning", svc, "smtp_tls_loglevel=0: delivery events lose the TLS version and cipher");
}

static void check_transport(check *k, const struct transport *t)
{
	char svc[128], want[128], v[512];

	snprintf(want, sizeof(want), "\n%s ", t->name);
	snprintf(svc, sizeof(svc), "%s/unix", t->name);
	if (strncmp(k->services, want + 1, strlen(want) - 1) != 0 && strstr(k->services, want) == NULL) {
		finding(k, "error", svc, "missing from master.cf: accounts routed to it cannot send (postern "
		                         "postfix-config prints it)");
		return;
	}
	service_value(k, svc, "smtp_tls_security_level", v, sizeof(v));
	if (strcmp(v, t->level) != 0)
		finding(k, "error", svc, "smtp_tls_security_level is '%s', must be %s", v, t->level);
	if (t->protocols) {
		service_value(k, svc, "smtp_tls_mandatory_protocols", v, sizeof(v));
		if (strcmp(v, t->protocols) != 0)
			finding(k, "error", svc, "smtp_tls_mandatory_protocols is '%s', must be %s", v, t->protocols);
		service_value(k, svc, "smtp_delivery_status_filter", v, sizeof(v));
		if (v[0] == '\0')
			finding(k, "error", svc, "no smtp_delivery_status_filter: refused TLS is retried for days "
			                         "instead of bouncing with 'TLS required but not supported'");
	}
	check_smtp_client(k, svc, t->map);
}

static int cmd_postfix_check(cli *c, int argc, char **argv)
{
	const char *pos[1], *dir = NULL, *hookd_file = NULL;
	const cli_opt opts[] = {{"--config-dir", 1, &dir, NULL}, {"--hookd-config", 1, &hookd_file, NULL},
	                        {NULL, 0, NULL, NULL}};
	check k = {c, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, "", 0, 1};
	char v[256], defdir[1024];
	int r, nsub = 0;
	static hookd_conf hc;

	if ((r = cli_parse(c, argc, argv, opts, pos, 0, 0)) != 0)
		return r;
	/* postern-hookd's own file, to compare the TLS policy address with:
	 * the one given, else the default one if it exists. */
	if (hookd_file == NULL && access(HOOKD_DEFAULT_CONFIG, F_OK) == 0)
		hookd_file = HOOKD_DEFAULT_CONFIG;
	if (hookd_file) {
		char err[1024];
		conf_defaults(&hc);
		if (conf_load(&hc, hookd_file, err, sizeof(err)) != 0)
			return cli_fail(c, EX_NOINPUT, "postern-hookd's configuration: %s", err);
		k.hookd_file = hookd_file;
		snprintf(k.tlspolicy, sizeof(k.tlspolicy), "%s", hc.tlspolicy_listen);
		k.postfix_dane = hc.tlspolicy_postfix_dane != 0;
	}
	if (dir == NULL) {
		char *o = NULL;
		const char *a[] = {"postconf", "-h", "config_directory", NULL};
		if (postconf(&o, a) != 0 || o == NULL) {
			free(o);
			return cli_fail(c, EX_UNAVAILABLE, "cannot run postconf: is Postfix installed?");
		}
		o[strcspn(o, "\n")] = '\0';
		snprintf(defdir, sizeof(defdir), "%s", o);
		free(o);
		dir = defdir;
	}
	k.dir = dir;
	{
		const char *an[] = {"postconf", "-c", dir, "-n", NULL};
		const char *am[] = {"postconf", "-c", dir, "-M", NULL};
		const char *ap[] = {"postconf", "-c", dir, "-P", NULL};
		if (postconf(&k.main_n, an) != 0 || postconf(&k.services, am) != 0 || postconf(&k.params, ap) != 0) {
			r = cli_fail(c, EX_NOINPUT, "postconf cannot read the configuration in %.300s: %.300s", dir,
			             k.main_n ? k.main_n : "could not run postconf");
			goto out;
		}
	}
	if (c->json)
		k.findings = json_array();
	main_value(&k, "smtpd_tls_received_header", v, sizeof(v));
	if (strcmp(v, "yes") != 0)
		finding(&k, "warning", NULL, "smtpd_tls_received_header = %s: the Received header will not show the "
		                             "TLS version and cipher of submissions", v);
	/* Every smtpd service that offers AUTH is a submission service. */
	for (char *line = k.services; line && *line;) {
		char *eol = strchr(line, '\n'), name[128], type[32], cmd[64];
		char *f[8];
		int n = 0;

		if (eol)
			*eol = '\0';
		{
			char tmp[1024];
			char *save = NULL;
			snprintf(tmp, sizeof(tmp), "%s", line);
			for (char *t = strtok_r(tmp, " \t", &save); t && n < 8; t = strtok_r(NULL, " \t", &save))
				f[n++] = t;
			if (n >= 8) {
				snprintf(name, sizeof(name), "%s", f[0]);
				snprintf(type, sizeof(type), "%s", f[1]);
				snprintf(cmd, sizeof(cmd), "%s", f[7]);
			} else {
				name[0] = '\0';
			}
		}
		if (name[0] && !strcmp(type, "inet") && !strcmp(cmd, "smtpd")) {
			char svc[200], auth[16];
			snprintf(svc, sizeof(svc), "%s/%s", name, type);
			service_value(&k, svc, "smtpd_sasl_auth_enable", auth, sizeof(auth));
			if (!strcmp(auth, "yes")) {
				nsub++;
				check_submission(&k, svc);
			}
		}
		if (eol)
			*eol = '\n'; /* the text is read again below */
		line = eol ? eol + 1 : NULL;
	}
	if (nsub == 0)
		finding(&k, "error", NULL, "no smtpd service in master.cf offers AUTH (smtpd_sasl_auth_enable=yes): "
		                           "no submission service uses postern-hookd");
	for (size_t i = 0; i < NTRANSPORTS; i++)
		check_transport(&k, &transports[i]);
	check_smtp_client(&k, "smtp/unix", DEFAULT_MAP);
	/* The default transport's level: with tlspolicy_postfix_dane the
	 * tls-policy map answers NOTFOUND for a DANE domain without an
	 * enforced MTA-STS policy, and only Postfix's dane level does DANE. */
	service_value(&k, "smtp/unix", "smtp_tls_security_level", v, sizeof(v));
	if (strcmp(v, DEFAULT_LEVEL) != 0 && k.postfix_dane)
		finding(&k, "warning", "smtp/unix", "smtp_tls_security_level is '%s', not " DEFAULT_LEVEL ", while "
		        "postern-hookd's tlspolicy_postfix_dane is yes (%s%s): the tls-policy map leaves DANE to "
		        "Postfix's dane level, so mail to a DNSSEC-signed domain with TLSA records and no MTA-STS "
		        "policy goes without DANE authentication; set smtp_tls_security_level = " DEFAULT_LEVEL
		        " (postern postfix-config does), or tlspolicy_postfix_dane = no", v[0] ? v : "(unset)",
		        k.hookd_file ? "in " : "the default; ", k.hookd_file ? k.hookd_file : "no --hookd-config");
	main_value(&k, "smtp_dns_support_level", v, sizeof(v));
	if (strcmp(v, "dnssec") != 0)
		finding(&k, "error", NULL, "smtp_dns_support_level = %s: DANE needs dnssec (Postfix ignores TLSA "
		                           "records otherwise; the resolver in /etc/resolv.conf must validate DNSSEC)",
		        v[0] ? v : "(default)");
	main_value(&k, "smtp_tls_loglevel", v, sizeof(v));
	if (strcmp(v, "0") == 0)
		finding(&k, "warning", NULL, "smtp_tls_loglevel = 0: delivery events lose the TLS version and cipher "
		                             "(postern-hookd reads them from the log; set 1)");
	if (c->json) {
		r = cli_json(c, json_pack("{s:s, s:i, s:i, s:o}", "config_directory", dir, "errors", k.errors, "warnings",
		                          k.warnings, "findings", k.findings));
		k.findings = NULL;
	} else {
		printf("%s: %d error(s), %d warning(s)\n", dir, k.errors, k.warnings);
		r = 0;
	}
	if (r == 0 && k.errors)
		r = CLI_NO;
out:
	json_decref(k.findings);
	free(k.main_n);
	free(k.services);
	free(k.params);
	return r;
}

static const cli_cmd config_cmds[] = {
	{NULL, "[--hookd inet:HOST:PORT|unix:DIR] [--apply CONFIG_DIR]",
	 "print (or apply with postconf) the main.cf and master.cf lines Postern needs",
	 "postfix-config --hookd inet:127.0.0.1:10035 --apply /etc/postfix", cmd_postfix_config, CLI_F_NODB,
	 "--hookd= --apply=", {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

static const cli_cmd check_cmds[] = {
	{NULL, "[--config-dir DIR] [--hookd-config FILE]",
	 "report what is missing or misplaced in a live Postfix configuration (exit 1 on errors)",
	 "postfix-check --config-dir /etc/postfix", cmd_postfix_check, CLI_F_NODB | CLI_F_CHECK,
	 "--config-dir= --hookd-config=",
	 {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
	{NULL, NULL, NULL, NULL, NULL, 0, NULL, {CLI_ARG_NONE, CLI_ARG_NONE, CLI_ARG_NONE}},
};

const cli_group cli_group_postfix_config = {"postfix-config", "Postfix integration", config_cmds};
const cli_group cli_group_postfix_check = {"postfix-check", "Postfix integration", check_cmds};
