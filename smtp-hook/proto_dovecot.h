/*
 * The Dovecot authentication protocol, server side, as Postfix's
 * smtpd_sasl_type = dovecot speaks it (version 1): tab-separated lines.
 *
 *   client: VERSION 1 0 | CPID pid | AUTH id mech [name[=value]]... | CONT id data
 *   server: VERSION 1 2, MECH ..., SPID, CUID, COOKIE, DONE; then
 *           OK id user=NAME | FAIL id reason=TEXT | CONT id data
 *
 * dv_parse() parses one line; dv_plain() and dv_b64_decode() decode
 * what a mechanism carries.  All pure, all bounded.
 */
#ifndef HOOKD_PROTO_DOVECOT_H
#define HOOKD_PROTO_DOVECOT_H

#include <stddef.h>

#include "proto.h"

#define DV_LINE_MAX 8192 /* longest request line, newline included */
#define DV_MECH_MAX 32
#define DV_SERVICE_MAX 32
#define DV_ADDR_MAX 64
#define DV_DATA_MAX 4096 /* base64 text of a SASL response */
#define DV_CRED_MAX 1024 /* a decoded username or password */

typedef enum dv_cmd { DV_VERSION, DV_CPID, DV_AUTH, DV_CONT, DV_OTHER } dv_cmd;

typedef struct dv_request {
	dv_cmd cmd;
	unsigned long major, minor;  /* VERSION */
	unsigned long pid;           /* CPID */
	unsigned long id;            /* AUTH, CONT */
	char mech[DV_MECH_MAX + 1];  /* AUTH, upper case as sent */
	char service[DV_SERVICE_MAX + 1];
	char lip[DV_ADDR_MAX + 1], rip[DV_ADDR_MAX + 1];
	int secured;
	int has_resp;                /* AUTH with resp= (an initial response) */
	char data[DV_DATA_MAX + 1];  /* AUTH resp= or CONT data: base64 text */
	size_t data_len;
} dv_request;

/* Parse one request line from buf[0..len).  PROTO_REQUEST fills *out and
 * *consumed (the line with its newline); PROTO_ERROR sets *err and
 * *consumed to the bad line's length (or len when no newline is within
 * DV_LINE_MAX). */
proto_status dv_parse(dv_request *out, const char *buf, size_t len, size_t *consumed, const char **err);

/* Decode base64 (RFC 4648, padding required, no whitespace).  Returns the
 * decoded length, or -1 for bad input or a result longer than outlen. */
long dv_b64_decode(unsigned char *out, size_t outlen, const char *in, size_t inlen);

/* Encode into out (NUL-terminated); -1 if it does not fit. */
long dv_b64_encode(char *out, size_t outlen, const unsigned char *in, size_t inlen);

/* A PLAIN response (RFC 4616): [authzid] NUL authcid NUL passwd.  Copies
 * authcid and passwd NUL-terminated; 0, or -1 if malformed (missing
 * separators, a NUL inside a field, a field over DV_CRED_MAX, an
 * authzid that differs from authcid). */
int dv_plain(char user[DV_CRED_MAX + 1], char pass[DV_CRED_MAX + 1], const unsigned char *msg, size_t len);

/* A LOGIN step: the decoded bytes as a C string; -1 if empty, containing
 * NUL or longer than DV_CRED_MAX. */
int dv_login_field(char out[DV_CRED_MAX + 1], const unsigned char *msg, size_t len);

#endif
