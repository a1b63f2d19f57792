/* UTF-8 checks shared by the validators. */
#ifndef ACCT_UTF8_H
#define ACCT_UTF8_H

#include <stddef.h>

/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, at
 * most U+10FFFF) without C0 controls, DEL or C1 controls. */
int utf8_valid_text(const char *s, size_t n);

#endif
