/*
 * tls_ceiling: the full TLS handshake as OpenSSL itself performs it, both
 * ends in one process over a memory BIO pair, nothing else — no sockets,
 * no SMTP, no DNS: the handshake ceiling of this machine and library for
 * the TLS survey benchmark (bench/survey_bench.sh).  The client is set
 * up as `postern tls survey`'s (peer verification against CA, SNI, the
 * same cipher list, security level and options); each handshake is new
 * (no session resumption; the server sends no session tickets, as
 * bench/smtptls_srv does not) and its certificate checked.
 *
 *   tls_ceiling CERTCHAIN KEY CA NAME COUNT
 *
 * Prints "HANDSHAKES SECONDS handshakes/s CLIENT_US SERVER_US": the
 * rate for one core, then the CPU time (this thread's) each end spends
 * per handshake, SSL_new to SSL_free, the client's including the
 * verification and the name check — the client's figure is what to
 * compare `postern tls survey`'s own CPU per host with.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "num.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU time of this thread, in seconds */
static double cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double t_client, t_server; /* CPU seconds spent by each end */

static int one(SSL_CTX *sc, SSL_CTX *cc, const char *name)
{
	double t = cpu(), u;
	SSL *c = SSL_new(cc), *s;
	BIO *bs = NULL, *bc = NULL;
	int ok = -1, cd = 0, sd = 0;
	char sni[256]; /* (the macro takes a non-const name) */

	snprintf(sni, sizeof(sni), "%s", name);
	if (c)
		SSL_set_tlsext_host_name(c, sni);
	u = cpu();
	t_client += u - t;
	s = SSL_new(sc);
	if (s == NULL || c == NULL || BIO_new_bio_pair(&bs, 0, &bc, 0) != 1)
		goto out;
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	t = cpu();
	t_server += t - u; /* (the BIO pair counted with the server) */
	for (int i = 0; i < 100 && !(cd && sd); i++) {
		if (!cd) {
			int r = SSL_do_handshake(c);
			if (r == 1)
				cd = 1;
			else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
				goto out;
		}
		u = cpu();
		t_client += u - t;
		if (!sd) {
			int r = SSL_do_handshake(s);
			if (r == 1)
				sd = 1;
			else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
				goto out;
		}
		t = cpu();
		t_server += t - u;
	}
	if (cd && sd) {
		X509 *x = SSL_get1_peer_certificate(c);
		ok = x && SSL_get_verify_result(c) == X509_V_OK && X509_check_host(x, name, 0, 0, NULL) == 1 ? 0 : -1;
		X509_free(x);
	}
out:
	t = cpu();
	SSL_free(c);
	u = cpu();
	t_client += u - t;
	SSL_free(s);
	t_server += cpu() - u;
	ERR_clear_error();
	return ok;
}

int main(int argc, char **argv)
{
	unsigned long n;
	SSL_CTX *sc, *cc;
	double t0, t1;

	if (argc != 6 || parse_ulong(argv[5], 1, 10000000, &n) != 0) {
		fprintf(stderr, "usage: tls_ceiling CERTCHAIN KEY CA NAME COUNT\n");
		return 64;
	}
	sc = SSL_CTX_new(TLS_server_method());
	cc = SSL_CTX_new(TLS_client_method());
	if (sc == NULL || cc == NULL || SSL_CTX_use_certificate_chain_file(sc, argv[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sc, argv[2], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(cc, argv[3], NULL) != 1) {
		fprintf(stderr, "tls_ceiling: cannot load the certificates\n");
		return 66;
	}
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(sc, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(sc, 0); /* as bench/smtptls_srv */
	SSL_CTX_set_session_cache_mode(cc, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(cc, SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
	SSL_CTX_set_security_level(cc, 0);
	SSL_CTX_set_min_proto_version(cc, TLS1_VERSION);
	SSL_CTX_set_cipher_list(cc, "DEFAULT:@SECLEVEL=0");
	SSL_CTX_set_verify(cc, SSL_VERIFY_PEER, NULL);
	if (one(sc, cc, argv[4]) != 0) {
		fprintf(stderr, "tls_ceiling: the handshake or its verification failed\n");
		return 1;
	}
	t_client = t_server = 0;
	t0 = now();
	for (unsigned long i = 0; i < n; i++)
		if (one(sc, cc, argv[4]) != 0) {
			fprintf(stderr, "tls_ceiling: handshake %lu failed\n", i);
			return 1;
		}
	t1 = now();
	printf("%lu %.3f %.0f %.0f %.0f\n", n, t1 - t0, (double)n / (t1 - t0), t_client / (double)n * 1e6,
	       t_server / (double)n * 1e6);
	SSL_CTX_free(sc);
	SSL_CTX_free(cc);
	return 0;
}
