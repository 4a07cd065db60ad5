/*
 * log.c - the single logging sink (see log.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include "log.h"

int aim_log_level = LOG_NOTICE;
static int to_syslog;
static const char *log_ident = "aimfs";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void aim_log_open(const char *ident, int use_syslog)
{
	log_ident = ident;
	to_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID, LOG_DAEMON);
}

static const char *level_name(int level)
{
	static const char *names[] = { "emerg", "alert", "crit",   "error",
				       "warning", "notice", "info", "debug" };
	return level >= 0 && level <= 7 ? names[level] : "?";
}

void aim_log(int level, const char *fmt, ...)
{
	va_list ap;
	char msg[2048];

	if (level > aim_log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* a trailing newline from libfuse would make an empty line */
	size_t n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';

	if (to_syslog) {
		syslog(level, "%s", msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", stamp, ts.tv_nsec / 1000000,
		log_ident, level_name(level), msg);
	pthread_mutex_unlock(&log_lock);
}

int aim_log_parse_level(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} map[] = { { "err", LOG_ERR },	      { "error", LOG_ERR },
		    { "warning", LOG_WARNING }, { "warn", LOG_WARNING },
		    { "notice", LOG_NOTICE },   { "info", LOG_INFO },
		    { "debug", LOG_DEBUG } };

	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(s, map[i].name) == 0)
			return map[i].level;
	return -1;
}
