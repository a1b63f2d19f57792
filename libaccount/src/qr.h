/*
 * QR codes for a terminal, through libqrencode: the otpauth:// URI of
 * an enrollment as text an authenticator app can scan off the screen.
 */
#ifndef ACCT_QR_H
#define ACCT_QR_H

#include <stddef.h>

#define QR_MARGIN 2      /* quiet zone, in modules, on every side */
#define QR_TEXT_MAX 2048 /* longest text we encode (version 40-M holds 2331 bytes) */

/*
 * The module matrix of `text`: *out gets size * size bytes, row by row,
 * 1 = dark, 0 = light (no quiet zone); free() it.  0 or -1.
 */
int qr_matrix(unsigned char **out, int *size, const char *text);

/*
 * Render a matrix with a QR_MARGIN quiet zone, lines ending in '\n'.
 * Default: UTF-8 half blocks, two module rows per line, drawn as
 * qrencode -t UTF8 does for a dark terminal (light modules are the
 * foreground-coloured blocks, dark modules the background).  With
 * ACCT_QR_ASCII: "##" for a dark module and "  " for a light one, one
 * line per row (qrencode -t ASCII).  NULL when out of memory.
 */
char *qr_render_matrix(const unsigned char *m, int size, unsigned int flags);

/* Both in one: NULL on failure. */
char *qr_render(const char *text, unsigned int flags);

#endif
