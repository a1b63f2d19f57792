/*
 * The non-blocking HTTPS fetch of MTA-STS policies (see sts_fetch.h).
 * States: CONNECT (waiting for the TCP connect), HANDSHAKE, WRITE (the
 * request), READ (until sts_http_response() is satisfied or the server
 * closes).  Every failure ends the fetch with one message naming the
 * host and what was wrong; the buffer never grows past the 16 KiB
 * header plus 64 KiB body the parser accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "mtasts.h"
#include "sts_fetch.h"

#define FETCH_BUF_MAX (STS_HTTP_HEAD_MAX + STS_POLICY_MAX)

enum state { S_CONNECT, S_HANDSHAKE, S_WRITE, S_READ, S_DONE, S_FAILED };

struct sts_fetch {
	enum state state;
	int fd;
	short want;
	SSL *ssl;
	int64_t deadline;
	char host[STS_NAME_MAX + 16];
	char req[STS_NAME_MAX + 128];
	size_t req_len, req_off;
	char *buf;
	size_t len;
	size_t body_off, body_len;
	char err[1024];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

SSL_CTX *sts_fetch_ssl_ctx(const char *ca_file, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (ca_file != NULL ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
	                    : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "cannot load the CA certificates%s%s", ca_file ? " from " : "",
		         ca_file ? ca_file : "");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static sts_fetch_status failf(sts_fetch *f, const char *what, const char *detail)
{
	snprintf(f->err, sizeof(f->err), "https://%s/.well-known/mta-sts.txt: %s%s%s", f->host, what,
	         detail ? ": " : "", detail ? detail : "");
	f->state = S_FAILED;
	return STS_FETCH_FAILED;
}

int sts_fetch_start(sts_fetch **out, SSL_CTX *ctx, const char *domain, const struct sockaddr *sa, socklen_t salen,
                    int64_t deadline_ms, char *err, size_t errlen)
{
	sts_fetch *f;
	int n;

	*out = NULL;
	if (strlen(domain) > STS_NAME_MAX - 8) {
		snprintf(err, errlen, "domain name too long for mta-sts.DOMAIN");
		return -1;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL || (f->buf = malloc(FETCH_BUF_MAX)) == NULL) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	f->fd = -1;
	f->deadline = deadline_ms;
	snprintf(f->host, sizeof(f->host), "mta-sts.%s", domain);
	n = snprintf(f->req, sizeof(f->req),
	             "GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: %s\r\nUser-Agent: postern-hookd\r\n"
	             "Connection: close\r\n\r\n",
	             f->host);
	f->req_len = (size_t)n;
	f->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto bad;
	}
	if ((f->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(f->ssl, f->fd) != 1 ||
	    SSL_set_tlsext_host_name(f->ssl, f->host) != 1 || SSL_set1_host(f->ssl, f->host) != 1) {
		snprintf(err, errlen, "cannot set up TLS for %s", f->host);
		goto bad;
	}
	/* the name must match exactly: no partial wildcards */
	SSL_set_hostflags(f->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (connect(f->fd, sa, salen) == 0) {
		f->state = S_HANDSHAKE;
		f->want = POLLOUT;
	} else if (errno == EINPROGRESS) {
		f->state = S_CONNECT;
		f->want = POLLOUT;
	} else {
		snprintf(err, errlen, "https://%s/: connect: %s", f->host, strerror(errno));
		goto bad;
	}
	*out = f;
	return 0;
bad:
	sts_fetch_free(f);
	return -1;
}

int sts_fetch_fd(const sts_fetch *f)
{
	return f->fd;
}

short sts_fetch_events(const sts_fetch *f)
{
	return f->want;
}

/* Map an SSL_ERROR_WANT_* to the events to wait for; 0 = a real error. */
static int ssl_want(sts_fetch *f, int rc)
{
	switch (SSL_get_error(f->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		f->want = POLLIN;
		return 1;
	case SSL_ERROR_WANT_WRITE:
		f->want = POLLOUT;
		return 1;
	default:
		return 0;
	}
}

static const char *ssl_reason(sts_fetch *f)
{
	static char why[STS_NAME_MAX + 400];
	long v = SSL_get_verify_result(f->ssl);
	unsigned long e = ERR_peek_last_error();

	if (v != X509_V_OK)
		snprintf(why, sizeof(why), "certificate not valid for %s: %s", f->host, X509_verify_cert_error_string(v));
	else if (e != 0)
		ERR_error_string_n(e, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "connection closed");
	ERR_clear_error();
	return why;
}

sts_fetch_status sts_fetch_step(sts_fetch *f, int64_t now)
{
	int rc;

	if (f->state == S_DONE)
		return STS_FETCH_DONE;
	if (f->state == S_FAILED)
		return STS_FETCH_FAILED;
	if (now >= f->deadline)
		return failf(f, "timeout", NULL);
	for (;;) {
		switch (f->state) {
		case S_CONNECT: {
			int e = 0;
			socklen_t el = sizeof(e);
			struct pollfd p = {.fd = f->fd, .events = POLLOUT};
			if (poll(&p, 1, 0) == 0)
				return STS_FETCH_MORE;
			if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0)
				return failf(f, "connect", strerror(e ? e : errno));
			f->state = S_HANDSHAKE;
			break;
		}
		case S_HANDSHAKE:
			ERR_clear_error();
			if ((rc = SSL_connect(f->ssl)) != 1) {
				if (ssl_want(f, rc))
					return STS_FETCH_MORE;
				return failf(f, "TLS handshake failed", ssl_reason(f));
			}
			f->state = S_WRITE;
			break;
		case S_WRITE:
			ERR_clear_error();
			rc = SSL_write(f->ssl, f->req + f->req_off, (int)(f->req_len - f->req_off));
			if (rc <= 0) {
				if (ssl_want(f, rc))
					return STS_FETCH_MORE;
				return failf(f, "sending the request", ssl_reason(f));
			}
			f->req_off += (size_t)rc;
			if (f->req_off == f->req_len) {
				f->state = S_READ;
				f->want = POLLIN;
			}
			break;
		case S_READ: {
			const char *why;
			int eof = 0;
			sts_http_result hr;
			if (f->len == FETCH_BUF_MAX)
				return failf(f, "HTTP response too large", NULL);
			ERR_clear_error();
			rc = SSL_read(f->ssl, f->buf + f->len, (int)(FETCH_BUF_MAX - f->len));
			if (rc > 0) {
				f->len += (size_t)rc;
			} else {
				int se = SSL_get_error(f->ssl, rc);
				if (se == SSL_ERROR_ZERO_RETURN)
					eof = 1; /* close_notify */
				else if (ssl_want(f, rc))
					return STS_FETCH_MORE;
				else if (se == SSL_ERROR_SSL &&
				         ERR_GET_REASON(ERR_peek_last_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
					/* Without a Content-Length only close_notify marks the end:
					 * a bare close may be an attacker truncating the policy.
					 * (With one, the body was complete before this read.) */
					ERR_clear_error();
					return failf(f, "connection closed without TLS close_notify (the body may be truncated)",
					             NULL);
				} else
					return failf(f, "reading the response", ssl_reason(f));
			}
			hr = sts_http_response(f->buf, f->len, eof, &f->body_off, &f->body_len, &why);
			if (hr == STS_HTTP_ERROR)
				return failf(f, why, NULL);
			if (hr == STS_HTTP_DONE) {
				f->state = S_DONE;
				f->want = 0;
				return STS_FETCH_DONE;
			}
			if (eof)
				return failf(f, "connection closed early", NULL);
			break;
		}
		case S_DONE:
			return STS_FETCH_DONE;
		case S_FAILED:
			return STS_FETCH_FAILED;
		}
	}
}

const char *sts_fetch_body(const sts_fetch *f, size_t *len)
{
	*len = f->state == S_DONE ? f->body_len : 0;
	return f->state == S_DONE ? f->buf + f->body_off : NULL;
}

const char *sts_fetch_error(const sts_fetch *f)
{
	return f->err;
}

void sts_fetch_free(sts_fetch *f)
{
	if (f == NULL)
		return;
	SSL_free(f->ssl);
	if (f->fd >= 0)
		close(f->fd);
	free(f->buf);
	free(f);
}

sts_fetch_status sts_fetch_run(sts_fetch *f)
{
	sts_fetch_status st;

	while ((st = sts_fetch_step(f, now_ms())) == STS_FETCH_MORE) {
		struct pollfd p = {.fd = f->fd, .events = f->want};
		int64_t left = f->deadline - now_ms();
		(void)poll(&p, 1, left <= 0 ? 0 : (left > 1000 ? 1000 : (int)left));
	}
	return st;
}
