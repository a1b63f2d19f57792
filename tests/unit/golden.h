/*
 * Golden-file tests for the daemon's protocol parsers (Postfix's
 * smtpd_token.in/.ref pattern): tests/proto/NAME.in holds cases
 * separated by lines "%%"; each case is fed to the parser until it is
 * used up, needs more or fails, and everything the parser says is
 * printed; the result must equal tests/proto/NAME.ref byte for byte.
 * PROTO_UPDATE=1 in the environment rewrites the .ref instead (review
 * the diff before committing it).
 */
#ifndef POSTERN_GOLDEN_H
#define POSTERN_GOLDEN_H

#include <stddef.h>
#include <stdio.h>

#include "proto.h"

/* Parse one request from buf; print it to out; set *consumed. */
typedef proto_status (*golden_step)(FILE *out, const char *buf, size_t len, size_t *consumed);

/* strip_nl: drop the newline that ends each case (for protocols
 * without lines, such as netstrings). */
void golden_run(const char *name, int strip_nl, golden_step step);

/* Print s[0..n) with TAB, CR, LF, '\' and non-printables escaped. */
void golden_str(FILE *out, const char *s, size_t n);

#endif
