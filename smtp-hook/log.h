/*
 * Logging for postern-hookd: stderr in the foreground, syslog (mail
 * facility, next to Postfix's own lines) otherwise.  Callers never pass
 * a secret: the decoded password, the key, a TOTP code.
 */
#ifndef HOOKD_LOG_H
#define HOOKD_LOG_H

#include <syslog.h>

void log_init(int foreground, int debug);
void log_set_debug(int debug);
void hlog(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
