/*
 * metrics.h - counters and latency histograms for Prometheus, and their
 * text exposition (format 0.0.4) together with the cache's own figures.
 *
 * What the cache counts under its own lock (block hits and misses, bytes
 * served and fetched, evictions: struct aim_cache stats) stays there and is
 * read when a scrape renders, through aim_cache_status(). What has no lock
 * to live under (latencies, retries, fetch failures by class) lives here,
 * in relaxed atomics: one or two adds per event, no lock, no allocation,
 * so the read path stays cheap. These are process-wide: a daemon holds one
 * cache, and aimfs-ctl --store counts what its own process did.
 *
 * Every function is thread-safe.
 */
#ifndef AIM_METRICS_H
#define AIM_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct aim_cache;

enum aim_metrics_hist {
	AIM_HIST_READ,	/* a FUSE read, request to reply */
	AIM_HIST_FETCH, /* one block from the origin */
	AIM_HIST__COUNT
};

/* why a block fetch failed, as the aimfs_fetch_errors_total class */
enum aim_fetch_error {
	AIM_FERR_HTTP_5XX,
	AIM_FERR_HTTP_4XX,
	AIM_FERR_TIMEOUT,
	AIM_FERR_CONNECT,   /* refused, unreachable, no such host */
	AIM_FERR_TRANSPORT, /* reset, short body, a range not the one asked */
	AIM_FERR_CHANGED,   /* the origin has another version of the file */
	AIM_FERR_NO_SPACE,  /* the store's limit or disk */
	AIM_FERR_OTHER,
	AIM_FERR__COUNT
};

/* the monotonic clock in nanoseconds, to time what aim_metrics_observe()
 * is given */
uint64_t aim_metrics_now_ns(void);

void aim_metrics_observe(enum aim_metrics_hist h, uint64_t ns);

/* a block fetch failed with rc (-errno, before it became -EIO); the class
 * comes from rc, else from the calling thread's last HTTP exchange */
void aim_metrics_fetch_failed(int rc);

/* an HTTP attempt is about to be made again */
void aim_metrics_retry(void);

/*
 * The whole exposition for a scrape: the cache's figures and the counters
 * here. *out is allocated and NUL-terminated (caller frees), *len its
 * length. 0 or -ENOMEM.
 */
int aim_metrics_render(struct aim_cache *c, char **out, size_t *len);

/* tests: the current count of a histogram and of a fetch error class */
uint64_t aim_metrics_hist_count(enum aim_metrics_hist h);
uint64_t aim_metrics_errors(enum aim_fetch_error e);

#endif
