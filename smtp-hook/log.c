/* Logging for postern-hookd (see log.h). */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static int to_stderr = 1;
static int want_debug;

void log_init(int foreground, int debug)
{
	to_stderr = foreground;
	want_debug = debug;
	if (!foreground)
		openlog("postern-hookd", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void log_set_debug(int debug)
{
	want_debug = debug;
}

void hlog(int priority, const char *fmt, ...)
{
	static const char *const names[] = {"emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
	va_list ap;

	if (priority == LOG_DEBUG && !want_debug)
		return;
	va_start(ap, fmt);
	if (to_stderr) {
		char line[1024];

		vsnprintf(line, sizeof(line), fmt, ap);
		fprintf(stderr, "postern-hookd: %s: %s\n", names[priority & 7], line);
	} else {
		vsyslog(priority, fmt, ap);
	}
	va_end(ap);
}
