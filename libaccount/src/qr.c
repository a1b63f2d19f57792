/*
 * Terminal QR codes for 2FA enrollment (see qr.h).  The text is encoded
 * in byte mode at error-correction level M, the usual choice for
 * otpauth URIs, with the smallest version that fits.
 */
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "postern/account.h"
#include "qr.h"

int qr_matrix(unsigned char **out, int *size, const char *text)
{
	QRcode *qr;
	unsigned char *m;
	size_t n;

	*out = NULL;
	*size = 0;
	if (text == NULL || strlen(text) > QR_TEXT_MAX)
		return -1;
	if ((qr = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M)) == NULL)
		return -1;
	n = (size_t)qr->width * (size_t)qr->width;
	if ((m = malloc(n)) == NULL) {
		QRcode_free(qr);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		m[i] = qr->data[i] & 1; /* bit 0 is the module's colour */
	*size = qr->width;
	*out = m;
	QRcode_free(qr);
	return 0;
}

/* A module of the matrix with its quiet zone: outside = light. */
static int dark(const unsigned char *m, int size, int row, int col)
{
	row -= QR_MARGIN;
	col -= QR_MARGIN;
	if (row < 0 || col < 0 || row >= size || col >= size)
		return 0;
	return m[(size_t)row * (size_t)size + (size_t)col] != 0;
}

char *qr_render_matrix(const unsigned char *m, int size, unsigned int flags)
{
	int full = size + 2 * QR_MARGIN;
	size_t lines, per_line, off = 0;
	char *out;

	if (m == NULL || size <= 0 || size > 177)
		return NULL;
	if (flags & ACCT_QR_ASCII) {
		lines = (size_t)full;
		per_line = 2 * (size_t)full + 1;
	} else {
		lines = ((size_t)full + 1) / 2;
		per_line = 3 * (size_t)full + 1; /* a half block is 3 bytes of UTF-8 */
	}
	if ((out = malloc(lines * per_line + 1)) == NULL)
		return NULL;
	if (flags & ACCT_QR_ASCII) {
		for (int r = 0; r < full; r++) {
			for (int c = 0; c < full; c++) {
				const char *cell = dark(m, size, r, c) ? "##" : "  ";

				memcpy(out + off, cell, 2);
				off += 2;
			}
			out[off++] = '\n';
		}
	} else {
		for (int r = 0; r < full; r += 2) {
			for (int c = 0; c < full; c++) {
				int top = dark(m, size, r, c), bottom = r + 1 < full && dark(m, size, r + 1, c);

				if (top && bottom) {
					out[off++] = ' ';
					continue;
				}
				/* U+2588 full, U+2580 upper half, U+2584 lower half: the light part */
				memcpy(out + off, top ? "\xe2\x96\x84" : bottom ? "\xe2\x96\x80" : "\xe2\x96\x88", 3);
				off += 3;
			}
			out[off++] = '\n';
		}
	}
	out[off] = '\0';
	return out;
}

char *qr_render(const char *text, unsigned int flags)
{
	unsigned char *m;
	char *out;
	int size;

	if (qr_matrix(&m, &size, text) != 0)
		return NULL;
	out = qr_render_matrix(m, size, flags);
	free(m);
	return out;
}
