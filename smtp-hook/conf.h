/*
 * postern-hookd's configuration: one table defines every setting, its
 * default, its parser and its one-line documentation (OpenSSH's
 * servconf pattern), so that -t (check), -T (print the effective
 * configuration) and docs/hookd.md cannot disagree.
 *
 * The file is Postfix-like: `name = value` lines, `#` comments, blank
 * lines ignored.  Unknown names, duplicates and bad values are errors
 * with the file name and line number.
 */
#ifndef HOOKD_CONF_H
#define HOOKD_CONF_H

#include <stddef.h>
#include <stdio.h>

#define CONF_PATH_MAX 4096
#define CONF_NAME_MAX 64
#define CONF_LINE_MAX 4096

#define HOOKD_DEFAULT_CONFIG "/etc/postern/hookd.conf"

typedef struct hookd_conf {
	char database[CONF_PATH_MAX];
	char key_file[CONF_PATH_MAX];
	char auth_listen[CONF_PATH_MAX];   /* unix:/path | inet:host:port | "" (off) */
	char policy_listen[CONF_PATH_MAX];
	char user[CONF_NAME_MAX];          /* drop to this user after binding */
	char socket_mode[8];               /* octal, for unix sockets */
	char transport_encrypt[CONF_NAME_MAX];
	char transport_encrypt13[CONF_NAME_MAX];
	char transport_verify[CONF_NAME_MAX];
	char transport_verify13[CONF_NAME_MAX];
	char transport_clear[CONF_NAME_MAX];
	long max_connections;
	long idle_timeout;     /* seconds */
	long busy_timeout_ms;  /* store lock wait before a temporary failure */
	long debug;            /* 0 or 1 */
	char maillog_file[CONF_PATH_MAX]; /* Postfix's log to follow for events; "" = off */
	long event_retention;  /* days to keep delivery events; 0 = forever */
	/* The MTA-STS/DANE TLS policy socketmap (srv_tlspolicy.c, docs/mta-sts.md) */
	char tlspolicy_listen[CONF_PATH_MAX];
	char dns_forward[CONF_PATH_MAX];          /* ADDR[@PORT], space or comma separated; "" = from the root */
	char dns_trust_anchor_file[CONF_PATH_MAX];
	char mtasts_ca_file[CONF_PATH_MAX];       /* "" = the system's store */
	long mtasts_https_port;
	long mtasts_timeout;        /* ms, each DNS lookup and the fetch */
	long mtasts_nopolicy_ttl;   /* seconds */
	long mtasts_failure_ttl;    /* seconds: no policy after a failure, never having had one */
	long mtasts_strict_testing; /* 0 or 1 */
	long tlspolicy_postfix_dane; /* 0 or 1 (default 1): tls-policy's transports run at Postfix's dane level */
	long tlspolicy_cache_ttl;   /* seconds an evaluated domain is answered from memory */
	long tlspolicy_cache_size;  /* domains kept in memory */
	long tlspolicy_max_jobs;    /* evaluations in flight; beyond: TEMP */
	long tlspolicy_stats_interval; /* seconds between stats lines; 0 = off */
} hookd_conf;

/* Fill in every default. */
void conf_defaults(hookd_conf *c);

/* Read a configuration file over the defaults.  0, or -1 with a message
 * "FILE:LINE: what is wrong" in err. */
int conf_load(hookd_conf *c, const char *path, char *err, size_t errlen);

/* Set one setting from text (also used for -o name=value). */
int conf_set(hookd_conf *c, const char *name, const char *value, char *err, size_t errlen);

/* Checks across settings (e.g. at least one listener). */
int conf_check(const hookd_conf *c, char *err, size_t errlen);

/* Write the effective configuration, one `name = value` a line, each
 * preceded by its documentation when `with_docs` is set. */
void conf_print(const hookd_conf *c, FILE *out, int with_docs);

#endif
