/* Golden-file driver for the protocol parsers; see golden.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "golden.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

void golden_str(FILE *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t')
			fputs("\\t", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\\')
			fputs("\\\\", out);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

void golden_run(const char *name, int strip_nl, golden_step step)
{
	char in_path[512], ref_path[512], *in, *ref, *got = NULL;
	size_t in_len, ref_len = 0, got_len = 0, pos = 0;
	FILE *out = open_memstream(&got, &got_len);
	int ncase = 0;

	assert_non_null(out);
	snprintf(in_path, sizeof(in_path), "%s/%s.in", PROTO_DIR, name);
	snprintf(ref_path, sizeof(ref_path), "%s/%s.ref", PROTO_DIR, name);
	in = slurp(in_path, &in_len);
	assert_non_null(in);
	while (pos <= in_len) {
		const char *sep = memmem(in + pos, in_len - pos, "%%\n", 3);
		size_t end, len, off = 0;

		/* A separator counts only at the start of a line (cases may hold NUL bytes). */
		while (sep && sep != in + pos && sep[-1] != '\n')
			sep = memmem(sep + 1, in_len - (size_t)(sep + 1 - in), "%%\n", 3);
		end = sep ? (size_t)(sep - in) : in_len;
		len = end - pos;
		if (strip_nl && len > 0 && in[pos + len - 1] == '\n')
			len--;
		fprintf(out, "== case %d (%zu bytes)\n", ++ncase, len);
		while (off < len) {
			size_t used = 0;
			proto_status st = step(out, in + pos + off, len - off, &used);

			if (st == PROTO_NEED_MORE) {
				fprintf(out, "NEED_MORE (%zu bytes buffered)\n", len - off);
				break;
			}
			assert_true(used > 0 && used <= len - off);
			off += used;
			if (st == PROTO_ERROR)
				break;
		}
		if (sep == NULL)
			break;
		pos = end + 3;
	}
	fclose(out);
	if (getenv("PROTO_UPDATE")) {
		FILE *f = fopen(ref_path, "wb");
		assert_non_null(f);
		fwrite(got, 1, got_len, f);
		fclose(f);
	}
	ref = slurp(ref_path, &ref_len);
	if (ref == NULL)
		fail_msg("%s missing (PROTO_UPDATE=1 writes it)", ref_path);
	if (ref_len != got_len || memcmp(ref, got, got_len) != 0)
		fail_msg("%s: the parser's output differs from %s:\n%s", in_path, ref_path, got);
	free(in);
	free(ref);
	free(got);
}
