/*
 * The HTTPS GET of an MTA-STS policy file (RFC 8461 section 3.3):
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt, the certificate
 * verified for exactly that name (SNI and host name check), no
 * redirects, status 200 only, text/plain, at most 64 KiB, a deadline.
 *
 * Non-blocking: a fetch is a state machine over one socket (connect,
 * TLS handshake, request, response).  The daemon's event loop waits for
 * sts_fetch_events() on sts_fetch_fd() and calls sts_fetch_step(); the
 * loop is never blocked, so no worker thread is needed.  The address to
 * connect to is resolved beforehand (dns.c, A/AAAA of mta-sts.DOMAIN).
 * The response is checked by the pure sts_http_response() (mtasts.c).
 */
#ifndef HOOKD_STS_FETCH_H
#define HOOKD_STS_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

typedef struct sts_fetch sts_fetch;

typedef enum sts_fetch_status { STS_FETCH_FAILED = -1, STS_FETCH_MORE = 0, STS_FETCH_DONE = 1 } sts_fetch_status;

/* The client context: peer verification against ca_file (NULL = the
 * system's store), TLSv1.2 or newer.  NULL with a message in err. */
SSL_CTX *sts_fetch_ssl_ctx(const char *ca_file, char *err, size_t errlen);

/* Start fetching the policy of `domain` from the address sa (port 443
 * unless sa says otherwise); deadline in dns_now_ms() time.  0, or -1
 * with a message in err. */
int sts_fetch_start(sts_fetch **out, SSL_CTX *ctx, const char *domain, const struct sockaddr *sa, socklen_t salen,
                    int64_t deadline_ms, char *err, size_t errlen);

int sts_fetch_fd(const sts_fetch *f);
short sts_fetch_events(const sts_fetch *f); /* POLLIN and/or POLLOUT */

/* Make progress (call when the fd is ready or the deadline passed). */
sts_fetch_status sts_fetch_step(sts_fetch *f, int64_t now_ms);

/* DONE: the policy body (not NUL-terminated). */
const char *sts_fetch_body(const sts_fetch *f, size_t *len);
/* FAILED: what went wrong, naming the host. */
const char *sts_fetch_error(const sts_fetch *f);

void sts_fetch_free(sts_fetch *f);

/* Run one fetch to the end with poll(): for the shell and the tests. */
sts_fetch_status sts_fetch_run(sts_fetch *f);

#endif
