/*
 * Postfix's policy delegation protocol (SMTPD_POLICY_README): a request
 * is `name=value` lines ended by an empty line; the answer is
 * `action=...` and an empty line.  pol_parse() parses one request and
 * keeps the attributes postern-hookd decides on; the others are checked
 * for syntax and limits only.  Pure and bounded.
 */
#ifndef HOOKD_PROTO_POLICY_H
#define HOOKD_PROTO_POLICY_H

#include <stddef.h>

#include "proto.h"

#define POL_REQUEST_MAX 16384 /* a whole request, empty line included */
#define POL_LINE_MAX 4096     /* one attribute line */
#define POL_ATTRS_MAX 100     /* attributes per request (Postfix 3.7 sends 29) */
#define POL_VALUE_MAX 255     /* the attributes kept below */

typedef struct pol_request {
	char request[32];                      /* "smtpd_access_policy" */
	char protocol_state[16];               /* "RCPT", ... */
	char sasl_method[32];
	char sasl_username[POL_VALUE_MAX + 1];
	char client_address[64];
	char instance[64];
	char encryption_protocol[32];
	char recipient[POL_VALUE_MAX + 1];
	int nattrs;
} pol_request;

/* PROTO_REQUEST fills *out and sets *consumed to the request's length;
 * PROTO_ERROR sets *err (a line without '=', a repeated attribute, a
 * kept attribute over its limit, a line or request over the limits). */
proto_status pol_parse(pol_request *out, const char *buf, size_t len, size_t *consumed, const char **err);

#endif
