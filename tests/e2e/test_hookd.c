/*
 * postern-hookd driven over its real sockets (unix and loopback TCP)
 * with a real database: the Dovecot SASL handshake and PLAIN/LOGIN
 * logins, every kind of refused key with its audit record, changes made
 * through another handle taking effect on the next request, the policy
 * service's routes and its per-message memo, a store that becomes
 * unavailable (temporary failures only), malformed input, SIGHUP and
 * SIGTERM, the idle timeout, -t / -T, and the Postfix log follower
 * (maillog_file) across a rotation and a SIGKILL, and its pruning of old
 * events (event_retention).  The daemon is the built binary (HOOKD_BIN),
 * optionally under a wrapper such as valgrind (HOOKD_WRAPPER).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "maillog_follow.h"
#include "testutil.h"

typedef struct env {
	char dir[256];
	char db[300];
	char conf[300];
	char policy[300];
	char log[300];
	int port; /* the inet auth listener */
	pid_t pid;
	acct_db *h; /* the administrator's handle */
	char key_a[ACCT_KEY_MAX + 1];
	char id_a[ACCT_KEY_ID_MAX + 1];
} env;

static int64_t real_clock(void *ctx)
{
	return (int64_t)time(NULL) + *(int64_t *)ctx;
}
static int64_t clock_offset;

static int free_port(void)
{
	struct sockaddr_in sin = {0};
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	assert_true(fd >= 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sun = {0};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_inet(int port)
{
	struct sockaddr_in sin = {0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(fd, s, n);
		assert_true(w > 0);
		s += w;
		n -= (size_t)w;
	}
}

/* Read until `end` has arrived (or EOF: returns -1); buf gets all. */
static int read_until(int fd, char *buf, size_t cap, const char *end)
{
	size_t len = 0;

	buf[0] = '\0';
	while (strstr(buf, end) == NULL) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;

		/* Generous: valgrind is slow.  A hang fails rather than blocks. */
		if (poll(&p, 1, 60000) != 1)
			fail_msg("no answer from postern-hookd (have: %s)", buf);
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if (len == cap - 1)
			fail_msg("answer too long");
	}
	return 0;
}

static void write_conf(env *e, const char *extra)
{
	FILE *f = fopen(e->conf, "w");

	assert_non_null(f);
	fprintf(f,
	        "# test configuration\ndatabase = %s\nkey_file = %s/master.key\nauth_listen = inet:127.0.0.1:%d\n"
	        "policy_listen = unix:%s\nuser = nobody\n%s",
	        e->db, e->dir, e->port, e->policy, extra);
	fclose(f);
}

static void start_daemon(env *e)
{
	const char *wrapper = getenv("HOOKD_WRAPPER");
	int fd = -1;

	e->pid = fork();
	assert_true(e->pid >= 0);
	if (e->pid == 0) {
		int lf = open(e->log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		dup2(lf, 2);
		if (wrapper && *wrapper)
			execl("/bin/sh", "sh", "-c", "exec $HOOKD_WRAPPER \"$@\"", "sh", HOOKD_BIN, "-f", "-d", "-c",
			      e->conf, (char *)NULL);
		else
			execl(HOOKD_BIN, HOOKD_BIN, "-f", "-d", "-c", e->conf, (char *)NULL);
		_exit(127);
	}
	/* Ready when both listeners answer. */
	for (int i = 0; i < 600 && fd < 0; i++) {
		int st;

		assert_int_equal(waitpid(e->pid, &st, WNOHANG), 0);
		fd = connect_unix(e->policy);
		if (fd < 0)
			usleep(50000);
	}
	assert_true(fd >= 0);
	close(fd);
}

static int stop_daemon(env *e)
{
	int st;

	if (e->pid <= 0)
		return -1;
	kill(e->pid, SIGTERM);
	assert_int_equal(waitpid(e->pid, &st, 0), e->pid);
	e->pid = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int setup(void **state)
{
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	env *e = calloc(1, sizeof(*e));
	acct_tls tls = {ACCT_TLS_ENFORCED, 0, 12};

	assert_non_null(e);
	tmpdir_make(e->dir, sizeof(e->dir));
	chmod(e->dir, 0755);
	snprintf(e->db, sizeof(e->db), "%s/postern.db", e->dir);
	snprintf(e->conf, sizeof(e->conf), "%s/hookd.conf", e->dir);
	snprintf(e->policy, sizeof(e->policy), "%s/policy", e->dir);
	snprintf(e->log, sizeof(e->log), "%s/hookd.log", e->dir);
	e->port = free_port();
	o.actor = "test";
	o.clock = real_clock;
	o.clock_ctx = &clock_offset;
	assert_int_equal(acct_open(&e->h, e->db, &o), ACCT_OK);
	assert_int_equal(acct_account_add(e->h, "alpha", NULL), ACCT_OK);
	assert_int_equal(acct_account_add(e->h, "beta", NULL), ACCT_OK);
	assert_int_equal(acct_tls_set(e->h, "beta", &tls), ACCT_OK);
	assert_int_equal(acct_ip_add(e->h, "beta", "127.0.0.0/8", "loopback"), ACCT_OK);
	assert_int_equal(acct_apikey_add(NULL, e->key_a, e->h, "alpha", "test", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	memcpy(e->id_a, e->key_a + 5, ACCT_KEY_ID_MAX);
	/* As root the daemon drops to nobody, who must be able to use the store. */
	if (geteuid() == 0) {
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "chown -R nobody %s", e->dir);
		assert_int_equal(system(cmd), 0);
	}
	write_conf(e, "");
	start_daemon(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	env *e = *state;

	if (e->pid > 0)
		assert_int_equal(stop_daemon(e), 0);
	acct_close(e->h);
	if (getenv("HOOKD_KEEP") == NULL)
		tmpdir_remove(e->dir);
	free(e);
	return 0;
}

/* ---- SASL helpers ---- */

static int auth_connect(env *e, int inet)
{
	char buf[4096];
	int fd = connect_inet(e->port);

	(void)inet;

	assert_true(fd >= 0);
	send_all(fd, "VERSION\t1\t0\nCPID\t4242\n");
	assert_int_equal(read_until(fd, buf, sizeof(buf), "DONE\n"), 0);
	return fd;
}

static void b64(char *out, size_t cap, const char *a, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned w = (unsigned)(unsigned char)a[i] << 16;
		if (i + 1 < n)
			w |= (unsigned)(unsigned char)a[i + 1] << 8;
		if (i + 2 < n)
			w |= (unsigned char)a[i + 2];
		assert_true(o + 5 < cap);
		out[o++] = t[(w >> 18) & 63];
		out[o++] = t[(w >> 12) & 63];
		out[o++] = i + 1 < n ? t[(w >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? t[w & 63] : '=';
	}
	out[o] = '\0';
}

static unsigned long next_id = 1;

/* One PLAIN login; returns the server's answer line ("" on a closed connection). */
static const char *plain(int fd, const char *user, const char *pass, const char *rip, char *buf, size_t cap)
{
	char msg[512], enc[800], req[1200];
	size_t ul = strlen(user), pl = strlen(pass);

	msg[0] = '\0';
	memcpy(msg + 1, user, ul);
	msg[1 + ul] = '\0';
	memcpy(msg + 2 + ul, pass, pl);
	b64(enc, sizeof(enc), msg, 2 + ul + pl);
	snprintf(req, sizeof(req), "AUTH\t%lu\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=%s\tsecured\tresp=%s\n",
	         next_id++, rip, enc);
	send_all(fd, req);
	if (read_until(fd, buf, cap, "\n") != 0)
		return "";
	return buf;
}

static void expect_ok(int fd, const char *key, const char *rip, const char *account)
{
	char buf[512], want[128];

	snprintf(want, sizeof(want), "OK\t%lu\tuser=%s\n", next_id, account);
	assert_string_equal(plain(fd, "apikey", key, rip, buf, sizeof(buf)), want);
}

static void expect_fail(int fd, const char *user, const char *key, const char *rip)
{
	char buf[512], want[128];

	snprintf(want, sizeof(want), "FAIL\t%lu\treason=Invalid credentials\n", next_id);
	assert_string_equal(plain(fd, user, key, rip, buf, sizeof(buf)), want);
}

static const char *last_deny(env *e, char *buf, size_t len)
{
	return audit_last_detail(e->h, "auth.deny", buf, len);
}

static void test_handshake(void **state)
{
	env *e = *state;
	char buf[4096], *mech, *spid;
	int fd = connect_inet(e->port);

	assert_true(fd >= 0);
	send_all(fd, "VERSION\t1\t0\nCPID\t77\n");
	assert_int_equal(read_until(fd, buf, sizeof(buf), "DONE\n"), 0);
	assert_true(strncmp(buf, "VERSION\t1\t", 10) == 0);
	mech = strstr(buf, "MECH\tPLAIN\tplaintext\n");
	spid = strstr(buf, "SPID\t");
	assert_non_null(mech);
	assert_non_null(strstr(buf, "MECH\tLOGIN\tplaintext\n"));
	assert_non_null(spid);
	assert_true(mech < spid); /* Postfix needs the mechanisms before SPID */
	close(fd);
}

static void test_plain_and_login(void **state)
{
	env *e = *state;
	char buf[512], enc[256], req[512];
	int fd = auth_connect(e, 0), fi = auth_connect(e, 1);

	expect_ok(fd, e->key_a, "127.0.0.1", "alpha");
	expect_ok(fi, e->key_a, "192.0.2.7", "alpha"); /* alpha has no allowlist: any address */
	/* Username case does not matter for "apikey". */
	snprintf(req, sizeof(req), "OK\t%lu\tuser=alpha\n", next_id);
	assert_string_equal(plain(fd, "APIKEY", e->key_a, "127.0.0.1", buf, sizeof(buf)), req);

	/* LOGIN: two CONT rounds, each CONT carrying a data field. */
	snprintf(req, sizeof(req), "AUTH\t%lu\tLOGIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\n",
	         next_id);
	send_all(fd, req);
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n"), 0);
	snprintf(req, sizeof(req), "CONT\t%lu\tVXNlcm5hbWU6\n", next_id);
	assert_string_equal(buf, req);
	b64(enc, sizeof(enc), "apikey", 6);
	snprintf(req, sizeof(req), "CONT\t%lu\t%s\n", next_id, enc);
	send_all(fd, req);
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n"), 0);
	snprintf(req, sizeof(req), "CONT\t%lu\tUGFzc3dvcmQ6\n", next_id);
	assert_string_equal(buf, req);
	b64(enc, sizeof(enc), e->key_a, strlen(e->key_a));
	snprintf(req, sizeof(req), "CONT\t%lu\t%s\n", next_id, enc);
	send_all(fd, req);
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n"), 0);
	snprintf(req, sizeof(req), "OK\t%lu\tuser=alpha\n", next_id);
	assert_string_equal(buf, req);
	next_id++;

	/* LOGIN with the username as initial response. */
	b64(enc, sizeof(enc), "apikey", 6);
	snprintf(req, sizeof(req), "AUTH\t%lu\tLOGIN\tservice=smtp\trip=127.0.0.1\tresp=%s\n", next_id, enc);
	send_all(fd, req);
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n"), 0);
	snprintf(req, sizeof(req), "CONT\t%lu\tUGFzc3dvcmQ6\n", next_id);
	assert_string_equal(buf, req);
	b64(enc, sizeof(enc), "pstn_wrong", 10);
	snprintf(req, sizeof(req), "CONT\t%lu\t%s\n", next_id, enc);
	send_all(fd, req);
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n"), 0);
	snprintf(req, sizeof(req), "FAIL\t%lu\treason=Invalid credentials\n", next_id);
	assert_string_equal(buf, req);
	next_id++;

	/* PLAIN without an initial response: an empty CONT first. */
	snprintf(req, sizeof(req), "AUTH\t%lu\tPLAIN\tservice=smtp\trip=127.0.0.1\n", next_id);
	send_all(fd, req);
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n"), 0);
	snprintf(req, sizeof(req), "CONT\t%lu\t\n", next_id);
	assert_string_equal(buf, req);
	{
		char msg[128];
		size_t kl = strlen(e->key_a);

		memcpy(msg, "\0apikey\0", 8);
		memcpy(msg + 8, e->key_a, kl);
		b64(enc, sizeof(enc), msg, 8 + kl);
	}
	snprintf(req, sizeof(req), "CONT\t%lu\t%s\n", next_id, enc);
	send_all(fd, req);
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n"), 0);
	snprintf(req, sizeof(req), "OK\t%lu\tuser=alpha\n", next_id);
	assert_string_equal(buf, req);
	next_id++;

	/* Other mechanisms are refused by name. */
	snprintf(req, sizeof(req), "AUTH\t%lu\tCRAM-MD5\tservice=smtp\n", next_id);
	send_all(fd, req);
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n"), 0);
	snprintf(req, sizeof(req), "FAIL\t%lu\treason=Unsupported authentication mechanism\n", next_id++);
	assert_string_equal(buf, req);
	assert_int_equal(audit_count(e->h, "auth.deny", NULL), 1); /* only the wrong key above */
	close(fd);
	close(fi);
}

static void test_refused_keys(void **state)
{
	env *e = *state;
	char buf[512], key[ACCT_KEY_MAX + 1], revoked[ACCT_KEY_MAX + 1], expiring[ACCT_KEY_MAX + 1];
	char noscope[ACCT_KEY_MAX + 1];
	int fd = auth_connect(e, 0);
	size_t kl = strlen(e->key_a);

	/* Mistyped: one character of the secret changed, so the checksum fails. */
	memcpy(key, e->key_a, kl + 1);
	key[kl - 8] = key[kl - 8] == 'a' ? 'b' : 'a';
	expect_fail(fd, "apikey", key, "127.0.0.1");
	assert_string_equal(last_deny(e, buf, sizeof(buf)), "bad_checksum");
	expect_fail(fd, "apikey", "pstn_AAAAAAAAAAAA_notakey", "127.0.0.1");
	assert_string_equal(last_deny(e, buf, sizeof(buf)), "malformed_key");

	assert_int_equal(acct_apikey_add(NULL, noscope, e->h, "alpha", "read", ACCT_SCOPE_KEYS_READ, 0), ACCT_OK);
	expect_fail(fd, "apikey", noscope, "127.0.0.1");
	assert_string_equal(last_deny(e, buf, sizeof(buf)), "missing_scope");

	/* A key that expires in 2 s (handle clock), checked after it did. */
	assert_int_equal(acct_apikey_add(NULL, expiring, e->h, "alpha", "short", ACCT_SCOPE_MAIL_SEND,
	                                 (int64_t)time(NULL) + 2), ACCT_OK);
	expect_ok(fd, expiring, "127.0.0.1", "alpha");
	sleep(3);
	expect_fail(fd, "apikey", expiring, "127.0.0.1");
	assert_string_equal(last_deny(e, buf, sizeof(buf)), "expired");

	/* Revoked while the daemon runs: refused on the very next AUTH. */
	assert_int_equal(acct_apikey_add(NULL, revoked, e->h, "alpha", "r", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	expect_ok(fd, revoked, "127.0.0.1", "alpha");
	expect_ok(fd, revoked, "127.0.0.1", "alpha");
	{
		char id[ACCT_KEY_ID_MAX + 1];
		memcpy(id, revoked + 5, ACCT_KEY_ID_MAX);
		id[ACCT_KEY_ID_MAX] = '\0';
		assert_int_equal(acct_apikey_revoke(e->h, id), ACCT_OK);
	}
	expect_fail(fd, "apikey", revoked, "127.0.0.1");
	assert_string_equal(last_deny(e, buf, sizeof(buf)), "revoked");

	/* Disabled account, then enabled again: each on the next AUTH. */
	expect_ok(fd, e->key_a, "127.0.0.1", "alpha");
	assert_int_equal(acct_account_set_flag(e->h, "alpha", ACCT_ACCOUNT_DISABLED, 1), ACCT_OK);
	expect_fail(fd, "apikey", e->key_a, "127.0.0.1");
	assert_string_equal(last_deny(e, buf, sizeof(buf)), "account_disabled");
	assert_int_equal(acct_account_set_flag(e->h, "alpha", ACCT_ACCOUNT_DISABLED, 0), ACCT_OK);
	expect_ok(fd, e->key_a, "127.0.0.1", "alpha");

	/* A password login for an account that does not allow them. */
	assert_int_equal(acct_user_add(e->h, "alpha", "u@example.com", "a long password here"), ACCT_OK);
	expect_fail(fd, "u@example.com", "a long password here", "127.0.0.1");
	assert_string_equal(last_deny(e, buf, sizeof(buf)), "password_auth_off");
	/* Secrets never reach the log. */
	assert_false(file_contains(e->log, e->key_a + 18, 20));
	assert_false(file_contains(e->log, "a long password", 15));
	close(fd);
}

static void test_allowlist(void **state)
{
	env *e = *state;
	char buf[512], key[ACCT_KEY_MAX + 1];
	int fd = auth_connect(e, 0);

	assert_int_equal(acct_apikey_add(NULL, key, e->h, "beta", "b", ACCT_SCOPE_MAIL_SEND, 0), ACCT_OK);
	expect_ok(fd, key, "127.0.0.9", "beta");
	expect_fail(fd, "apikey", key, "192.0.2.1");
	assert_string_equal(last_deny(e, buf, sizeof(buf)), "ip_not_allowed");
	/* Removing the network takes effect on the next AUTH. */
	assert_int_equal(acct_ip_add(e->h, "beta", "192.0.2.0/24", NULL), ACCT_OK);
	expect_ok(fd, key, "192.0.2.1", "beta");
	assert_int_equal(acct_ip_del(e->h, "beta", "192.0.2.0/24"), ACCT_OK);
	expect_fail(fd, "apikey", key, "192.0.2.1");
	close(fd);
}

/* ---- policy helpers ---- */

static const char *policy(int fd, const char *user, const char *addr, const char *instance, char *buf, size_t cap)
{
	char req[2048];

	snprintf(req, sizeof(req),
	         "request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nclient_address=%s\n"
	         "client_name=localhost\nhelo_name=client.test\nsender=a@example.com\nrecipient=r@dest.test\n"
	         "queue_id=\ninstance=%s\nsize=0\nsasl_method=%s\nsasl_username=%s\nsasl_sender=\n"
	         "encryption_protocol=TLSv1.3\nencryption_cipher=TLS_AES_256_GCM_SHA384\n\n",
	         addr, instance, *user ? "PLAIN" : "", user);
	send_all(fd, req);
	if (read_until(fd, buf, cap, "\n\n") != 0)
		return "";
	return buf;
}

static void test_policy(void **state)
{
	env *e = *state;
	char buf[1024];
	acct_tls t;
	int fd = connect_unix(e->policy);

	assert_true(fd >= 0);
	assert_string_equal(policy(fd, "", "127.0.0.1", "i1", buf, sizeof(buf)), "action=DUNNO\n\n");
	assert_string_equal(policy(fd, "alpha", "127.0.0.1", "i2", buf, sizeof(buf)), "action=DUNNO\n\n");
	assert_string_equal(policy(fd, "beta", "127.0.0.1", "i3", buf, sizeof(buf)),
	                    "action=FILTER postern-tls-encrypt:\n\n");
	/* Same message, second recipient: same route. */
	assert_string_equal(policy(fd, "beta", "127.0.0.1", "i3", buf, sizeof(buf)),
	                    "action=FILTER postern-tls-encrypt:\n\n");
	/* The settings change mid-message: the later recipient is deferred. */
	t = (acct_tls){ACCT_TLS_ENFORCED, 1, 13};
	assert_int_equal(acct_tls_set(e->h, "beta", &t), ACCT_OK);
	assert_true(strncmp(policy(fd, "beta", "127.0.0.1", "i3", buf, sizeof(buf)), "action=452 4.5.3 ", 17) == 0);
	assert_string_equal(policy(fd, "beta", "127.0.0.1", "i4", buf, sizeof(buf)),
	                    "action=FILTER postern-tls13-verify:\n\n");
	t = (acct_tls){ACCT_TLS_ENFORCED, 1, 12};
	assert_int_equal(acct_tls_set(e->h, "beta", &t), ACCT_OK);
	assert_string_equal(policy(fd, "beta", "127.0.0.1", "i5", buf, sizeof(buf)),
	                    "action=FILTER postern-tls-verify:\n\n");
	t = (acct_tls){ACCT_TLS_ENFORCED, 0, 13};
	assert_int_equal(acct_tls_set(e->h, "beta", &t), ACCT_OK);
	assert_string_equal(policy(fd, "beta", "127.0.0.1", "i6", buf, sizeof(buf)),
	                    "action=FILTER postern-tls13-encrypt:\n\n");
	t = (acct_tls){ACCT_TLS_NONE, 0, 12};
	assert_int_equal(acct_tls_set(e->h, "beta", &t), ACCT_OK);
	assert_string_equal(policy(fd, "beta", "127.0.0.1", "i7", buf, sizeof(buf)), "action=FILTER postern-notls:\n\n");
	/* Address outside the allowlist, disabled account, unknown account. */
	assert_true(strncmp(policy(fd, "beta", "192.0.2.1", "i8", buf, sizeof(buf)), "action=REJECT 5.7.1 ", 20) == 0);
	assert_int_equal(audit_count(e->h, "rcpt.deny", "beta"), 1);
	assert_int_equal(acct_account_set_flag(e->h, "alpha", ACCT_ACCOUNT_DISABLED, 1), ACCT_OK);
	assert_true(strncmp(policy(fd, "alpha", "127.0.0.1", "i9", buf, sizeof(buf)), "action=REJECT 5.7.1 ", 20) == 0);
	assert_true(strncmp(policy(fd, "gone", "127.0.0.1", "i10", buf, sizeof(buf)), "action=REJECT 5.7.1 ", 20) == 0);
	/* Several requests in one write are answered in order. */
	send_all(fd, "request=smtpd_access_policy\ninstance=x\n\nrequest=smtpd_access_policy\n"
	             "sasl_username=beta\nclient_address=127.0.0.1\ninstance=y\n\n");
	assert_int_equal(read_until(fd, buf, sizeof(buf), "notls:\n\n"), 0);
	assert_string_equal(buf, "action=DUNNO\n\naction=FILTER postern-notls:\n\n");
	close(fd);
}

static void test_malformed(void **state)
{
	env *e = *state;
	char buf[1024], *big;
	int fd;

	/* Each malformed request closes its connection; the daemon lives on. */
	fd = connect_unix(e->policy);
	send_all(fd, "request=smtpd_access_policy\nthis is not an attribute\n\n");
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n\n"), -1);
	close(fd);
	fd = connect_unix(e->policy);
	send_all(fd, "request=smtpd_access_policy\nsasl_username=a\nsasl_username=b\n\n");
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n\n"), -1);
	close(fd);
	big = malloc(70000);
	assert_non_null(big);
	memset(big, 'a', 69999);
	big[69999] = '\0';
	fd = connect_unix(e->policy);
	send_all(fd, "request=smtpd_access_policy\nx=");
	(void)!write(fd, big, 69999); /* the daemon closes part-way */
	assert_int_equal(read_until(fd, buf, sizeof(buf), "\n\n"), -1);
	close(fd);
	fd = connect_inet(e->port);
	send_all(fd, "VERSION\t1\t0\n");
	(void)!write(fd, big, 20000);
	assert_int_equal(read_until(fd, buf, sizeof(buf), "never"), -1);
	close(fd);
	free(big);
	fd = connect_inet(e->port);
	send_all(fd, "VERSION\t2\t0\n");
	assert_int_equal(read_until(fd, buf, sizeof(buf), "never"), -1);
	close(fd);
	/* AUTH before VERSION. */
	fd = connect_inet(e->port);
	send_all(fd, "AUTH\t1\tPLAIN\tresp=AGFwaWtleQBh\n");
	assert_int_equal(read_until(fd, buf, sizeof(buf), "never"), -1);
	close(fd);
	/* Bad base64 and a PLAIN response without separators are refused, not fatal. */
	fd = auth_connect(e, 0);
	send_all(fd, "AUTH\t9\tPLAIN\tresp=!!!!\nAUTH\t10\tPLAIN\tresp=YWJj\n");
	assert_int_equal(read_until(fd, buf, sizeof(buf), "FAIL\t10"), 0);
	assert_non_null(strstr(buf, "FAIL\t9\treason=Invalid credentials\n"));
	expect_ok(fd, e->key_a, "127.0.0.1", "alpha");
	close(fd);
}

static void rename_db(const char *from, const char *to)
{
	static const char *const sfx[] = {"", "-wal", "-shm"};
	char a[400], b[400];

	for (int i = 0; i < 3; i++) {
		snprintf(a, sizeof(a), "%s%s", from, sfx[i]);
		snprintf(b, sizeof(b), "%s%s", to, sfx[i]);
		if (rename(a, b) != 0)
			assert_int_equal(errno, ENOENT);
	}
}

static void test_store_unavailable(void **state)
{
	env *e = *state;
	char buf[1024], away[400], wal[420];
	int fd = auth_connect(e, 0), pfd = connect_unix(e->policy);
	FILE *f;

	expect_ok(fd, e->key_a, "127.0.0.1", "alpha");
	assert_string_equal(policy(pfd, "beta", "127.0.0.1", "u0", buf, sizeof(buf)), "action=FILTER postern-tls-encrypt:\n\n");
	acct_close(e->h);
	e->h = NULL;
	/* Everything into the main file, so that moving it back restores all. */
	snprintf(buf, sizeof(buf), "sqlite3 %s 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null", e->db);
	assert_int_equal(system(buf), 0);
	/* The database goes away (with its WAL): temporary failures only.
	 * AUTH: the connection is dropped (Postfix: 454 4.7.0), never FAIL. */
	snprintf(away, sizeof(away), "%s.away", e->db);
	rename_db(e->db, away);
	assert_string_equal(plain(fd, "apikey", e->key_a, "127.0.0.1", buf, sizeof(buf)), "");
	close(fd);
	/* Policy: DEFER_IF_PERMIT with a 4.3.x text; unauthenticated: DUNNO. */
	assert_true(strncmp(policy(pfd, "beta", "127.0.0.1", "u1", buf, sizeof(buf)), "action=DEFER_IF_PERMIT 4.3.", 27) == 0);
	assert_string_equal(policy(pfd, "", "127.0.0.1", "u2", buf, sizeof(buf)), "action=DUNNO\n\n");
	/* Replaced by a file that is not a database: the same. */
	f = fopen(e->db, "w");
	assert_non_null(f);
	for (int i = 0; i < 100; i++)
		fputs("this is not a database, it is a plain text file\n", f);
	fclose(f);
	if (geteuid() == 0)
		assert_int_equal(chown(e->db, 65534, (gid_t)-1), 0);
	sleep(2); /* past the one-second retry pause */
	fd = auth_connect(e, 0);
	assert_string_equal(plain(fd, "apikey", e->key_a, "127.0.0.1", buf, sizeof(buf)), "");
	close(fd);
	assert_true(strncmp(policy(pfd, "beta", "127.0.0.1", "u3", buf, sizeof(buf)), "action=DEFER_IF_PERMIT 4.3.", 27) == 0);
	/* Restored: service resumes without a restart. */
	assert_int_equal(unlink(e->db), 0);
	snprintf(wal, sizeof(wal), "%s-wal", away);
	unlink(wal);
	snprintf(wal, sizeof(wal), "%s-shm", away);
	unlink(wal);
	rename_db(away, e->db);
	sleep(2);
	fd = auth_connect(e, 0);
	expect_ok(fd, e->key_a, "127.0.0.1", "alpha");
	assert_string_equal(policy(pfd, "beta", "127.0.0.1", "u4", buf, sizeof(buf)), "action=FILTER postern-tls-encrypt:\n\n");
	assert_true(file_contains(e->log, "was replaced or removed", 23));
	close(fd);
	close(pfd);
}

static void test_reload_and_stop(void **state)
{
	env *e = *state;
	char buf[1024];
	int fd = connect_unix(e->policy), afd = auth_connect(e, 0);

	assert_string_equal(policy(fd, "beta", "127.0.0.1", "r1", buf, sizeof(buf)), "action=FILTER postern-tls-encrypt:\n\n");
	write_conf(e, "transport_encrypt = custom-encrypt\n");
	kill(e->pid, SIGHUP);
	/* The reload happens between requests: poll until the new name shows. */
	for (int i = 0; i < 200; i++) {
		char inst[16];
		snprintf(inst, sizeof(inst), "r%d", i + 2);
		if (strcmp(policy(fd, "beta", "127.0.0.1", inst, buf, sizeof(buf)), "action=FILTER custom-encrypt:\n\n") == 0)
			break;
		usleep(50000);
	}
	assert_string_equal(buf, "action=FILTER custom-encrypt:\n\n");
	/* A broken configuration on reload keeps the running one. */
	write_conf(e, "transport_encrypt = Not A Name\n");
	kill(e->pid, SIGHUP);
	usleep(300000);
	assert_string_equal(policy(fd, "beta", "127.0.0.1", "z", buf, sizeof(buf)), "action=FILTER custom-encrypt:\n\n");
	expect_ok(afd, e->key_a, "127.0.0.1", "alpha");
	/* SIGTERM: clean exit with open connections. */
	assert_int_equal(stop_daemon(e), 0);
	assert_true(file_contains(e->log, "reload: ", 8));
	close(fd);
	close(afd);
}

/* idle_timeout: a connection idle for longer is closed by the daemon,
 * one in use all along is not. */
static void test_idle_timeout(void **state)
{
	env *e = *state;
	struct pollfd pfd;
	char buf[64];
	time_t t0;
	int idle, active, closed = 0;

	assert_int_equal(stop_daemon(e), 0);
	write_conf(e, "idle_timeout = 5\n"); /* the smallest accepted */
	start_daemon(e);
	idle = auth_connect(e, 1);
	active = auth_connect(e, 1);
	t0 = time(NULL);
	for (int i = 0; i < 12 && !closed; i++) {
		expect_ok(active, e->key_a, "127.0.0.1", "alpha");
		pfd.fd = idle;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 1000) == 1) {
			assert_int_equal(read(idle, buf, sizeof(buf)), 0); /* closed, nothing said */
			closed = 1;
		}
	}
	assert_true(closed);
	assert_true(time(NULL) - t0 >= 5);
	expect_ok(active, e->key_a, "127.0.0.1", "alpha");
	close(idle);
	close(active);
}

/* ---- the Postfix log follower (maillog_file) ---- */

#define EV_MAX 64
typedef struct evset {
	int n;
	char row[EV_MAX][256];
} evset;

static int collect_one(const acct_event *ev, void *ctx)
{
	evset *s = ctx;

	if (s->n == EV_MAX)
		return 1;
	snprintf(s->row[s->n++], sizeof(s->row[0]), "%lld %s %s %s %d %s", (long long)ev->time, ev->queue_id,
	         ev->account, ev->recipient, (int)ev->type, ev->dsn ? ev->dsn : "-");
	return 0;
}

static int cmp_row(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void collect(acct_db *db, evset *s)
{
	acct_event_query q = {0};

	memset(s, 0, sizeof(*s));
	assert_int_equal(acct_event_foreach(db, &q, collect_one, s), ACCT_OK);
	qsort(s->row, (size_t)s->n, sizeof(s->row[0]), cmp_row);
}

/* The recorded log's lines [from, to] (1-based) appended to `path`;
 * `partial` leaves the last one without its newline, `rest` writes
 * only what a previous partial call left out. */
static void append_lines(const char *path, int from, int to, int partial, int rest)
{
	FILE *in = fopen(MAILLOG_IN, "r"), *out = fopen(path, "a");
	char line[2048];
	int no = 0;

	assert_non_null(in);
	assert_non_null(out);
	while (fgets(line, sizeof(line), in) != NULL) {
		size_t len = strlen(line);

		if (++no < from || no > to)
			continue;
		if (rest && no == from)
			fputs(line + len / 2, out);
		else if (partial && no == to)
			fwrite(line, 1, len / 2, out);
		else
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
}

/* Wait (bounded: valgrind is slow) until the follower's saved position
 * is the end of `path`, then return the events. */
static void wait_caught_up(env *e, const char *path, evset *s)
{
	for (int i = 0; i < 1200; i++) {
		struct stat sb;
		acct_log_pos pos;

		assert_int_equal(stat(path, &sb), 0);
		if (acct_logpos_get(e->h, path, &pos) == ACCT_OK && pos.inode == (int64_t)sb.st_ino &&
		    pos.offset == (int64_t)sb.st_size) {
			collect(e->h, s);
			return;
		}
		usleep(50000);
	}
	fail_msg("the daemon did not catch up with %s (see %s)", path, e->log);
}

static const char *const maillog_accounts[] = {"alice", "enforced", "verify", "t13"};

/* The reference: the whole recorded log in one straight pass. */
static void reference_events(env *e, evset *s)
{
	acct_open_options o = ACCT_OPEN_OPTIONS_INIT;
	mlf_options mo = MLF_OPTIONS_INIT;
	char db[300], log[300], err[256];
	acct_db *h;
	mlf *f;
	struct tm tm;
	time_t now = time(NULL);

	snprintf(db, sizeof(db), "%s/reference.db", e->dir);
	snprintf(log, sizeof(log), "%s/reference.log", e->dir);
	append_lines(log, 1, 100000, 0, 0);
	o.actor = "test";
	assert_int_equal(acct_open(&h, db, &o), ACCT_OK);
	for (size_t i = 0; i < sizeof(maillog_accounts) / sizeof(maillog_accounts[0]); i++)
		assert_int_equal(acct_account_add(h, maillog_accounts[i], NULL), ACCT_OK);
	assert_non_null(localtime_r(&now, &tm));
	mo.local_offset_min = (int)(tm.tm_gmtoff / 60);
	assert_int_equal(mlf_open(&f, h, log, &mo, err, sizeof(err)), ACCT_OK);
	assert_int_equal(mlf_poll(f, (int64_t)now), ACCT_OK);
	mlf_close(f);
	collect(h, s);
	acct_close(h);
}

static void test_maillog_follow(void **state)
{
	env *e = *state;
	char log[300], rotated[300], extra[400];
	evset got, ref;
	int st;

	snprintf(log, sizeof(log), "%s/maillog", e->dir);
	snprintf(rotated, sizeof(rotated), "%s/maillog.1", e->dir);
	for (size_t i = 0; i < sizeof(maillog_accounts) / sizeof(maillog_accounts[0]); i++)
		assert_int_equal(acct_account_add(e->h, maillog_accounts[i], NULL), ACCT_OK);
	reference_events(e, &ref);
	assert_int_equal(ref.n, 12); /* as tests/proto/test_maillog_follow.c finds */

	/* Retention off: the recording's dates must not age out. */
	snprintf(extra, sizeof(extra), "maillog_file = %s\nevent_retention = 0\n", log);
	assert_int_equal(stop_daemon(e), 0);
	write_conf(e, extra);
	append_lines(log, 1, 34, 0, 0); /* three of alice's messages, delivered */
	start_daemon(e);
	wait_caught_up(e, log, &got);
	assert_int_equal(got.n, 3);
	for (int i = 0; i < got.n; i++)
		assert_non_null(strstr(got.row[i], " alice "));

	/* Rotation: the old file gets a few last lines after the rename, the
	 * new one more, ending in half a line; SIGKILL while it reads. */
	assert_int_equal(rename(log, rotated), 0);
	append_lines(rotated, 35, 44, 0, 0);
	append_lines(log, 45, 80, 1, 0);
	kill(e->pid, SIGKILL);
	assert_int_equal(waitpid(e->pid, &st, 0), e->pid);
	e->pid = 0;
	append_lines(log, 80, 100000, 0, 1); /* the rest, from the half line on */
	if (geteuid() == 0) {
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "chown -R nobody %s", e->dir);
		assert_int_equal(system(cmd), 0);
	}
	start_daemon(e);
	wait_caught_up(e, log, &got);
	assert_int_equal(got.n, ref.n);
	for (int i = 0; i < ref.n; i++)
		assert_string_equal(got.row[i], ref.row[i]);

	/* SIGTERM closes the follower cleanly (valgrind); a restart adds nothing. */
	assert_int_equal(stop_daemon(e), 0);
	start_daemon(e);
	wait_caught_up(e, log, &got);
	assert_int_equal(got.n, ref.n);
}

static int count_audit(const acct_audit_entry *a, void *ctx)
{
	(void)a;
	(*(int *)ctx)++;
	return 0;
}

/* event_retention in the running daemon: an event older than the
 * retention is pruned by the follower, a recent one stays, and so does
 * the audit log of the same age. */
static void test_event_retention(void **state)
{
	env *e = *state;
	char log[300], extra[400];
	int64_t now = (int64_t)time(NULL), old = now - 3 * 86400;
	acct_event ev[2] = {{0}, {0}};
	acct_event_batch b = {0};
	acct_audit_query aq = {NULL, 0, old + 60, 0};
	evset got;
	int audits = 0;

	ev[0].time = ev[0].submitted_at = old;
	ev[0].queue_id = "AAAA00OLD1";
	ev[1].time = ev[1].submitted_at = now - 3600;
	ev[1].queue_id = "AAAA00NEW1";
	for (int i = 0; i < 2; i++) {
		ev[i].account = "alpha";
		ev[i].sender = "s@example.com";
		ev[i].recipient = "r@example.net";
		ev[i].type = ACCT_EVENT_DELIVERED;
		ev[i].dsn = "2.0.0";
	}
	b.events = ev;
	b.n_events = 2;
	assert_int_equal(acct_event_add(e->h, &b), ACCT_OK);
	clock_offset = -3 * 86400; /* an audit record as old as the old event */
	assert_int_equal(acct_audit_add(e->h, "test.old", "alpha", NULL, "kept", NULL), ACCT_OK);
	clock_offset = 0;
	assert_int_equal(acct_audit_foreach(e->h, &aq, count_audit, &audits), ACCT_OK);
	assert_int_equal(audits, 1);
	collect(e->h, &got);
	assert_int_equal(got.n, 2);

	snprintf(log, sizeof(log), "%s/maillog", e->dir);
	append_lines(log, 1, 1, 0, 0);
	snprintf(extra, sizeof(extra), "maillog_file = %s\nevent_retention = 1\n", log);
	assert_int_equal(stop_daemon(e), 0);
	write_conf(e, extra);
	if (geteuid() == 0) {
		char cmd[700];
		snprintf(cmd, sizeof(cmd), "chown -R nobody %s", e->dir);
		assert_int_equal(system(cmd), 0);
	}
	start_daemon(e);
	for (int i = 0; i < 1200; i++) {
		collect(e->h, &got);
		if (got.n < 2)
			break;
		usleep(50000);
	}
	assert_int_equal(got.n, 1);
	assert_non_null(strstr(got.row[0], " AAAA00NEW1 alpha "));
	audits = 0;
	assert_int_equal(acct_audit_foreach(e->h, &aq, count_audit, &audits), ACCT_OK);
	assert_int_equal(audits, 1);
}

static int run_cmd(const char *cmd, char *out, size_t cap)
{
	FILE *p = popen(cmd, "r");
	size_t n;
	int st;

	assert_non_null(p);
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_check_and_print(void **state)
{
	env *e = *state;
	char cmd[1024], out[16384];

	snprintf(cmd, sizeof(cmd), "%s -t -c %s 2>&1", HOOKD_BIN, e->conf);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), "%s -T -c %s -o idle_timeout=77 2>&1", HOOKD_BIN, e->conf);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "idle_timeout = 77\n"));
	assert_non_null(strstr(out, "user = nobody\n"));
	assert_non_null(strstr(out, "# the Postern database"));
	assert_non_null(strstr(out, "maillog_file = \n"));
	assert_non_null(strstr(out, "event_retention = 90\n"));
	snprintf(cmd, sizeof(cmd), "%s -t -c %s -o maillog_file=maillog 2>&1", HOOKD_BIN, e->conf);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 78);
	assert_non_null(strstr(out, "maillog_file: 'maillog' is not an absolute path (or empty for off)"));
	snprintf(cmd, sizeof(cmd), "%s -t -c %s -o event_retention=-1 2>&1", HOOKD_BIN, e->conf);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 78);
	write_conf(e, "idle_timeout = many\n");
	snprintf(cmd, sizeof(cmd), "%s -t -c %s 2>&1", HOOKD_BIN, e->conf);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 78);
	assert_non_null(strstr(out, "hookd.conf:7: idle_timeout: 'many' is not a number from 5 to 86400"));
	snprintf(cmd, sizeof(cmd), "%s -t -c %s/missing.conf 2>&1", HOOKD_BIN, e->dir);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 78);
	assert_non_null(strstr(out, "No such file"));
	snprintf(cmd, sizeof(cmd), "%s -x 2>&1", HOOKD_BIN);
	assert_int_equal(run_cmd(cmd, out, sizeof(out)), 64);
	write_conf(e, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_and_login, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allowlist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_and_print, setup, teardown),
		cmocka_unit_test_setup_teardown(test_maillog_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_retention, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
