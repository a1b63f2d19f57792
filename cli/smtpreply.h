/*
 * SMTP replies for the TLS probe (`postern tls check/survey`): the pure
 * parser of one server reply (RFC 5321 section 4.2), bytes in, result
 * out, fuzzed by tests/fuzz/fuzz_smtpreply.c.
 *
 * A reply is one or more lines "CODE-text" ending with "CODE text" (or
 * a bare "CODE"), each ending in CRLF (a bare LF is taken too: some
 * servers send it).  Every line must carry the same three-digit code.
 * In an EHLO reply, a line whose keyword is STARTTLS (any case) says the
 * server offers it (RFC 3207).
 */
#ifndef POSTERN_SMTPREPLY_H
#define POSTERN_SMTPREPLY_H

#include <stddef.h>

#define SMTP_LINE_MAX 1000  /* one reply line with its CRLF (RFC 5321 says 512; be lenient) */
#define SMTP_REPLY_LINES 64 /* lines of one reply */
#define SMTP_TEXT_MAX 160   /* the text kept, for messages */

typedef enum smtp_reply_status {
	SMTP_REPLY_BAD = -1,  /* malformed: *why says how */
	SMTP_REPLY_MORE = 0,  /* incomplete: read more (nothing consumed) */
	SMTP_REPLY_DONE = 1   /* one whole reply; out->used bytes consumed */
} smtp_reply_status;

typedef struct smtp_reply {
	int code;                  /* 200..599 */
	int starttls;              /* a line's keyword is STARTTLS */
	size_t lines;
	size_t used;               /* bytes of buf the reply took */
	char text[SMTP_TEXT_MAX];  /* the first line's text, printable ASCII only */
} smtp_reply;

/* Parse the reply at the start of buf[0..len). */
smtp_reply_status smtp_reply_parse(smtp_reply *out, const char *buf, size_t len, const char **why);

#endif
