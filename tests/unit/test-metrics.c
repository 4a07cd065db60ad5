/* test-metrics.c - histograms, fetch error classes, the exposition text */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "src/cache.h"
#include "src/conf.h"
#include "src/metrics.h"

static void histograms(void)
{
	uint64_t before = aim_metrics_hist_count(AIM_HIST_FETCH);

	aim_metrics_observe(AIM_HIST_FETCH, 50000);	   /* 50 us */
	aim_metrics_observe(AIM_HIST_FETCH, 3000000);	   /* 3 ms */
	aim_metrics_observe(AIM_HIST_FETCH, 120000000000); /* 2 min */
	CHECK(aim_metrics_hist_count(AIM_HIST_FETCH) == before + 3);
	CHECK(aim_metrics_now_ns() > 0);
}

static void error_classes(void)
{
	static const struct {
		int rc;
		enum aim_fetch_error want;
	} cases[] = {
		{ -ENOSPC, AIM_FERR_NO_SPACE },
		{ -EDQUOT, AIM_FERR_NO_SPACE },
		{ -ESTALE, AIM_FERR_CHANGED },
		{ -ETIMEDOUT, AIM_FERR_TIMEOUT },
		{ -ECONNREFUSED, AIM_FERR_CONNECT },
		{ -EIO, AIM_FERR_OTHER },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t before = aim_metrics_errors(cases[i].want);
		aim_metrics_fetch_failed(cases[i].rc);
		CHECK(aim_metrics_errors(cases[i].want) == before + 1);
	}
}

/* the value of the sample line that starts with what, or -1 */
static long long value_of(const char *text, const char *what)
{
	size_t n = strlen(what);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, what, n) == 0 && p[n] == ' ')
			return atoll(p + n + 1);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return -1;
}

#define BUCKET(le) "aimfs_read_duration_seconds_bucket{le=\"" le "\"}"

static void exposition(void)
{
	struct aim_conf conf;
	struct aim_cache *c = NULL;
	char *cause = NULL, *text = NULL;
	size_t len = 0;

	aim_conf_init(&conf);
	CHECK(aim_conf_set(&conf, "store", unit_tmpdir(), &cause) == 0);
	CHECK(aim_conf_set(&conf, "offline", "yes", &cause) == 0);
	CHECK(aim_conf_set(&conf, "cache_size", "1G", &cause) == 0);
	CHECK(aim_conf_finish(&conf, &cause) == 0);
	CHECK(aim_cache_open(&conf, &c, &cause) == 0);
	if (c == NULL) {
		free(cause);
		aim_conf_release(&conf);
		return;
	}
	aim_metrics_observe(AIM_HIST_READ, 200000); /* 200 us */
	CHECK(aim_metrics_render(c, &text, &len) == 0);
	CHECK(text && strlen(text) == len && text[len - 1] == '\n');
	if (text) {
		CHECK(strstr(text, "# TYPE aimfs_read_duration_seconds "
				   "histogram\n") != NULL);
		CHECK(strstr(text, "# TYPE aimfs_block_hits_total counter\n"));
		CHECK(value_of(text, "aimfs_store_limit_bytes") == 1LL << 30);
		CHECK(value_of(text, "aimfs_offline") == 1);
		CHECK(value_of(text, "aimfs_models{state=\"complete\"}") == 0);
		/* cumulative buckets: 200 us is above 0.0001, within 0.00025 */
		long long lo = value_of(text, BUCKET("0.0001"));
		long long hi = value_of(text, BUCKET("0.00025"));
		long long inf = value_of(text, BUCKET("+Inf"));
		CHECK(hi == lo + 1);
		CHECK(inf >= hi);
		CHECK(inf == value_of(text,
				      "aimfs_read_duration_seconds_count"));
	}
	free(text);
	aim_cache_free(&c);
	aim_conf_release(&conf);
}

const struct unit_test metrics_tests[] = {
	{ "metrics: histograms", histograms },
	{ "metrics: fetch error classes", error_classes },
	{ "metrics: exposition text", exposition },
	{ NULL, NULL },
};
