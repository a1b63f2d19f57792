/*
 * loadgen: a load generator for the three protocols Postfix speaks to
 * postern-hookd, over loopback TCP or unix sockets.
 *
 *   loadgen -P auth|policy|socketmap -s ADDRESS [-c CONNS] [-n REQUESTS]
 *           [-t SECONDS] [-k FILE] [-e ANSWER] [-u] [-q]
 *
 * auth    the Dovecot auth client protocol as Postfix's smtpd speaks it
 *         (src/xsasl/xsasl_dovecot_server.c): VERSION 1.0 and CPID, wait
 *         for the server's handshake up to DONE (it must offer PLAIN),
 *         then per request
 *         AUTH <id> PLAIN service=smtp nologin lip= rip= secured resp=
 *         with ids counting up on each connection; the answer is the
 *         first word of the reply line (OK, FAIL, CONT).
 * policy  Postfix policy delegation as Postfix 3.7 sends it at RCPT: the
 *         29 name=value attributes, an empty line; the answer is the
 *         first word of action= (DUNNO, REJECT, FILTER, ...).
 * socketmap  Postfix's socketmap client (socketmap_table(5)), as its
 *         smtp client asks smtp_tls_policy_maps: the netstring
 *         "NAME KEY"; the answer is the netstring "STATUS VALUE" and its
 *         kind the STATUS (OK, NOTFOUND, TEMP, TIMEOUT, PERM).
 *
 * Like Postfix, every connection is persistent and has one request in
 * flight at a time.  The run stops by itself after REQUESTS requests or
 * SECONDS seconds, whichever comes first, waits at most 2 s for answers
 * still due, and prints one line of name=value results: requests/s,
 * p50/p99/max latency (request written to answer complete) and the
 * count of each kind of answer, so that a run where everything FAILs is
 * visible.  With -e, the exit status is 1 unless every answer was that
 * kind (and, with -u, every OK named the user the credential file
 * expects).
 *
 * The credential file (-k; required for auth, optional for policy) has
 * one request template a line, tab-separated:
 *     AUTH_USER  PASSWORD  EXPECTED_USER  CLIENT_ADDRESS
 * Requests take its lines in a fixed pseudo-random order.  Policy
 * requests use EXPECTED_USER as sasl_username and CLIENT_ADDRESS as
 * client_address; without a file they are unauthenticated.  It holds
 * secrets, so it is read from a file, never from argv.
 *
 * For socketmap the file (-k, required) has one lookup a line:
 *     MAPNAME  KEY  [STATUS  [VALUE]]
 * With -u every answer must have the line's STATUS and, when VALUE is
 * given, exactly that value (the policy text after "OK ").  With -q the
 * lines are taken in file order (each once when -n is their count: the
 * cache-miss runs), not in the pseudo-random order.
 *
 * Only loopback destinations are accepted (127.0.0.0/8, ::1, or a unix
 * socket); anything else is refused before any connection is made.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "num.h"

#define MAX_CONNS 1024
#define MAX_REQUESTS 20000000UL
#define MAX_SECONDS 600
#define MAX_CREDS 4000000UL
#define CRED_LINE_MAX 1024
#define RBUF_MAX 8192   /* one reply (auth: a line; policy: up to the empty line) */
#define WBUF_MAX 4096   /* one request */
#define HANDSHAKE_MAX 16384
#define MAX_KINDS 16
#define KIND_MAX 31
#define GRACE_NS 2000000000ULL

enum proto { P_AUTH, P_POLICY, P_SOCKETMAP };
#define SM_FIELD_MAX 1024 /* one field of a socketmap lookup file line */
#define SM_LEN_DIGITS 6   /* a netstring length: Postfix replies at most 100000 bytes */
enum cstate { C_IDLE, C_WAIT, C_DONE, C_DEAD };

struct cred {
	const char *user;     /* AUTH_USER */
	const char *expect;   /* EXPECTED_USER, also sasl_username */
	const char *addr;     /* CLIENT_ADDRESS */
	const char *resp;     /* base64 of \0AUTH_USER\0PASSWORD */
};

/* One socketmap lookup: pointers into the loaded file. */
struct lookup {
	const char *map, *key;
	const char *status; /* expected status, or NULL */
	const char *value;  /* expected value, or NULL */
};

struct conn {
	int fd;
	enum cstate state;
	unsigned long id;         /* auth: id of the request in flight */
	unsigned long seq;        /* requests sent on this connection */
	const struct cred *cred;
	const struct lookup *lookup;
	uint64_t sent_ns;
	size_t rlen, wlen, woff;
	char rbuf[RBUF_MAX];
	char wbuf[WBUF_MAX];
};

struct kind {
	char name[KIND_MAX + 1];
	unsigned long count;
};

static struct {
	enum proto proto;
	unsigned long nconns, max_requests, seconds;
	const char *address, *credfile, *expect;
	int check_user, in_order;
	/* socketmap lookups */
	struct lookup *lookups;
	unsigned long nlookups, next_lookup;
	char *lookupmem;
	unsigned long wrong_answer;
	int shown_wrong;
	/* credentials */
	struct cred *creds;
	unsigned long ncreds;
	char *credmem;
	size_t credlen;
	uint64_t rng;
	/* results */
	uint32_t *lat_ns;
	unsigned long issued, answered, errors, wrong_user;
	struct kind kinds[MAX_KINDS];
	unsigned long other_kinds;
	int nkinds;
} G;

__attribute__((format(printf, 1, 2), noreturn)) static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "loadgen: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(64);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of in[0..n) into out (size >= 4*((n+2)/3)+1). */
static void b64(char *out, const unsigned char *in, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = b64chars[v >> 6 & 63];
		out[o++] = b64chars[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0u);
		out[o++] = b64chars[v >> 18 & 63];
		out[o++] = b64chars[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64chars[v >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int valid_field(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static int is_ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Read the credential file: four tab-separated fields a line. */
static void load_creds(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[CRED_LINE_MAX + 2];
	unsigned long lineno = 0, cap = 1024;
	size_t memcap = 1 << 20, memlen = 0;
	struct stat st;

	if (f == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		exit(66);
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077) != 0)
		fprintf(stderr, "loadgen: warning: %s is readable by group or others (it holds secrets)\n", path);
	G.creds = malloc(cap * sizeof(*G.creds));
	G.credmem = malloc(memcap);
	if (G.creds == NULL || G.credmem == NULL)
		die("%s", "out of memory");
	/* Offsets first (credmem moves as it grows), pointers at the end. */
	while (fgets(line, sizeof(line), f) != NULL) {
		char *field[4], *p = line, *tab;
		size_t len = strlen(line), need;
		unsigned char plain[2 * CRED_LINE_MAX];
		size_t plen;
		int i;

		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		else if (!feof(f)) {
			fprintf(stderr, "loadgen: %s:%lu: line longer than %d bytes\n", path, lineno, CRED_LINE_MAX);
			exit(65);
		}
		if (len == 0 || line[0] == '#')
			continue;
		for (i = 0; i < 4; i++) {
			field[i] = p;
			tab = strchr(p, '\t');
			if (i < 3) {
				if (tab == NULL)
					break;
				*tab = '\0';
				p = tab + 1;
			} else if (tab != NULL) {
				i = 5;
			}
		}
		if (i != 4 || !valid_field(field[0], 255) || !valid_field(field[1], 512) ||
		    !valid_field(field[2], 255) || !is_ip_literal(field[3])) {
			fprintf(stderr,
			        "loadgen: %s:%lu: expected AUTH_USER<tab>PASSWORD<tab>EXPECTED_USER<tab>CLIENT_ADDRESS "
			        "(no control characters; the address an IP literal)\n",
			        path, lineno);
			exit(65);
		}
		if (G.ncreds == MAX_CREDS) {
			fprintf(stderr, "loadgen: %s: more than %lu credentials\n", path, MAX_CREDS);
			exit(65);
		}
		/* \0user\0password, base64 */
		plen = 0;
		plain[plen++] = '\0';
		memcpy(plain + plen, field[0], strlen(field[0]));
		plen += strlen(field[0]);
		plain[plen++] = '\0';
		memcpy(plain + plen, field[1], strlen(field[1]));
		plen += strlen(field[1]);
		need = strlen(field[0]) + 1 + strlen(field[2]) + 1 + strlen(field[3]) + 1 + 4 * ((plen + 2) / 3) + 1;
		if (memlen + need > memcap) {
			char *n;
			while (memlen + need > memcap)
				memcap *= 2;
			if ((n = realloc(G.credmem, memcap)) == NULL)
				die("%s", "out of memory");
			G.credmem = n;
		}
		if (G.ncreds == cap) {
			struct cred *n;
			cap *= 2;
			if ((n = realloc(G.creds, cap * sizeof(*G.creds))) == NULL)
				die("%s", "out of memory");
			G.creds = n;
		}
		{
			struct cred *c = &G.creds[G.ncreds++];
			char *m = G.credmem + memlen;
			size_t o = 0;

			c->user = (const char *)(uintptr_t)(memlen + o);
			memcpy(m + o, field[0], strlen(field[0]) + 1);
			o += strlen(field[0]) + 1;
			c->expect = (const char *)(uintptr_t)(memlen + o);
			memcpy(m + o, field[2], strlen(field[2]) + 1);
			o += strlen(field[2]) + 1;
			c->addr = (const char *)(uintptr_t)(memlen + o);
			memcpy(m + o, field[3], strlen(field[3]) + 1);
			o += strlen(field[3]) + 1;
			c->resp = (const char *)(uintptr_t)(memlen + o);
			b64(m + o, plain, plen);
			o += strlen(m + o) + 1;
			memlen += o;
		}
		explicit_bzero(plain, sizeof(plain));
		explicit_bzero(line, sizeof(line));
	}
	if (ferror(f)) {
		fprintf(stderr, "loadgen: %s: read error\n", path);
		exit(66);
	}
	fclose(f);
	G.credlen = memlen;
	if (G.ncreds == 0) {
		fprintf(stderr, "loadgen: %s: no credentials\n", path);
		exit(65);
	}
	for (unsigned long i = 0; i < G.ncreds; i++) {
		G.creds[i].user = G.credmem + (uintptr_t)G.creds[i].user;
		G.creds[i].expect = G.credmem + (uintptr_t)G.creds[i].expect;
		G.creds[i].addr = G.credmem + (uintptr_t)G.creds[i].addr;
		G.creds[i].resp = G.credmem + (uintptr_t)G.creds[i].resp;
	}
}

/* Read the socketmap lookup file: MAPNAME<tab>KEY[<tab>STATUS[<tab>VALUE]]
 * a line.  The file is read whole; the fields point into it. */
static void load_lookups(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1 << 16, len = 0;
	unsigned long lineno = 0, lcap = 1024;
	char *p, *end, *nextline;

	if (f == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", path, strerror(errno));
		exit(66);
	}
	if ((G.lookupmem = malloc(cap + 1)) == NULL || (G.lookups = malloc(lcap * sizeof(*G.lookups))) == NULL)
		die("%s", "out of memory");
	for (;;) {
		size_t r;
		if (len == cap) {
			char *n;
			if (cap >= (size_t)256 << 20) {
				fprintf(stderr, "loadgen: %s: larger than 256 MB\n", path);
				exit(65);
			}
			cap *= 2;
			if ((n = realloc(G.lookupmem, cap + 1)) == NULL)
				die("%s", "out of memory");
			G.lookupmem = n;
		}
		r = fread(G.lookupmem + len, 1, cap - len, f);
		if (r == 0)
			break;
		len += r;
	}
	if (ferror(f)) {
		fprintf(stderr, "loadgen: %s: read error\n", path);
		exit(66);
	}
	fclose(f);
	G.lookupmem[len] = '\0';
	for (p = G.lookupmem, end = p + len; p < end; p = nextline) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *field[4] = {NULL, NULL, NULL, NULL};
		int n = 0;

		lineno++;
		if (nl != NULL)
			*nl = '\0';
		nextline = nl != NULL ? nl + 1 : end;
		if (*p == '\0' || *p == '#')
			continue;
		for (char *q = p; q != NULL && n < 5; n++) {
			char *tab = strchr(q, '\t');
			if (n < 4)
				field[n] = q;
			if (tab != NULL)
				*tab++ = '\0';
			q = tab;
		}
		if (n < 2 || n > 4 || !valid_field(field[0], SM_FIELD_MAX) || !valid_field(field[1], SM_FIELD_MAX) ||
		    strchr(field[0], ' ') != NULL || (field[2] && (!valid_field(field[2], KIND_MAX) || strchr(field[2], ' '))) ||
		    (field[3] && !valid_field(field[3], SM_FIELD_MAX))) {
			fprintf(stderr,
			        "loadgen: %s:%lu: expected MAPNAME<tab>KEY[<tab>STATUS[<tab>VALUE]] (no control characters, "
			        "no space in MAPNAME or STATUS, fields of 1..%d bytes)\n",
			        path, lineno, SM_FIELD_MAX);
			exit(65);
		}
		if (G.nlookups == MAX_CREDS) {
			fprintf(stderr, "loadgen: %s: more than %lu lookups\n", path, MAX_CREDS);
			exit(65);
		}
		if (G.nlookups == lcap) {
			struct lookup *l;
			lcap *= 2;
			if ((l = realloc(G.lookups, lcap * sizeof(*G.lookups))) == NULL)
				die("%s", "out of memory");
			G.lookups = l;
		}
		G.lookups[G.nlookups++] = (struct lookup){field[0], field[1], field[2], field[3]};
	}
	if (G.nlookups == 0) {
		fprintf(stderr, "loadgen: %s: no lookups\n", path);
		exit(65);
	}
}

static const struct lookup *next_lookup(void)
{
	if (G.in_order)
		return &G.lookups[G.next_lookup++ % G.nlookups];
	G.rng ^= G.rng >> 12;
	G.rng ^= G.rng << 25;
	G.rng ^= G.rng >> 27;
	return &G.lookups[(G.rng * 2685821657736338717ULL >> 11) % G.nlookups];
}

static const struct cred *next_cred(void)
{
	/* xorshift64*: a fixed sequence, spread over the whole file */
	G.rng ^= G.rng >> 12;
	G.rng ^= G.rng << 25;
	G.rng ^= G.rng >> 27;
	return &G.creds[(G.rng * 2685821657736338717ULL >> 11) % G.ncreds];
}

/* ---------------------------------------------------------------- */
/* Requests and answers                                              */

static void count_kind(const char *w, size_t n)
{
	int i;

	if (n > KIND_MAX)
		n = KIND_MAX;
	for (i = 0; i < G.nkinds; i++)
		if (strlen(G.kinds[i].name) == n && memcmp(G.kinds[i].name, w, n) == 0) {
			G.kinds[i].count++;
			return;
		}
	if (G.nkinds == MAX_KINDS) {
		G.other_kinds++;
		return;
	}
	for (size_t j = 0; j < n; j++) /* keep the summary line parseable */
		G.kinds[G.nkinds].name[j] = isgraph((unsigned char)w[j]) && w[j] != ',' && w[j] != ':' ? w[j] : '?';
	G.kinds[G.nkinds].name[n] = '\0';
	G.kinds[G.nkinds++].count = 1;
}

static size_t build_request(struct conn *c, char *buf, size_t size)
{
	int n;

	if (G.proto == P_SOCKETMAP) {
		const struct lookup *l = c->lookup = next_lookup();
		size_t plen = strlen(l->map) + 1 + strlen(l->key);

		n = snprintf(buf, size, "%zu:%s %s,", plen, l->map, l->key);
		c->seq++;
		return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
	}
	c->cred = G.ncreds ? next_cred() : NULL;
	if (G.proto == P_AUTH && c->cred != NULL) {
		c->id++;
		n = snprintf(buf, size,
		             "AUTH\t%lu\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=%s\tsecured\tresp=%s\n", c->id,
		             c->cred->addr, c->cred->resp);
	} else if (G.proto == P_POLICY) {
		unsigned long k = c->seq;
		const char *user = c->cred ? c->cred->expect : "";
		const char *addr = c->cred ? c->cred->addr : "127.0.0.1";

		n = snprintf(buf, size,
		             "request=smtpd_access_policy\n"
		             "protocol_state=RCPT\n"
		             "protocol_name=ESMTP\n"
		             "helo_name=client.example\n"
		             "queue_id=\n"
		             "sender=%s@example.org\n"
		             "recipient=rcpt%lu@example.net\n"
		             "recipient_count=0\n"
		             "client_address=%s\n"
		             "client_name=unknown\n"
		             "reverse_client_name=unknown\n"
		             "instance=%lx.%lx.0.0\n"
		             "sasl_method=%s\n"
		             "sasl_username=%s\n"
		             "sasl_sender=\n"
		             "size=1234\n"
		             "ccert_subject=\n"
		             "ccert_issuer=\n"
		             "ccert_fingerprint=\n"
		             "encryption_protocol=TLSv1.3\n"
		             "encryption_cipher=TLS_AES_256_GCM_SHA384\n"
		             "encryption_keysize=256\n"
		             "etrn_domain=\n"
		             "stress=\n"
		             "ccert_pubkey_fingerprint=\n"
		             "client_port=%lu\n"
		             "policy_context=\n"
		             "server_address=127.0.0.1\n"
		             "server_port=587\n"
		             "\n",
		             *user ? "sender" : "anonymous", k % 1000, addr, (unsigned long)c->fd, k / 4,
		             *user ? "PLAIN" : "", user, 1024 + (unsigned long)c->fd);
	} else {
		return 0;
	}
	c->seq++;
	return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

/* A complete auth reply line [p, p+n) (no LF).  0 ok, -1 protocol error. */
static int auth_answer(struct conn *c, const char *p, size_t n)
{
	const char *tab = memchr(p, '\t', n), *id, *end;
	unsigned long got = 0;

	if (tab == NULL)
		return -1;
	id = tab + 1;
	end = memchr(id, '\t', (size_t)(p + n - id));
	if (end == NULL)
		end = p + n;
	for (const char *q = id; q < end; q++) {
		if (*q < '0' || *q > '9' || got > 1000000000UL)
			return -1;
		got = got * 10 + (unsigned long)(*q - '0');
	}
	if (end == id || got != c->id)
		return -1;
	count_kind(p, (size_t)(tab - p));
	if (G.check_user && (size_t)(tab - p) == 2 && memcmp(p, "OK", 2) == 0) {
		const char *u = NULL;
		size_t ul = 0, el = strlen(c->cred->expect);

		for (const char *f = end; f < p + n; f++) {
			if (*f == '\t' && (size_t)(p + n - f) > 6 && memcmp(f + 1, "user=", 5) == 0) {
				u = f + 6;
				const char *e = memchr(u, '\t', (size_t)(p + n - u));
				ul = (size_t)((e ? e : p + n) - u);
				break;
			}
		}
		if (u == NULL || ul != el || memcmp(u, c->cred->expect, el) != 0)
			G.wrong_user++;
	}
	return 0;
}

/* A complete policy reply [p, p+n) ending in "\n\n". */
static int policy_answer(const char *p, size_t n)
{
	const char *line = p, *end = p + n;

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t len = (size_t)(nl - line);

		if (len > 7 && memcmp(line, "action=", 7) == 0) {
			const char *w = line + 7;
			size_t wl = 0;
			while (wl < len - 7 && w[wl] != ' ' && w[wl] != '\t')
				wl++;
			count_kind(w, wl);
			return 0;
		}
		line = nl + 1;
	}
	return -1;
}

/*
 * A complete socketmap reply payload [p, p+n): "STATUS[ VALUE]".  With -u,
 * checked against the lookup's line; the first mismatch is shown.
 */
static int socketmap_answer(struct conn *c, const char *p, size_t n)
{
	const char *sp = memchr(p, ' ', n);
	size_t sl = sp ? (size_t)(sp - p) : n;
	const char *v = sp ? sp + 1 : p + n;
	size_t vl = (size_t)(p + n - v);
	const struct lookup *l = c->lookup;

	if (sl == 0)
		return -1;
	count_kind(p, sl);
	if (G.check_user && l->status != NULL) {
		int ok = strlen(l->status) == sl && memcmp(p, l->status, sl) == 0;
		if (ok && l->value != NULL)
			ok = strlen(l->value) == vl && memcmp(v, l->value, vl) == 0;
		if (!ok) {
			G.wrong_answer++;
			if (!G.shown_wrong++)
				fprintf(stderr, "loadgen: %s %s: got '%.*s', expected '%s%s%s'\n", l->map, l->key,
				        (int)(n > 300 ? 300 : n), p, l->status, l->value ? " " : "",
				        l->value ? l->value : "");
		}
	}
	return 0;
}

/* A netstring at the start of [p, p+n): 1 with its payload, 0 if
 * incomplete, -1 if malformed. */
static int netstring_take(const char *p, size_t n, const char **payload, size_t *plen, size_t *used)
{
	size_t i = 0, len = 0;

	while (i < n && p[i] >= '0' && p[i] <= '9') {
		if (i == SM_LEN_DIGITS)
			return -1;
		len = len * 10 + (size_t)(p[i] - '0');
		i++;
	}
	if (i == n)
		return 0;
	if (i == 0 || p[i] != ':' || (i > 1 && p[0] == '0'))
		return -1;
	if (n - i - 1 < len + 1)
		return 0;
	if (p[i + 1 + len] != ',')
		return -1;
	*payload = p + i + 1;
	*plen = len;
	*used = i + 1 + len + 1;
	return 1;
}

static int is_expected_everywhere(void)
{
	if (G.expect == NULL)
		return G.errors == 0 && G.wrong_answer == 0;
	if (G.errors || G.other_kinds || G.wrong_user || G.wrong_answer || G.answered != G.issued)
		return 0;
	for (int i = 0; i < G.nkinds; i++)
		if (strcmp(G.kinds[i].name, G.expect) != 0 && G.kinds[i].count)
			return 0;
	return G.answered > 0;
}

/* ---------------------------------------------------------------- */
/* Connections                                                       */

static int wait_readable(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Connect and, for auth, do the handshake; blocking, before the clock runs. */
static int open_conn(struct conn *c, const bench_addr *d)
{
	int one = 1;

	c->fd = socket(d->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (const struct sockaddr *)&d->sa, d->len) != 0) {
		fprintf(stderr, "loadgen: connect %s: %s\n", G.address, strerror(errno));
		return -1;
	}
	if (d->sa.ss_family != AF_UNIX)
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (G.proto == P_AUTH) {
		char hello[64], buf[HANDSHAKE_MAX];
		size_t len = 0;
		int n = snprintf(hello, sizeof(hello), "VERSION\t1\t0\nCPID\t%ld\n", (long)getpid());
		int plain = 0, version = 0;

		if (write(c->fd, hello, (size_t)n) != n) {
			fprintf(stderr, "loadgen: %s: cannot send the handshake\n", G.address);
			return -1;
		}
		for (;;) {
			char *nl;
			ssize_t r;

			while ((nl = memchr(buf, '\n', len)) != NULL) {
				size_t ll = (size_t)(nl - buf);
				*nl = '\0';
				if (strncmp(buf, "VERSION\t1\t", 10) == 0)
					version = 1;
				else if (strncmp(buf, "VERSION\t", 8) == 0) {
					fprintf(stderr, "loadgen: %s: server speaks another major version: %s\n", G.address,
					        buf);
					return -1;
				} else if (strncmp(buf, "MECH\tPLAIN", 10) == 0 && (buf[10] == '\0' || buf[10] == '\t'))
					plain = 1;
				else if (strcmp(buf, "DONE") == 0) {
					if (!version || !plain) {
						fprintf(stderr, "loadgen: %s: handshake without %s\n", G.address,
						        version ? "MECH PLAIN" : "VERSION 1");
						return -1;
					}
					if (len > ll + 1) {
						fprintf(stderr, "loadgen: %s: data after DONE\n", G.address);
						return -1;
					}
					goto ready;
				}
				memmove(buf, nl + 1, len - ll - 1);
				len -= ll + 1;
			}
			if (len == sizeof(buf) || wait_readable(c->fd, 5000) <= 0) {
				fprintf(stderr, "loadgen: %s: no complete handshake (VERSION .. DONE) within 5 s\n",
				        G.address);
				return -1;
			}
			r = read(c->fd, buf + len, sizeof(buf) - len);
			if (r <= 0) {
				fprintf(stderr, "loadgen: %s: connection closed during the handshake\n", G.address);
				return -1;
			}
			len += (size_t)r;
		}
	}
ready:
	if (fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK) != 0)
		return -1;
	c->state = C_IDLE;
	return 0;
}

static void kill_conn(int ep, struct conn *c)
{
	if (c->state == C_WAIT)
		G.errors++;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	c->state = C_DEAD;
}

static void send_request(int ep, struct conn *c)
{
	ssize_t w;
	struct epoll_event ev;

	c->wlen = build_request(c, c->wbuf, sizeof(c->wbuf));
	c->woff = 0;
	c->rlen = 0;
	if (c->wlen == 0) {
		fprintf(stderr, "loadgen: a request did not fit in %d bytes\n", WBUF_MAX);
		kill_conn(ep, c);
		return;
	}
	G.issued++;
	c->state = C_WAIT;
	c->sent_ns = now_ns();
	w = write(c->fd, c->wbuf, c->wlen);
	if (w < 0 && errno != EAGAIN && errno != EINTR) {
		kill_conn(ep, c);
		return;
	}
	c->woff = w > 0 ? (size_t)w : 0;
	if (c->woff < c->wlen) {
		ev.events = EPOLLIN | EPOLLOUT;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

static void flush_more(int ep, struct conn *c)
{
	ssize_t w = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
	struct epoll_event ev;

	if (w < 0 && errno != EAGAIN && errno != EINTR) {
		kill_conn(ep, c);
		return;
	}
	if (w > 0)
		c->woff += (size_t)w;
	if (c->woff == c->wlen) {
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	}
}

/* Returns 1 when a complete answer was taken, 0 for more, -1 to drop. */
static int take_answer(struct conn *c, uint64_t t)
{
	const char *end;
	size_t used;
	int r;

	if (G.proto == P_AUTH) {
		end = memchr(c->rbuf, '\n', c->rlen);
		if (end == NULL)
			return c->rlen == sizeof(c->rbuf) ? -1 : 0;
		used = (size_t)(end - c->rbuf) + 1;
		r = auth_answer(c, c->rbuf, used - 1);
	} else if (G.proto == P_SOCKETMAP) {
		const char *pl;
		size_t plen;

		r = netstring_take(c->rbuf, c->rlen, &pl, &plen, &used);
		if (r == 0)
			return c->rlen == sizeof(c->rbuf) ? -1 : 0;
		r = r < 0 ? -1 : socketmap_answer(c, pl, plen);
	} else {
		end = memmem(c->rbuf, c->rlen, "\n\n", 2);
		if (end == NULL)
			return c->rlen == sizeof(c->rbuf) ? -1 : 0;
		used = (size_t)(end - c->rbuf) + 2;
		r = policy_answer(c->rbuf, used - 1);
	}
	if (r != 0 || used != c->rlen)
		return -1; /* malformed, or more than one answer to one request */
	{
		uint64_t d = t - c->sent_ns;
		G.lat_ns[G.answered++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
	}
	c->rlen = 0;
	c->state = C_IDLE;
	return 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(double p)
{
	unsigned long i;

	if (G.answered == 0)
		return 0;
	i = (unsigned long)(p * (double)G.answered + 0.999999);
	if (i == 0)
		i = 1;
	if (i > G.answered)
		i = G.answered;
	return G.lat_ns[i - 1] / 1000.0;
}

static void usage(void)
{
	fprintf(stderr,
	        "usage: loadgen -P auth|policy|socketmap -s ADDRESS [-c CONNS] [-n REQUESTS] [-t SECONDS]\n"
	        "               [-k FILE] [-e ANSWER] [-u] [-q]\n"
	        "  -s ADDRESS   127.0.0.1:PORT, [::1]:PORT or unix:/path (loopback only)\n"
	        "  -c CONNS     persistent connections, one request in flight each (1..%d, default 8)\n"
	        "  -n REQUESTS  stop after this many requests (1..%lu, default 100000)\n"
	        "  -t SECONDS   stop after this many seconds (1..%d, default 5)\n"
	        "  -k FILE      auth, policy: AUTH_USER<tab>PASSWORD<tab>EXPECTED_USER<tab>CLIENT_ADDRESS lines\n"
	        "               socketmap: MAPNAME<tab>KEY[<tab>STATUS[<tab>VALUE]] lines\n"
	        "  -e ANSWER    exit 1 unless every answer is ANSWER (OK, FAIL, DUNNO, REJECT, NOTFOUND, ...)\n"
	        "  -u           auth: every OK must carry user=EXPECTED_USER;\n"
	        "               socketmap: every answer must be its line's STATUS [VALUE]\n"
	        "  -q           take the file's lines in order, not in a pseudo-random order\n",
	        MAX_CONNS, MAX_REQUESTS, MAX_SECONDS);
	exit(64);
}

int main(int argc, char **argv)
{
	bench_addr d;
	char err[256];
	struct conn *conns;
	struct epoll_event evs[64];
	uint64_t start, deadline, stop_at, last = 0;
	unsigned long inflight = 0, i;
	int ep, opt, stopping = 0;

	G.nconns = 8;
	G.max_requests = 100000;
	G.seconds = 5;
	G.rng = 0x9e3779b97f4a7c15ULL;
	G.proto = P_AUTH;
	{
		int have_proto = 0;
		while ((opt = getopt(argc, argv, "P:s:c:n:t:k:e:uq")) != -1) {
			switch (opt) {
			case 'P':
				if (strcmp(optarg, "auth") == 0)
					G.proto = P_AUTH;
				else if (strcmp(optarg, "policy") == 0)
					G.proto = P_POLICY;
				else if (strcmp(optarg, "socketmap") == 0)
					G.proto = P_SOCKETMAP;
				else
					die("-P '%s': expected auth, policy or socketmap", optarg);
				have_proto = 1;
				break;
			case 's': G.address = optarg; break;
			case 'c':
				if (parse_ulong(optarg, 1, MAX_CONNS, &G.nconns) != 0)
					die("-c '%s': expected 1..1024 connections", optarg);
				break;
			case 'n':
				if (parse_ulong(optarg, 1, MAX_REQUESTS, &G.max_requests) != 0)
					die("-n '%s': expected 1..20000000 requests", optarg);
				break;
			case 't':
				if (parse_ulong(optarg, 1, MAX_SECONDS, &G.seconds) != 0)
					die("-t '%s': expected 1..600 seconds", optarg);
				break;
			case 'k': G.credfile = optarg; break;
			case 'e':
				if (!valid_field(optarg, KIND_MAX) || strchr(optarg, ' ') != NULL)
					die("-e '%s': expected one word such as OK, FAIL, DUNNO", optarg);
				G.expect = optarg;
				break;
			case 'u': G.check_user = 1; break;
			case 'q': G.in_order = 1; break;
			default: usage();
			}
		}
		if (optind != argc || !have_proto || G.address == NULL)
			usage();
	}
	if (bench_addr_parse(&d, G.address, 0, err, sizeof(err)) != 0)
		die("%s", err);
	if (G.proto == P_SOCKETMAP) {
		if (G.credfile == NULL)
			die("%s", "-P socketmap needs -k FILE (the lookups)");
		load_lookups(G.credfile);
	} else if (G.credfile) {
		load_creds(G.credfile);
	} else if (G.proto == P_AUTH) {
		die("%s", "-P auth needs -k CREDFILE");
	}
	if (G.check_user && G.proto == P_POLICY)
		die("%s", "-u applies to -P auth and socketmap only");
	if (G.in_order && G.proto != P_SOCKETMAP)
		die("%s", "-q applies to -P socketmap only");
	signal(SIGPIPE, SIG_IGN);

	G.lat_ns = malloc(G.max_requests * sizeof(*G.lat_ns));
	conns = calloc(G.nconns, sizeof(*conns));
	if (G.lat_ns == NULL || conns == NULL || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("%s", "out of memory");
	for (i = 0; i < G.nconns; i++) {
		struct epoll_event ev = {EPOLLIN, {.ptr = &conns[i]}};

		if (open_conn(&conns[i], &d) != 0)
			return 69;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
			return 71;
	}

	start = now_ns();
	deadline = start + (uint64_t)G.seconds * 1000000000ULL;
	stop_at = deadline + GRACE_NS;
	for (i = 0; i < G.nconns && G.issued < G.max_requests; i++)
		send_request(ep, &conns[i]);
	for (i = 0; i < G.nconns; i++)
		if (conns[i].state == C_IDLE)
			conns[i].state = C_DONE;
	for (;;) {
		uint64_t t = now_ns();
		int n, timeout;

		inflight = 0;
		if (!stopping && (t >= deadline || G.issued >= G.max_requests))
			stopping = 1;
		for (i = 0; i < G.nconns; i++)
			inflight += conns[i].state == C_WAIT;
		if (inflight == 0 || t >= stop_at)
			break;
		timeout = (int)(((stopping ? stop_at : deadline) - t) / 1000000ULL) + 1;
		n = epoll_wait(ep, evs, 64, timeout > 100 ? 100 : timeout);
		if (n < 0 && errno != EINTR)
			return 71;
		t = now_ns();
		for (int e = 0; e < n; e++) {
			struct conn *c = evs[e].data.ptr;
			ssize_t r;

			if (c->state == C_DEAD)
				continue;
			if ((evs[e].events & EPOLLOUT) && c->state == C_WAIT && c->woff < c->wlen)
				flush_more(ep, c);
			if (c->state == C_DEAD || !(evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			r = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0 || c->state != C_WAIT) {
				if (r > 0)
					G.errors++; /* an answer nobody asked for */
				kill_conn(ep, c);
				continue;
			}
			c->rlen += (size_t)r;
			switch (take_answer(c, t)) {
			case 1:
				last = t;
				if (!stopping && t < deadline && G.issued < G.max_requests)
					send_request(ep, c);
				else
					c->state = C_DONE;
				break;
			case -1: kill_conn(ep, c); break;
			default: break;
			}
		}
	}
	for (i = 0; i < G.nconns; i++) {
		if (conns[i].state == C_WAIT)
			G.errors++; /* no answer within the grace period */
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	}

	qsort(G.lat_ns, G.answered, sizeof(*G.lat_ns), cmp_u32);
	{
		double secs = (double)((last ? last : now_ns()) - start) / 1e9;
		unsigned long dead = 0;

		for (i = 0; i < G.nconns; i++)
			dead += conns[i].state == C_DEAD;
		printf("proto=%s conns=%lu requests=%lu answered=%lu errors=%lu dead_conns=%lu seconds=%.3f rps=%.0f "
		       "p50_us=%.1f p99_us=%.1f max_us=%.1f",
		       G.proto == P_AUTH ? "auth" : G.proto == P_POLICY ? "policy" : "socketmap", G.nconns, G.issued, G.answered, G.errors, dead, secs,
		       secs > 0 ? (double)G.answered / secs : 0.0, pct_us(0.50), pct_us(0.99), pct_us(1.0));
		if (G.check_user)
			printf(" %s=%lu", G.proto == P_SOCKETMAP ? "wrong_answer" : "wrong_user",
			       G.proto == P_SOCKETMAP ? G.wrong_answer : G.wrong_user);
		printf(" answers=");
		for (int k = 0; k < G.nkinds; k++)
			printf("%s%s:%lu", k ? "," : "", G.kinds[k].name, G.kinds[k].count);
		if (G.other_kinds)
			printf("%sother:%lu", G.nkinds ? "," : "", G.other_kinds);
		if (G.nkinds == 0 && G.other_kinds == 0)
			printf("none");
		printf("\n");
	}
	if (G.credmem)
		explicit_bzero(G.credmem, G.credlen); /* the passwords, in base64 */
	free(G.lat_ns);
	free(conns);
	free(G.creds);
	free(G.credmem);
	free(G.lookups);
	free(G.lookupmem);
	close(ep);
	if (!is_expected_everywhere()) {
		if (G.expect)
			fprintf(stderr, "loadgen: not every answer was %s%s\n", G.expect,
			        !G.check_user ? "" : G.proto == P_SOCKETMAP ? " and its line's" : " with the expected user");
		else
			fprintf(stderr, "loadgen: %lu answers were not their line's, %lu errors\n", G.wrong_answer,
			        G.errors);
		return 1;
	}
	return 0;
}
