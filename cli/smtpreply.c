/*
 * The SMTP reply parser (see smtpreply.h).  Pure: no I/O, no allocation,
 * every line bounded by SMTP_LINE_MAX and every reply by
 * SMTP_REPLY_LINES.
 */
#include "smtpreply.h"

#include <string.h>
#include <strings.h>

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The line's keyword (after "CODE-" or "CODE ") is STARTTLS. */
static int keyword_starttls(const char *t, size_t n)
{
	if (n < 8 || strncasecmp(t, "STARTTLS", 8) != 0)
		return 0;
	return n == 8 || t[8] == ' ' || t[8] == '\t';
}

static void keep_text(char *out, const char *t, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < SMTP_TEXT_MAX; i++) {
		unsigned char c = (unsigned char)t[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[o] = '\0';
}

smtp_reply_status smtp_reply_parse(smtp_reply *out, const char *buf, size_t len, const char **why)
{
	size_t pos = 0;

	memset(out, 0, sizeof(*out));
	*why = NULL;
	for (;;) {
		const char *line = buf + pos, *nl;
		size_t avail = len - pos, n, tn;
		int code;

		nl = memchr(line, '\n', avail < SMTP_LINE_MAX ? avail : SMTP_LINE_MAX);
		if (nl == NULL) {
			if (avail >= SMTP_LINE_MAX) {
				*why = "reply line longer than 1000 bytes";
				return SMTP_REPLY_BAD;
			}
			/* a partial line: its start can already be judged */
			for (size_t i = 0; i < avail && i < 3; i++)
				if (!is_digit(line[i])) {
					*why = "reply line does not start with a three-digit code";
					return SMTP_REPLY_BAD;
				}
			return SMTP_REPLY_MORE;
		}
		n = (size_t)(nl - line); /* without the LF */
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) {
			*why = "reply line does not start with a three-digit code";
			return SMTP_REPLY_BAD;
		}
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (code < 200 || code > 599) {
			*why = "reply code outside 200..599";
			return SMTP_REPLY_BAD;
		}
		if (n > 3 && line[3] != ' ' && line[3] != '-') {
			*why = "reply code not followed by a space or a hyphen";
			return SMTP_REPLY_BAD;
		}
		if (out->lines == 0)
			out->code = code;
		else if (code != out->code) {
			*why = "lines of one reply with different codes";
			return SMTP_REPLY_BAD;
		}
		if (++out->lines > SMTP_REPLY_LINES) {
			*why = "reply of more than 64 lines";
			return SMTP_REPLY_BAD;
		}
		tn = n > 4 ? n - 4 : 0;
		if (out->lines == 1)
			keep_text(out->text, line + 4, tn);
		else if (keyword_starttls(line + 4, tn))
			out->starttls = 1;
		pos += (size_t)(nl - line) + 1;
		if (n == 3 || line[3] == ' ') {
			out->used = pos;
			return SMTP_REPLY_DONE;
		}
	}
}
