/*
 * postern-hookd: enforces Postern's accounts inside Postfix.
 *
 *   postern-hookd [-f] [-d] [-c FILE] [-o name=value]... [-t | -T]
 *
 * Start-up in a fixed order: read the configuration (fatal on error),
 * bind the listeners while still privileged, drop to the configured
 * user (Postfix chroot_uid.c: group first, then supplementary groups,
 * then the user, then check that root cannot be regained), then serve.
 * SIGHUP re-reads the configuration (settings other than the listeners
 * and the user) and reopens the store; SIGUSR1 logs the TLS policy
 * service's statistics; SIGTERM and SIGINT stop
 * accepting, flush what is being answered, and exit.
 *
 * With maillog_file set, the Postfix log follower (maillog_follow.h)
 * runs on the loop's once-a-second tick, and in slices between requests
 * while it has a backlog (loop_set_work), on the daemon's store handle:
 * it is (re)opened whenever a new handle is (after a store failure, a
 * replaced file, or SIGHUP, which so also picks up a new path or
 * retention), and waits while the store cannot be opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hookd.h"
#include "io.h"
#include "log.h"
#include "maillog_follow.h"
#include "srv.h"
#include "srv_tlspolicy.h"

static void usage(void)
{
	fprintf(stderr, "usage: postern-hookd [-f] [-d] [-c FILE] [-o name=value]... [-t | -T]\n"
	                "  -c FILE   configuration file (default " HOOKD_DEFAULT_CONFIG ", if it exists)\n"
	                "  -o N=V    override one setting (may repeat)\n"
	                "  -f        stay in the foreground and log to stderr\n"
	                "  -d        debug logging (never secrets)\n"
	                "  -t        check the configuration and exit\n"
	                "  -T        print the effective configuration, documented, and exit\n");
	exit(64);
}

struct options {
	const char *config;
	int config_given;
	const char *overrides[64];
	int noverrides;
	int foreground, debug, check, print;
};

static int load(hookd_conf *c, const struct options *o, char *err, size_t errlen)
{
	conf_defaults(c);
	if (o->config_given || access(o->config, F_OK) == 0) {
		if (conf_load(c, o->config, err, errlen) != 0)
			return -1;
	}
	for (int i = 0; i < o->noverrides; i++) {
		char name[CONF_NAME_MAX];
		const char *eq = strchr(o->overrides[i], '=');
		size_t n = eq ? (size_t)(eq - o->overrides[i]) : 0;

		if (eq == NULL || n == 0 || n >= sizeof(name)) {
			snprintf(err, errlen, "-o %s: expected name=value", o->overrides[i]);
			return -1;
		}
		memcpy(name, o->overrides[i], n);
		name[n] = '\0';
		if (conf_set(c, name, eq + 1, err, errlen) != 0)
			return -1;
	}
	if (o->debug)
		c->debug = 1;
	return conf_check(c, err, errlen);
}

/* Drop root for the configured user, in Postfix's order. */
static int drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user '%s' does not exist (set 'user' in the configuration)", user);
		return -1;
	}
	if (pw->pw_uid == 0)
		return 0; /* configured to stay root: the administrator's choice */
	if (setgid(pw->pw_gid) != 0 || initgroups(user, pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		snprintf(err, errlen, "cannot switch to user '%s': %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "dropping privileges to '%s' did not stick", user);
		return -1;
	}
	return 0;
}

static void daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		hlog(LOG_ERR, "fork: %s", strerror(errno));
		exit(71);
	}
	if (pid > 0)
		_exit(0);
	setsid();
	if (chdir("/") != 0)
		exit(71);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

struct run {
	hookd *h;
	const struct options *o;
	mlf *follower;          /* NULL when off or waiting for the store */
	unsigned long follower_db; /* the h->db_opens of the handle it borrows */
	time_t follower_warned;
	tlspolicy *tp;          /* the TLS policy service, NULL when off */
};

/* Lines one poll of the follower takes at most (a few ms of work), so a
 * backlog (the first start on a large log, a catch-up after downtime) is
 * read in slices between requests instead of in one long stall. */
#define FOLLOW_SLICE_LINES 500

static void follow_stop(struct run *run)
{
	mlf_close(run->follower); /* does not touch the store handle */
	run->follower = NULL;
}

/* Minutes east of UTC of the local zone now (syslog times carry none). */
static int local_offset_min(time_t now)
{
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL)
		return 0;
	return (int)(tm.tm_gmtoff / 60);
}

/* The follower's word to the operator (a rotated file resumed, lines lost). */
static void follow_notice(int warning, const char *msg, void *ctx)
{
	(void)ctx;
	hlog(warning ? LOG_WARNING : LOG_INFO, "maillog: %s", msg);
}

static void follow_warn(struct run *run, time_t now, const char *what)
{
	if (now < run->follower_warned + 60)
		return;
	hlog(LOG_ERR, "maillog %s: %s (retrying)", run->h->conf.maillog_file, what);
	run->follower_warned = now;
}

/* Once a second: read what Postfix logged since the last tick. */
static void follow_tick(struct run *run)
{
	hookd *h = run->h;
	time_t now = time(NULL);
	char err[512];
	acct_db *db;
	int r;

	if (h->conf.maillog_file[0] == '\0') {
		follow_stop(run);
		return;
	}
	db = hookd_db(h);
	if (run->follower && (db == NULL || h->db_opens != run->follower_db))
		follow_stop(run); /* the handle it borrowed is gone */
	if (db == NULL)
		return;
	if (run->follower == NULL) {
		mlf_options opts = MLF_OPTIONS_INIT;

		opts.retention = (int64_t)h->conf.event_retention * 86400;
		opts.local_offset_min = local_offset_min(now);
		opts.max_lines = FOLLOW_SLICE_LINES;
		opts.notice = follow_notice;
		if (mlf_open(&run->follower, db, h->conf.maillog_file, &opts, err, sizeof(err)) != ACCT_OK) {
			run->follower = NULL;
			follow_warn(run, now, err);
			return;
		}
		run->follower_db = h->db_opens;
		hlog(LOG_INFO, "following %s for delivery events", h->conf.maillog_file);
	}
	r = mlf_poll(run->follower, (int64_t)now);
	if (r != ACCT_OK)
		follow_warn(run, now, acct_errmsg(db)[0] ? acct_errmsg(db) : acct_strerror(r));
	else
		run->follower_warned = 0;
}

/* Between requests: the next slice of a backlog, while there is one. */
static int follow_more(void *ctx)
{
	struct run *run = ctx;
	hookd *h = run->h;
	time_t now;
	int r;

	if (run->follower == NULL || !mlf_more(run->follower))
		return 0;
	if (h->db == NULL || h->db_opens != run->follower_db) {
		follow_stop(run); /* the handle it borrowed is gone: the tick reopens it */
		return 0;
	}
	now = time(NULL);
	r = mlf_poll(run->follower, (int64_t)now);
	if (r != ACCT_OK) {
		follow_warn(run, now, acct_errmsg(h->db)[0] ? acct_errmsg(h->db) : acct_strerror(r));
		return 0; /* again at the next tick */
	}
	return mlf_more(run->follower);
}

/* The loop woke up with requests to handle: check the store once for all. */
static void on_batch(void *ctx)
{
	hookd_batch(ctx);
}

static void on_signal(loop *l, loop_event ev, void *ctx)
{
	struct run *run = ctx;
	hookd_conf fresh;
	char err[512];

	if (ev == LOOP_TICK) {
		hookd_batch(run->h); /* the tick's own use of the store checks the file again */
		hookd_flush(run->h);
		follow_tick(run);
		if (run->tp)
			tlspolicy_tick(run->tp);
		return;
	}
	if (ev == LOOP_INFO) {
		if (run->tp)
			tlspolicy_stats(run->tp);
		return;
	}
	if (ev == LOOP_STOP) {
		hlog(LOG_INFO, "stopping: %zu connection(s) to drain", loop_connections(l));
		follow_stop(run);
		if (run->tp)
			tlspolicy_stats(run->tp);
		loop_stop(l);
		return;
	}
	if (load(&fresh, run->o, err, sizeof(err)) != 0) {
		hlog(LOG_ERR, "reload: %s (keeping the running configuration)", err);
		return;
	}
	if (strcmp(fresh.auth_listen, run->h->conf.auth_listen) != 0 ||
	    strcmp(fresh.policy_listen, run->h->conf.policy_listen) != 0 ||
	    strcmp(fresh.tlspolicy_listen, run->h->conf.tlspolicy_listen) != 0 || strcmp(fresh.user, run->h->conf.user) != 0)
		hlog(LOG_WARNING, "reload: listeners and user change only at restart");
	memcpy(fresh.auth_listen, run->h->conf.auth_listen, sizeof(fresh.auth_listen));
	memcpy(fresh.policy_listen, run->h->conf.policy_listen, sizeof(fresh.policy_listen));
	memcpy(fresh.tlspolicy_listen, run->h->conf.tlspolicy_listen, sizeof(fresh.tlspolicy_listen));
	memcpy(fresh.user, run->h->conf.user, sizeof(fresh.user));
	run->h->conf = fresh;
	if (run->tp)
		tlspolicy_reload(run->tp);
	log_set_debug((int)fresh.debug);
	follow_stop(run); /* reopened at the next tick, on the new handle */
	hookd_reset(run->h); /* reopen with the new settings */
	hlog(LOG_INFO, "configuration reloaded");
}

int main(int argc, char **argv)
{
	struct options o = {HOOKD_DEFAULT_CONFIG, 0, {0}, 0, 0, 0, 0, 0};
	static hookd h;
	struct run run = {&h, &o, NULL, 0, 0, NULL};
	char err[512];
	loop *l = NULL;
	mode_t mode;
	int c;

	while ((c = getopt(argc, argv, "c:o:fdtT")) != -1) {
		switch (c) {
		case 'c': o.config = optarg; o.config_given = 1; break;
		case 'o':
			if (o.noverrides == 64)
				usage();
			o.overrides[o.noverrides++] = optarg;
			break;
		case 'f': o.foreground = 1; break;
		case 'd': o.debug = 1; break;
		case 't': o.check = 1; break;
		case 'T': o.print = 1; break;
		default: usage();
		}
	}
	if (optind != argc || (o.check && o.print))
		usage();
	if (load(&h.conf, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "postern-hookd: %s\n", err);
		return 78; /* EX_CONFIG */
	}
	if (o.print) {
		conf_print(&h.conf, stdout, 1);
		return 0;
	}
	if (o.check) {
		if (geteuid() == 0 && getpwnam(h.conf.user) == NULL) {
			fprintf(stderr, "postern-hookd: user '%s' does not exist\n", h.conf.user);
			return 78;
		}
		return 0;
	}

	log_init(o.foreground, (int)h.conf.debug);
	if (hookd_init(&h) != 0) {
		hlog(LOG_ERR, "out of memory");
		return 71;
	}
	if (loop_new(&l, (int)h.conf.max_connections, (int)h.conf.idle_timeout, on_signal, &run) != 0) {
		hlog(LOG_ERR, "cannot set up the event loop: %s", strerror(errno));
		hookd_fini(&h);
		return 71;
	}
	loop_set_batch(l, on_batch, &h);
	loop_set_work(l, follow_more, &run);
	mode = (mode_t)strtol(h.conf.socket_mode, NULL, 8);
	if ((h.conf.auth_listen[0] &&
	     loop_listen(l, h.conf.auth_listen, &dovecot_proto, &h, mode, err, sizeof(err)) != 0) ||
	    (h.conf.policy_listen[0] &&
	     loop_listen(l, h.conf.policy_listen, &policy_proto, &h, mode, err, sizeof(err)) != 0)) {
		hlog(LOG_ERR, "%s", err);
		loop_free(l);
		hookd_fini(&h);
		return 71;
	}
	/* DNS and TLS contexts (trust anchor, CA file) are opened while privileged */
	if (h.conf.tlspolicy_listen[0] &&
	    (tlspolicy_new(&run.tp, l, &h, err, sizeof(err)) != 0 ||
	     loop_listen(l, h.conf.tlspolicy_listen, &tlspolicy_proto, run.tp, mode, err, sizeof(err)) != 0)) {
		hlog(LOG_ERR, "%s", err);
		tlspolicy_free(run.tp);
		loop_free(l);
		hookd_fini(&h);
		return 71;
	}
	if (drop_privileges(h.conf.user, err, sizeof(err)) != 0) {
		hlog(LOG_ERR, "%s", err);
		tlspolicy_free(run.tp);
		loop_free(l);
		hookd_fini(&h);
		return 71;
	}
	if (!o.foreground)
		daemonize();
	(void)hookd_db(&h); /* open now, so a problem shows at start-up */
	hlog(LOG_INFO, "ready: auth %s, policy %s, tlspolicy %s", h.conf.auth_listen[0] ? h.conf.auth_listen : "off",
	     h.conf.policy_listen[0] ? h.conf.policy_listen : "off",
	     h.conf.tlspolicy_listen[0] ? h.conf.tlspolicy_listen : "off");
	c = loop_run(l);
	follow_stop(&run);
	tlspolicy_free(run.tp); /* before the loop: its watches; the connections' waits are forgotten */
	loop_free(l);
	hookd_fini(&h);
	hlog(LOG_INFO, "stopped");
	return c == 0 ? 0 : 71;
}
