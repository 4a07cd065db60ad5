/*
 * https.h - a single file at an http(s) URL as a source (e.g. a GGUF on a
 * web server). A probe (a GET of byte 0) finds the size, the ETag or
 * Last-Modified, and whether the server honours Range. Blocks are then
 * fetched by range with If-Match, so a changed file fails instead of
 * mixing versions. A server without Range support is read whole, once, on
 * the first read (aimfs stores every block as it streams by).
 */
#ifndef AIM_HTTPS_H
#define AIM_HTTPS_H

#include <stddef.h>
#include <stdint.h>

struct aim_http;

struct aim_https_info {
	uint64_t size;
	char etag[256];	    /* "" when the server gives none */
	int64_t mtime;	    /* Last-Modified, or 0 */
	int ranges;	    /* 1 if a Range request got a 206 */
};

int aim_https_probe(struct aim_http *http, const char *url, unsigned timeout,
		    struct aim_https_info *out, char **cause);

/*
 * Exactly len bytes at off, with retries for at most timeout_ms; -ESTALE
 * if the ETag changed. *ranged is 0 when
 * the server answered with the whole file (it ignores Range): the caller
 * should stream the file instead of asking again per block.
 */
int aim_https_fetch(struct aim_http *http, const char *url, const char *etag,
		    unsigned timeout_ms, uint64_t off, size_t len, void *buf, int fd,
		    int *ranged, char **cause);

/*
 * The whole file, handed to sink as it arrives (one attempt: the caller
 * keeps what arrived and may try again). -ESTALE if the ETag changed.
 */
int aim_https_stream(struct aim_http *http, const char *url, const char *etag,
		     unsigned timeout,
		     int (*sink)(void *arg, const void *data, size_t len),
		     void *arg, char **cause);

#endif
