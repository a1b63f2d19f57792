/*
 * Postfix's socketmap protocol (socketmap_table(5)): netstrings
 * (`LEN:DATA,`) carrying `NAME KEY` requests and `OK DATA`,
 * `NOTFOUND `, `TEMP REASON`, `PERM REASON` replies.  Pure and bounded;
 * sm_parse() for requests, sm_reply() for replies.
 */
#ifndef HOOKD_PROTO_SOCKETMAP_H
#define HOOKD_PROTO_SOCKETMAP_H

#include <stddef.h>

#include "proto.h"

#define SM_REQUEST_MAX 10000 /* netstring payload */
#define SM_NAME_MAX 64

typedef struct sm_request {
	char name[SM_NAME_MAX + 1];
	char key[SM_REQUEST_MAX + 1]; /* NUL-terminated; NUL bytes inside are refused */
	size_t key_len;
} sm_request;

proto_status sm_parse(sm_request *out, const char *buf, size_t len, size_t *consumed, const char **err);

/* Write the netstring "LEN:STATUS[ DATA]," into out.  STATUS is OK,
 * NOTFOUND, TEMP or PERM; NOTFOUND is sent as "NOTFOUND " as Postfix
 * expects.  Returns the length, or -1 if it does not fit in outlen or
 * data holds a character Postfix cannot take (NUL, CR, LF). */
long sm_reply(char *out, size_t outlen, const char *status, const char *data);

#endif
