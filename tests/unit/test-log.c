/* test-log.c - levels and the rate limit on repeated lines */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "src/log.h"

/* stderr goes to a file while a test logs; restored by capture_end() */
struct capture {
	FILE *f;
	int saved;
};

static void capture_begin(struct capture *cp)
{
	fflush(stderr);
	cp->f = tmpfile();
	cp->saved = dup(2);
	CHECK(cp->f != NULL && cp->saved >= 0);
	if (cp->f)
		dup2(fileno(cp->f), 2);
}

/* what was logged, NUL-terminated; caller frees */
static char *capture_end(struct capture *cp)
{
	char *buf = calloc(1, 1 << 16);
	size_t n = 0;

	fflush(stderr);
	dup2(cp->saved, 2);
	close(cp->saved);
	if (buf && cp->f) {
		rewind(cp->f);
		n = fread(buf, 1, (1 << 16) - 1, cp->f);
		buf[n] = '\0';
	}
	if (cp->f)
		fclose(cp->f);
	return buf;
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; p && (p = strstr(p, what));
	     p += strlen(what))
		n++;
	return n;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void repeats(void)
{
	int saved_level = aim_log_level;
	struct capture cp;
	char *out;

	aim_log_level = LOG_INFO;
	aim_log_set_repeat(300, 3);
	capture_begin(&cp);
	for (unsigned i = 0; i < 100; i++)
		aim_log(LOG_WARNING, "offline: block %u of '%s' is not cached",
			i, "a.bin");
	/* another file is another group: not held back by the first */
	aim_log(LOG_WARNING, "offline: block %u of '%s' is not cached", 7u,
		"b.bin");
	aim_log(LOG_INFO, "unrelated line");
	sleep_ms(350);
	/* the window is over: the next line says what was held back */
	aim_log(LOG_WARNING, "offline: block %u of '%s' is not cached", 100u,
		"a.bin");
	out = capture_end(&cp);
	CHECK(count(out, "of 'a.bin' is not cached") == 3 + 1 + 1);
	CHECK(count(out, "of 'b.bin' is not cached") == 1);
	CHECK(count(out, "unrelated line") == 1);
	CHECK(count(out, "repeated 97 more times in 1 s, the last: offline: "
			 "block 99 of 'a.bin' is not cached") == 1);
	CHECK(strstr(out, "block 100 of 'a.bin'") != NULL);
	/* the summary comes before the line that opened the new window */
	CHECK(out && strstr(out, "repeated 97") < strstr(out, "block 100 of"));
	free(out);

	/* flush says it at once; debug lines are never held back */
	capture_begin(&cp);
	for (unsigned i = 0; i < 10; i++)
		aim_log(LOG_ERR, "store full: block %u", i);
	aim_log_level = LOG_DEBUG;
	for (unsigned i = 0; i < 10; i++)
		aim_log(LOG_DEBUG, "debug %u", i);
	aim_log_flush();
	out = capture_end(&cp);
	CHECK(count(out, "store full: block") == 3 + 1);
	CHECK(count(out, "repeated 7 more times") == 1);
	CHECK(count(out, "[debug]: debug ") == 10);
	free(out);

	/* burst 0: nothing is held back */
	aim_log_set_repeat(10000, 0);
	aim_log_level = LOG_INFO;
	capture_begin(&cp);
	for (unsigned i = 0; i < 20; i++)
		aim_log(LOG_ERR, "again %u", i);
	out = capture_end(&cp);
	CHECK(count(out, "again ") == 20);
	free(out);

	aim_log_set_repeat(10000, 5);
	aim_log_level = saved_level;
}

static void levels(void)
{
	int saved_level = aim_log_level;
	struct capture cp;
	char *out;

	CHECK(aim_log_parse_level("error") == LOG_ERR);
	CHECK(aim_log_parse_level("notice") == LOG_NOTICE);
	CHECK(aim_log_parse_level("7") == LOG_DEBUG);
	CHECK(aim_log_parse_level("loud") == -1);
	aim_log_level = LOG_ERR;
	capture_begin(&cp);
	aim_log(LOG_NOTICE, "a notice");
	aim_log(LOG_ERR, "an error");
	out = capture_end(&cp);
	CHECK(count(out, "a notice") == 0);
	CHECK(count(out, "[error]: an error") == 1);
	free(out);
	aim_log_level = saved_level;
}

const struct unit_test log_tests[] = {
	{ "log: levels", levels },
	{ "log: repeats are rate-limited", repeats },
	{ NULL, NULL },
};
