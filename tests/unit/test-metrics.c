/* test-metrics.c - histograms, fetch error classes, the exposition text */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "src/cache.h"
#include "src/conf.h"
#include "src/metrics.h"
#include "src/scrape.h"

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

static void addresses(void)
{
	struct aim_scrape_addr a;
	struct aim_conf conf;
	const char *why;
	char *cause = NULL;

	CHECK(aim_scrape_parse("127.0.0.1:9464", &a, &why) == 0 && a.loopback &&
	      !a.is_unix);
	CHECK(aim_scrape_parse("localhost:0", &a, &why) == 0 && a.loopback);
	CHECK(aim_scrape_parse("[::1]:9464", &a, &why) == 0 && a.loopback);
	CHECK(aim_scrape_parse("127.8.9.10:1", &a, &why) == 0 && a.loopback);
	CHECK(aim_scrape_parse("0.0.0.0:9464", &a, &why) == 0 && !a.loopback);
	CHECK(aim_scrape_parse("[::]:9464", &a, &why) == 0 && !a.loopback);
	CHECK(aim_scrape_parse("10.1.2.3:80", &a, &why) == 0 && !a.loopback);
	CHECK(aim_scrape_parse("unix:/run/m.sock", &a, &why) == 0 && a.is_unix);
	CHECK(aim_scrape_parse("unix:m.sock", &a, &why) == -EINVAL);
	CHECK(aim_scrape_parse("example.com:80", &a, &why) == -EINVAL);
	CHECK(aim_scrape_parse("127.0.0.1", &a, &why) == -EINVAL);
	CHECK(aim_scrape_parse("127.0.0.1:", &a, &why) == -EINVAL);
	CHECK(aim_scrape_parse("127.0.0.1:65536", &a, &why) == -EINVAL);
	CHECK(aim_scrape_parse("127.0.0.1:-1", &a, &why) == -EINVAL);
	CHECK(aim_scrape_parse("::1:80", &a, &why) == -EINVAL);
	CHECK(aim_scrape_parse("[::1]80", &a, &why) == -EINVAL);
	CHECK(aim_scrape_parse(":80", &a, &why) == -EINVAL);

	aim_conf_init(&conf);
	CHECK(aim_conf_known("metrics") && aim_conf_known("metrics_remote"));
	CHECK(aim_conf_set(&conf, "metrics", "127.0.0.1:9464", &cause) == 0 &&
	      conf.metrics && strcmp(conf.metrics, "127.0.0.1:9464") == 0);
	CHECK(aim_conf_set(&conf, "metrics", "nope", &cause) == -EINVAL &&
	      cause && strstr(cause, "'metrics'"));
	free(cause);
	CHECK(aim_conf_set(&conf, "metrics", "off", &cause) == 0 &&
	      conf.metrics == NULL);
	CHECK(aim_conf_set(&conf, "metrics_remote", NULL, &cause) == 0 &&
	      conf.metrics_remote == 1);
	aim_conf_release(&conf);
}

static void routes(void)
{
	static const struct {
		const char *head;
		const char *want; /* NULL: the metrics */
		int head_only;
	} cases[] = {
		{ "GET /metrics HTTP/1.0\r\n\r\n", NULL, 0 },
		{ "GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", NULL, 0 },
		{ "HEAD /metrics HTTP/1.0\n\n", NULL, 1 },
		{ "GET /metricsx HTTP/1.0\r\n\r\n", "404 Not Found", 0 },
		{ "GET / HTTP/1.0\r\n\r\n", "404 Not Found", 0 },
		{ "POST /metrics HTTP/1.0\r\n\r\n", "405 Method Not Allowed",
		  0 },
		{ "get /metrics HTTP/1.0\r\n\r\n", "400 Bad Request", 0 },
		{ "GET /metrics\r\n\r\n", "400 Bad Request", 0 },
		{ "GET  /metrics HTTP/1.0\r\n\r\n", "400 Bad Request", 0 },
		{ " GET /metrics HTTP/1.0\r\n", "400 Bad Request", 0 },
		{ "GET /metrics FTP/1.0\r\n", "400 Bad Request", 0 },
		{ "", "400 Bad Request", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[128];
		int head_only = -1;
		snprintf(buf, sizeof(buf), "%s", cases[i].head);
		const char *got = aim_scrape_route(buf, &head_only);
		if (cases[i].want == NULL)
			CHECK(got == NULL && head_only == cases[i].head_only);
		else
			CHECK(got && strcmp(got, cases[i].want) == 0);
	}
}

const struct unit_test metrics_tests[] = {
	{ "scrape: addresses and metrics=", addresses },
	{ "scrape: request routes", routes },
	{ "metrics: histograms", histograms },
	{ "metrics: fetch error classes", error_classes },
	{ "metrics: exposition text", exposition },
	{ NULL, NULL },
};
