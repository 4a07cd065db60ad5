/*
 * log.c - the single logging sink (see log.h).
 *
 * Repeats are rate-limited here, once for every caller: a reader retrying
 * a missing block, an offline mount or a full store would otherwise print
 * one line per block, thousands a second, and bury the line that says why.
 * Lines are grouped by their text with every run of digits masked (block
 * numbers, offsets, attempt counts), so repeats about the same file and
 * model are one group while another file or model gets its own.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <pthread.h>

#include "log.h"

#define REPEAT_SLOTS 64
#define REPEAT_LAST  512 /* what a summary quotes of the last repeat */

int aim_log_level = LOG_NOTICE;
static int to_syslog;
static const char *log_ident = "aimfs";

/* a group of like lines within one window */
struct repeat {
	uint64_t key;	   /* 0: a free slot */
	uint64_t start_ms; /* when the window began */
	unsigned seen;	   /* lines of the group in the window */
	int level;
	char last[REPEAT_LAST]; /* the last line held back */
};

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
/* protected by log_lock: */
static struct repeat repeats[REPEAT_SLOTS];
static unsigned repeat_window_ms = 10000;
static unsigned repeat_burst = 5;

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

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* write one line; log_lock held */
static void emit(int level, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];

	if (to_syslog) {
		syslog(level, "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", stamp, ts.tv_nsec / 1000000,
		log_ident, level_name(level), msg);
}

/* FNV-1a of the line with each run of digits read as one '#' */
static uint64_t repeat_key(const char *msg)
{
	uint64_t h = 14695981039346656037ULL;
	int in_digits = 0;

	for (const char *p = msg; *p; p++) {
		int digit = *p >= '0' && *p <= '9';
		if (digit && in_digits)
			continue;
		in_digits = digit;
		h ^= (unsigned char)(digit ? '#' : *p);
		h *= 1099511628211ULL;
	}
	return h ? h : 1;
}

/* say how many lines of r were held back and free the slot; log_lock held */
static void repeat_close(struct repeat *r, uint64_t now)
{
	char line[REPEAT_LAST + 96];

	if (r->seen > repeat_burst) {
		uint64_t secs = (now - r->start_ms + 999) / 1000;
		snprintf(line, sizeof(line),
			 "repeated %u more times in %llu s, the last: %s",
			 r->seen - repeat_burst,
			 (unsigned long long)(secs ? secs : 1), r->last);
		emit(r->level, line);
	}
	r->key = 0;
	r->seen = 0;
}

/* 1 if msg may go out now; log_lock held */
static int repeat_admit(int level, const char *msg)
{
	uint64_t key = repeat_key(msg), now = mono_ms();
	struct repeat *slot = NULL, *free_slot = NULL, *oldest = NULL;

	for (int i = 0; i < REPEAT_SLOTS; i++) {
		struct repeat *r = &repeats[i];
		if (r->key && now - r->start_ms >= repeat_window_ms)
			repeat_close(r, now);
		if (r->key == key)
			slot = r;
		else if (r->key == 0)
			free_slot = free_slot ? free_slot : r;
		else if (oldest == NULL || r->start_ms < oldest->start_ms)
			oldest = r;
	}
	if (slot == NULL) {
		/* a group not seen in this window: a free slot, or the oldest
		 * group's, which is closed first */
		slot = free_slot ? free_slot : oldest;
		if (slot->key)
			repeat_close(slot, now);
		slot->key = key;
		slot->start_ms = now;
		slot->level = level;
	}
	if (++slot->seen <= repeat_burst)
		return 1;
	snprintf(slot->last, sizeof(slot->last), "%s", msg);
	return 0;
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

	pthread_mutex_lock(&log_lock);
	/* whoever asks for debug output wants all of it */
	if (level >= LOG_DEBUG || repeat_burst == 0 || repeat_admit(level, msg))
		emit(level, msg);
	pthread_mutex_unlock(&log_lock);
}

void aim_log_flush(void)
{
	uint64_t now = mono_ms();

	pthread_mutex_lock(&log_lock);
	for (int i = 0; i < REPEAT_SLOTS; i++)
		if (repeats[i].key)
			repeat_close(&repeats[i], now);
	pthread_mutex_unlock(&log_lock);
}

void aim_log_set_repeat(unsigned window_ms, unsigned burst)
{
	aim_log_flush();
	pthread_mutex_lock(&log_lock);
	repeat_window_ms = window_ms;
	repeat_burst = burst;
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
