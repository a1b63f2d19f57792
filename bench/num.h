/* Strict number parsing for the bench programs' options. */
#ifndef BENCH_NUM_H
#define BENCH_NUM_H

/* Decimal digits only (no sign, no spaces), within [min, max]: 0 with
 * *out set, or -1. */
int parse_ulong(const char *s, unsigned long min, unsigned long max, unsigned long *out);

#endif
