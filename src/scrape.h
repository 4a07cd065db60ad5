/*
 * scrape.h - the Prometheus endpoint: a small HTTP listener that answers
 * GET /metrics with the text of aim_metrics_render(), on a TCP address or
 * a Unix socket (metrics=ADDR:PORT or metrics=unix:/path).
 *
 * Off unless metrics= is set. A TCP address must be a loopback one unless
 * the caller allows others (metrics_remote=yes): the text holds no secret,
 * but the node's network need not see it. One connection at a time, on one
 * thread: a request is at most 8 KiB and must arrive within 2 s, then the
 * answer is written and the connection closed (HTTP/1.0, Connection:
 * close). Anything else gets 400, 404 or 405, never a crash.
 */
#ifndef AIM_SCRAPE_H
#define AIM_SCRAPE_H

#include <stddef.h>
#include <sys/socket.h>

struct aim_cache;
struct aim_scrape;

struct aim_scrape_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	int is_unix;
	int loopback; /* a TCP address on the loopback interface */
};

/*
 * Parse metrics=: "ADDR:PORT" with ADDR a numeric IPv4 address, "[IPv6]"
 * or localhost (127.0.0.1), PORT 0-65535 (0: the kernel picks one, logged
 * at start), or "unix:/absolute/path". 0, or -EINVAL with *why (static).
 */
int aim_scrape_parse(const char *spec, struct aim_scrape_addr *a,
		     const char **why);

/*
 * Route a request head (NUL-terminated; modified): NULL to answer with the
 * metrics (*head_only for HEAD), else the status line of the error answer
 * ("400 Bad Request", "404 Not Found", "405 Method Not Allowed").
 */
const char *aim_scrape_route(char *head, int *head_only);

/*
 * Listen on spec for scrapes of c (borrowed; it must outlive the
 * listener). Binds at once, so a taken port fails the daemon's start;
 * requests are served from aim_scrape_serve() (after the daemon forked)
 * until aim_scrape_stop(). A stale Unix socket is replaced, a live one
 * refused.
 */
int aim_scrape_start(struct aim_cache *c, const char *spec, int remote,
		     struct aim_scrape **out, char **cause);
int aim_scrape_serve(struct aim_scrape *s);
/* stop the thread, close, remove a Unix socket; NULLs *s */
void aim_scrape_stop(struct aim_scrape **s);

#endif
