/*
 * log.h - one way out for every message of the daemon, the library and libfuse.
 *
 * Messages go to stderr (foreground, CLIs) or syslog (daemonised). Levels are
 * syslog's. aim_debug() tests the level before the arguments are evaluated, so
 * debug calls on hot paths cost one comparison when debugging is off.
 *
 * Repeats are rate-limited: of lines alike but for their numbers (a block
 * number, an offset), the first 5 in 10 s go out, then one line says how
 * many more there were. Debug lines are never held back.
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

/* say now how many repeats were held back (before the process exits) */
void aim_log_flush(void);

/* tests: hold back repeats after burst lines per window_ms (0: never) */
void aim_log_set_repeat(unsigned window_ms, unsigned burst);

#define aim_debug(...)                                                         \
	do {                                                                   \
		if (aim_log_level >= LOG_DEBUG)                                \
			aim_log(LOG_DEBUG, __VA_ARGS__);                       \
	} while (0)

/* parse "err", "warning", "notice", "info", "debug" or 0-7; -1 if unknown */
int aim_log_parse_level(const char *s);

#endif
