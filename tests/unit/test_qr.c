/*
 * Terminal QR codes: both renderings are read back into modules and
 * compared with libqrencode's matrix, quiet zone included, so what the
 * terminal shows is exactly the code libqrencode made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qr.h"
#include "testutil.h"

#define GRID_MAX 200

typedef struct grid {
	int rows, cols;
	unsigned char m[GRID_MAX][GRID_MAX]; /* 1 = dark */
} grid;

/* "##" dark, "  " light; one line per row. */
static void parse_ascii(grid *g, const char *text)
{
	int row = 0;

	memset(g, 0, sizeof(*g));
	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n;

		assert_non_null(nl); /* every line ends in '\n' */
		n = (size_t)(nl - text);
		assert_int_equal(n % 2, 0);
		assert_true(row < GRID_MAX && n / 2 < GRID_MAX);
		for (size_t i = 0; i < n; i += 2) {
			if (memcmp(text + i, "##", 2) == 0)
				g->m[row][i / 2] = 1;
			else if (memcmp(text + i, "  ", 2) == 0)
				g->m[row][i / 2] = 0;
			else
				fail_msg("unexpected cell '%.2s' at row %d", text + i, row);
		}
		if (row == 0)
			g->cols = (int)(n / 2);
		assert_int_equal((int)(n / 2), g->cols);
		row++;
		text = nl + 1;
	}
	g->rows = row;
}

/* UTF-8 half blocks, two rows a line; the blocks are the light modules. */
static void parse_utf8(grid *g, const char *text)
{
	int line = 0;

	memset(g, 0, sizeof(*g));
	while (*text) {
		int col = 0, top, bottom;

		while (*text != '\n') {
			assert_int_not_equal(*text, '\0');
			if (*text == ' ') {
				top = 1, bottom = 1;
				text++;
			} else if (memcmp(text, "\xe2\x96\x88", 3) == 0) { /* full block */
				top = 0, bottom = 0;
				text += 3;
			} else if (memcmp(text, "\xe2\x96\x80", 3) == 0) { /* upper half light */
				top = 0, bottom = 1;
				text += 3;
			} else if (memcmp(text, "\xe2\x96\x84", 3) == 0) { /* lower half light */
				top = 1, bottom = 0;
				text += 3;
			} else {
				fail_msg("unexpected byte 0x%02x on line %d", (unsigned char)*text, line);
				return;
			}
			assert_true(col < GRID_MAX && 2 * line + 1 < GRID_MAX);
			g->m[2 * line][col] = (unsigned char)top;
			g->m[2 * line + 1][col] = (unsigned char)bottom;
			col++;
		}
		if (line == 0)
			g->cols = col;
		assert_int_equal(col, g->cols);
		line++;
		text++;
	}
	g->rows = 2 * line;
}

/* The grid is the matrix inside a light quiet zone of at least 2 modules
 * (the half-block form may add one light row to make the pairs even). */
static void assert_grid_is(const grid *g, const unsigned char *m, int size)
{
	int margin = (g->cols - size) / 2;

	assert_true(margin >= 2);
	assert_int_equal(g->cols, size + 2 * margin);
	assert_true(g->rows == size + 2 * margin || g->rows == size + 2 * margin + 1);
	for (int r = 0; r < g->rows; r++)
		for (int c = 0; c < g->cols; c++) {
			int rr = r - margin, cc = c - margin;
			int want = (rr >= 0 && cc >= 0 && rr < size && cc < size) ? m[rr * size + cc] : 0;

			if (g->m[r][c] != want)
				fail_msg("module (%d,%d) is %d, want %d", r, c, g->m[r][c], want);
		}
}

static const char *const texts[] = {
	"otpauth://totp/Postern:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Postern"
	"&algorithm=SHA1&digits=6&period=30",
	"x",
	"otpauth://totp/ACME%20Mail%20%26%20Co:a.very.long.local.part.for.testing%2Bplus%40sub.example.org"
	"?secret=ABCDEFGHIJKLMNOPQRSTUVWXYZ234567&issuer=ACME%20Mail%20%26%20Co&algorithm=SHA1&digits=8&period=60",
};

static void test_both_renderings_decode(void **state)
{
	static grid g;

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		unsigned char *m = NULL;
		char *utf8, *ascii;
		int size = 0;

		assert_int_equal(qr_matrix(&m, &size, texts[i]), 0);
		assert_true(size >= 21 && (size - 17) % 4 == 0); /* a QR version's size */
		utf8 = qr_render(texts[i], 0);
		ascii = qr_render(texts[i], ACCT_QR_ASCII);
		assert_non_null(utf8);
		assert_non_null(ascii);
		parse_utf8(&g, utf8);
		assert_grid_is(&g, m, size);
		parse_ascii(&g, ascii);
		assert_grid_is(&g, m, size);
		free(utf8);
		free(ascii);
		free(m);
	}
}

static void test_finder_pattern(void **state)
{
	unsigned char *m = NULL;
	int size = 0;

	(void)state;
	/* The top-left finder: a dark 7x7 ring around a light ring around a dark 3x3. */
	assert_int_equal(qr_matrix(&m, &size, texts[0]), 0);
	for (int r = 0; r < 7; r++)
		for (int c = 0; c < 7; c++) {
			int ring = r == 0 || r == 6 || c == 0 || c == 6;
			int core = r >= 2 && r <= 4 && c >= 2 && c <= 4;

			assert_int_equal(m[r * size + c], ring || core);
		}
	free(m);
}

static void test_bad_input(void **state)
{
	static unsigned char dummy[1];
	unsigned char *m = dummy;
	char *big = malloc(QR_TEXT_MAX + 2);
	int size = 7;

	(void)state;
	assert_int_equal(qr_matrix(&m, &size, NULL), -1);
	assert_null(m);
	assert_int_equal(size, 0);
	memset(big, 'a', QR_TEXT_MAX + 1);
	big[QR_TEXT_MAX + 1] = '\0';
	assert_null(qr_render(big, 0));
	assert_null(qr_render_matrix(NULL, 21, 0));
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_renderings_decode),
		cmocka_unit_test(test_finder_pattern),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
