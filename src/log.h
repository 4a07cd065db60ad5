/*
 * log.h - one way out for every message of the daemon, the library and libfuse.
 *
 * Messages go to stderr (foreground, CLIs) or syslog (daemonised). Levels are
 * syslog's. aim_debug() tests the level before the arguments are evaluated, so
 * debug calls on hot paths cost one comparison when debugging is off.
 *
 * Never pass a token, a key or a signed URL's query string to these functions;
 * aim_url_redact() in util.h strips a URL down to what may be logged.
 */
#ifndef AIM_LOG_H
#define AIM_LOG_H

#include <syslog.h>

extern int aim_log_level;

/* ident is borrowed for the life of the process (syslog keeps it) */
void aim_log_open(const char *ident, int use_syslog);
void aim_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define aim_debug(...)                                                         \
	do {                                                                   \
		if (aim_log_level >= LOG_DEBUG)                                \
			aim_log(LOG_DEBUG, __VA_ARGS__);                       \
	} while (0)

/* parse "err", "warning", "notice", "info", "debug" or 0-7; -1 if unknown */
int aim_log_parse_level(const char *s);

#endif
