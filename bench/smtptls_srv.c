/*
 * smtptls_srv: the smallest SMTP server with STARTTLS, for the TLS
 * survey benchmark (bench/survey_bench.sh): greeting, EHLO offering
 * STARTTLS, STARTTLS, the TLS handshake, QUIT — nothing else — so that
 * the benchmark measures the probe and the handshakes, not a server.
 *
 *   smtptls_srv ADDRESS PORT CERT KEY PROCESSES [SECONDS]
 *
 * One listening socket, PROCESSES forked workers, each serving one
 * connection at a time with blocking I/O and a 5-second receive timeout.
 * The TLS side is set up as cheaply as a real MTA's (Postfix) would be:
 * one SSL_CTX for every connection, no session tickets (the survey never
 * resumes, and Postfix's smtpd sends none without a session cache), each
 * handshake flight written in one send (a buffering BIO, flushed when
 * OpenSSL ends a flight, as Postfix's memory BIO and stream buffer do),
 * reads ahead (whole segments, not record header then body), no Nagle.
 * Loopback addresses only.  Exits after SECONDS (default 600) or on
 * SIGTERM, with its workers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "num.h"

typedef struct io {
	int fd;
	SSL *ssl;
	char buf[2048];
	size_t len;
} io;

static int io_write(io *c, const char *s)
{
	size_t n = strlen(s);
	if (c->ssl) /* (the write BIO buffers: flushed here) */
		return SSL_write(c->ssl, s, (int)n) == (int)n && BIO_flush(SSL_get_wbio(c->ssl)) == 1 ? 0 : -1;
	return send(c->fd, s, n, MSG_NOSIGNAL) == (ssize_t)n ? 0 : -1;
}

/* One command line (CRLF cut off) into out: 0, or -1 at EOF/error/overlong. */
static int io_line(io *c, char *out, size_t outlen)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			if (n >= outlen)
				return -1;
			memcpy(out, c->buf, n);
			out[n] = '\0';
			if (n && out[n - 1] == '\r')
				out[n - 1] = '\0';
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return 0;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		int r = c->ssl ? SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len))
		               : (int)recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (r <= 0)
			return -1;
		c->len += (size_t)r;
	}
}

static void serve(SSL_CTX *ctx, int fd)
{
	io c = {fd, NULL, {0}, 0};
	char line[1024];

	if (io_write(&c, "220 bench ESMTP\r\n") != 0)
		return;
	while (io_line(&c, line, sizeof(line)) == 0) {
		if (!strncasecmp(line, "EHLO", 4)) {
			if (io_write(&c, c.ssl ? "250-bench\r\n250 8BITMIME\r\n" : "250-bench\r\n250-STARTTLS\r\n250 8BITMIME\r\n") != 0)
				break;
		} else if (!strcasecmp(line, "STARTTLS") && c.ssl == NULL) {
			if (io_write(&c, "220 go ahead\r\n") != 0 || c.len != 0)
				break;
			BIO *rb, *wb, *buf;
			if ((c.ssl = SSL_new(ctx)) == NULL || (rb = BIO_new_socket(fd, BIO_NOCLOSE)) == NULL)
				break;
			if ((wb = BIO_new_socket(fd, BIO_NOCLOSE)) == NULL || (buf = BIO_new(BIO_f_buffer())) == NULL) {
				BIO_free(rb);
				BIO_free(wb);
				break;
			}
			SSL_set_bio(c.ssl, rb, BIO_push(buf, wb));
			if (SSL_accept(c.ssl) != 1)
				break;
		} else if (!strcasecmp(line, "QUIT")) {
			io_write(&c, "221 bye\r\n");
			break;
		} else if (io_write(&c, "502 no\r\n") != 0) {
			break;
		}
	}
	if (c.ssl) {
		SSL_shutdown(c.ssl);
		BIO_flush(SSL_get_wbio(c.ssl));
		SSL_free(c.ssl);
	}
	ERR_clear_error();
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	unsigned long port, nproc, secs = 600;
	int lfd, one = 1;
	SSL_CTX *ctx;
	pid_t *kids;

	if (argc < 6 || argc > 7 || inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1 ||
	    (ntohl(sa.sin_addr.s_addr) >> 24) != 127 || parse_ulong(argv[2], 1, 65535, &port) != 0 ||
	    parse_ulong(argv[5], 1, 256, &nproc) != 0 || (argc == 7 && parse_ulong(argv[6], 1, 86400, &secs) != 0)) {
		fprintf(stderr, "usage: smtptls_srv 127.x.y.z PORT CERT KEY PROCESSES(1-256) [SECONDS]\n");
		return 64;
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL || SSL_CTX_use_certificate_chain_file(ctx, argv[3]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[4], SSL_FILETYPE_PEM) != 1) {
		fprintf(stderr, "smtptls_srv: cannot load %s / %s\n", argv[3], argv[4]);
		return 66;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0); /* (NO_TICKET alone still sends TLSv1.3 stateful tickets) */
	SSL_CTX_set_read_ahead(ctx, 1);
	sa.sin_port = htons((uint16_t)port);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(lfd, 4096) != 0) {
		fprintf(stderr, "smtptls_srv: %s:%lu: %s\n", argv[1], port, strerror(errno));
		return 69;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((kids = calloc(nproc, sizeof(*kids))) == NULL)
		return 71;
	for (unsigned long i = 0; i < nproc; i++) {
		if ((kids[i] = fork()) == 0) {
			struct timeval tv = {5, 0};
			alarm((unsigned)secs);
			for (;;) {
				int fd = accept(lfd, NULL, NULL);
				if (fd < 0) {
					if (errno == EINTR)
						continue;
					_exit(1);
				}
				setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				serve(ctx, fd);
				close(fd);
			}
		}
	}
	alarm((unsigned)secs);
	{
		sigset_t s;
		int sig;
		sigemptyset(&s);
		sigaddset(&s, SIGTERM);
		sigaddset(&s, SIGINT);
		sigaddset(&s, SIGALRM);
		sigprocmask(SIG_BLOCK, &s, NULL);
		sigwait(&s, &sig);
	}
	for (unsigned long i = 0; i < nproc; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	free(kids);
	SSL_CTX_free(ctx);
	return 0;
}
