/*
 * metrics.c - see metrics.h.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cache.h"
#include "http.h"
#include "metrics.h"
#include "util.h"

#define MAX_TEXT (1u << 20) /* a scrape's text; a few KiB in practice */

/* upper bounds of the latency buckets, shared by both histograms: a read
 * from the page cache's neighbour takes 100 us, a fetch that runs out of
 * retries the whole fetch_timeout */
static const struct {
	uint64_t ns;
	const char *le;
} bounds[] = {
	{ 100000ULL, "0.0001" },     { 250000ULL, "0.00025" },
	{ 500000ULL, "0.0005" },     { 1000000ULL, "0.001" },
	{ 2500000ULL, "0.0025" },    { 5000000ULL, "0.005" },
	{ 10000000ULL, "0.01" },     { 25000000ULL, "0.025" },
	{ 50000000ULL, "0.05" },     { 100000000ULL, "0.1" },
	{ 250000000ULL, "0.25" },    { 500000000ULL, "0.5" },
	{ 1000000000ULL, "1" },	     { 2500000000ULL, "2.5" },
	{ 5000000000ULL, "5" },	     { 10000000000ULL, "10" },
	{ 30000000000ULL, "30" },    { 60000000000ULL, "60" },
};
#define NBOUNDS AIM_ARRAY_SIZE(bounds)

struct hist {
	/* per bucket, not cumulative: one add per observation; the last
	 * counts what is above every bound */
	_Atomic uint64_t bucket[NBOUNDS + 1];
	_Atomic uint64_t sum_ns;
};

static struct hist hists[AIM_HIST__COUNT];
static _Atomic uint64_t fetch_errors[AIM_FERR__COUNT];
static _Atomic uint64_t retries;

static const char *const error_names[AIM_FERR__COUNT] = {
	[AIM_FERR_HTTP_5XX] = "http_5xx",
	[AIM_FERR_HTTP_4XX] = "http_4xx",
	[AIM_FERR_TIMEOUT] = "timeout",
	[AIM_FERR_CONNECT] = "connect",
	[AIM_FERR_TRANSPORT] = "transport",
	[AIM_FERR_CHANGED] = "changed",
	[AIM_FERR_NO_SPACE] = "no_space",
	[AIM_FERR_OTHER] = "other",
};

uint64_t aim_metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void aim_metrics_observe(enum aim_metrics_hist h, uint64_t ns)
{
	size_t i = 0;

	while (i < NBOUNDS && ns > bounds[i].ns)
		i++;
	atomic_fetch_add_explicit(&hists[h].bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hists[h].sum_ns, ns, memory_order_relaxed);
}

static enum aim_fetch_error classify(int rc)
{
	enum aim_http_failure f;

	switch (rc) {
	case -ENOSPC:
	case -EDQUOT:
		return AIM_FERR_NO_SPACE;
	case -ESTALE:
		return AIM_FERR_CHANGED;
	}
	f = aim_http_take_failure();
	switch (f) {
	case AIM_HTTP_FAIL_5XX:
		return AIM_FERR_HTTP_5XX;
	case AIM_HTTP_FAIL_4XX:
		return AIM_FERR_HTTP_4XX;
	case AIM_HTTP_FAIL_TIMEOUT:
		return AIM_FERR_TIMEOUT;
	case AIM_HTTP_FAIL_CONNECT:
		return AIM_FERR_CONNECT;
	case AIM_HTTP_FAIL_TRANSPORT:
		return AIM_FERR_TRANSPORT;
	case AIM_HTTP_FINE:
		break;
	}
	/* the last exchange was fine: the source's own verdict */
	switch (rc) {
	case -ETIMEDOUT:
		return AIM_FERR_TIMEOUT;
	case -ECONNREFUSED:
	case -EHOSTUNREACH:
		return AIM_FERR_CONNECT;
	default:
		return AIM_FERR_OTHER;
	}
}

void aim_metrics_fetch_failed(int rc)
{
	atomic_fetch_add_explicit(&fetch_errors[classify(rc)], 1,
				  memory_order_relaxed);
}

void aim_metrics_retry(void)
{
	atomic_fetch_add_explicit(&retries, 1, memory_order_relaxed);
}

static uint64_t load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

uint64_t aim_metrics_hist_count(enum aim_metrics_hist h)
{
	uint64_t n = 0;

	for (size_t i = 0; i <= NBOUNDS; i++)
		n += load(&hists[h].bucket[i]);
	return n;
}

uint64_t aim_metrics_errors(enum aim_fetch_error e)
{
	return load(&fetch_errors[e]);
}

/* --- the text --------------------------------------------------------- */

struct text {
	char *buf;
	size_t len, cap;
	int failed; /* out of memory, or past MAX_TEXT */
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap * 2;
		char *nb;
		if (cap > MAX_TEXT || (nb = realloc(t->buf, cap)) == NULL) {
			t->failed = 1;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}

static void family(struct text *t, const char *name, const char *type,
		   const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t num(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

/* one unlabelled sample from the cache's status */
static void sample(struct text *t, const char *name, const char *type,
		   const char *help, json_t *st, const char *key)
{
	family(t, name, type, help);
	put(t, "%s %llu\n", name, (unsigned long long)num(st, key));
}

/* one sample per key of a status object, labelled label="key" */
static void labelled(struct text *t, const char *name, const char *type,
		     const char *help, const char *label, json_t *obj,
		     const char *const *keys, size_t nkeys)
{
	family(t, name, type, help);
	for (size_t i = 0; i < nkeys; i++)
		put(t, "%s{%s=\"%s\"} %llu\n", name, label, keys[i],
		    (unsigned long long)num(obj, keys[i]));
}

static void histogram(struct text *t, const char *name, const char *help,
		      enum aim_metrics_hist h)
{
	uint64_t cum = 0;

	family(t, name, "histogram", help);
	for (size_t i = 0; i <= NBOUNDS; i++) {
		cum += load(&hists[h].bucket[i]);
		put(t, "%s_bucket{le=\"%s\"} %llu\n", name,
		    i < NBOUNDS ? bounds[i].le : "+Inf",
		    (unsigned long long)cum);
	}
	/* _count is the +Inf bucket, read once: the two always agree */
	put(t, "%s_sum %.9f\n%s_count %llu\n", name,
	    (double)load(&hists[h].sum_ns) / 1e9, name,
	    (unsigned long long)cum);
}

static void render(struct text *t, json_t *st)
{
	static const char *const kinds[] = { "hf", "s3", "https" };
	static const char *const states[] = { "registered", "partial",
					      "complete", "pulling", "failed" };
	uint64_t served = num(st, "served_bytes");
	uint64_t origin = num(st, "served_origin_bytes");

	family(t, "aimfs_served_bytes_total", "counter",
	       "Bytes returned to readers, by whether the read found its "
	       "blocks in the store or waited for the origin.");
	put(t, "aimfs_served_bytes_total{source=\"store\"} %llu\n",
	    (unsigned long long)(served > origin ? served - origin : 0));
	put(t, "aimfs_served_bytes_total{source=\"origin\"} %llu\n",
	    (unsigned long long)origin);
	sample(t, "aimfs_block_hits_total", "counter",
	       "Block lookups that found the block in the store.", st,
	       "block_hits");
	sample(t, "aimfs_block_misses_total", "counter",
	       "Block lookups that fetched the block from the origin.", st,
	       "block_misses");
	labelled(t, "aimfs_fetched_bytes_total", "counter",
		 "Bytes fetched from the origin and stored, by source kind.",
		 "kind", json_object_get(st, "fetched_bytes_by_kind"), kinds,
		 AIM_ARRAY_SIZE(kinds));
	family(t, "aimfs_fetch_errors_total", "counter",
	       "Block fetches that failed, by the class of the last failure.");
	for (size_t i = 0; i < AIM_FERR__COUNT; i++)
		put(t, "aimfs_fetch_errors_total{class=\"%s\"} %llu\n",
		    error_names[i], (unsigned long long)load(&fetch_errors[i]));
	family(t, "aimfs_fetch_retries_total", "counter",
	       "HTTP requests to an origin made again after a transient "
	       "failure.");
	put(t, "aimfs_fetch_retries_total %llu\n",
	    (unsigned long long)load(&retries));
	sample(t, "aimfs_fetches_in_flight", "gauge",
	       "Blocks being fetched from the origin now.", st,
	       "fetching_blocks");
	sample(t, "aimfs_block_check_failures_total", "counter",
	       "Stored blocks that failed their SHA-256 check and were "
	       "dropped.",
	       st, "verify_failures");
	sample(t, "aimfs_evictions_total", "counter", "Blocks evicted.", st,
	       "evictions");
	sample(t, "aimfs_evicted_bytes_total", "counter", "Bytes evicted.", st,
	       "evicted_bytes");
	sample(t, "aimfs_store_used_bytes", "gauge",
	       "Bytes of the blocks in the store.", st, "cached_bytes");
	sample(t, "aimfs_store_stored_bytes", "gauge",
	       "What the blocks in the store take, lz4 blocks compressed.", st,
	       "stored_bytes");
	sample(t, "aimfs_store_disk_bytes", "gauge",
	       "Disk space the store's block files take.", st, "disk_bytes");
	sample(t, "aimfs_store_limit_bytes", "gauge",
	       "The store's size limit (cache_size).", st, "cache_limit");
	sample(t, "aimfs_pinned_bytes", "gauge",
	       "Bytes in the store of pinned models.", st, "pinned_bytes");
	labelled(t, "aimfs_models", "gauge", "Registered models by state.",
		 "state", json_object_get(st, "models_by_state"), states,
		 AIM_ARRAY_SIZE(states));
	family(t, "aimfs_offline", "gauge",
	       "1 when the daemon never uses the network.");
	put(t, "aimfs_offline %d\n",
	    json_is_true(json_object_get(st, "offline")));
	histogram(t, "aimfs_read_duration_seconds",
		  "FUSE reads of model files, from request to reply.",
		  AIM_HIST_READ);
	histogram(t, "aimfs_fetch_duration_seconds",
		  "Block fetches from the origin, retries included.",
		  AIM_HIST_FETCH);
	family(t, "aimfs_build_info", "gauge", "The aimfs version.");
	put(t, "aimfs_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
}

int aim_metrics_render(struct aim_cache *c, char **out, size_t *len)
{
	struct text t = { malloc(8192), 0, 8192, 0 };
	json_t *st = aim_cache_status(c);

	*out = NULL;
	*len = 0;
	if (t.buf == NULL || st == NULL) {
		free(t.buf);
		json_decref(st);
		return -ENOMEM;
	}
	render(&t, st);
	json_decref(st);
	if (t.failed) {
		free(t.buf);
		return -ENOMEM;
	}
	*out = t.buf;
	*len = t.len;
	return 0;
}
