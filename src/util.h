/*
 * util.h - small helpers shared by the library, the daemon and the CLIs:
 * sizes with K/M/G/T suffixes, hex and SHA-256, path sanitising, URL
 * redaction for logs, and directory creation.
 */
#ifndef AIM_UTIL_H
#define AIM_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define AIM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Replace *cause (freed first; may be NULL) with an allocated one-line
 * reason for a person. The caller frees it. No-op when cause is NULL.
 */
void aim_set_cause(char **cause, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Parse "123", "4K", "4M", "1.5G", "2T" (powers of 1024, optional trailing
 * "B" or "iB"). Returns 0 or -EINVAL.
 */
int aim_parse_size(const char *s, uint64_t *out);

/* Parse a yes/no/true/false/on/off/1/0 value: 1, 0, or -EINVAL */
int aim_parse_bool(const char *s);

/* "256.0 MiB" into buf (at least 16 bytes) */
const char *aim_human_size(uint64_t n, char *buf, size_t len);

/* lower-case hex of n bytes into out (2n+1 bytes) */
void aim_hex(const unsigned char *in, size_t n, char *out);
/* 1 if s is exactly n lower- or upper-case hex digits */
int aim_is_hex(const char *s, size_t n);

/* SHA-256 of a buffer, raw (32 bytes) */
void aim_sha256(const void *data, size_t len, unsigned char out[32]);

/*
 * Check a relative path from an untrusted listing: no leading '/', no empty,
 * "." or ".." component, no control characters or backslashes, each component
 * at most NAME_MAX bytes, the whole shorter than PATH_MAX. Returns 0 or
 * -EINVAL with a static reason in *why.
 */
int aim_path_check(const char *path, const char **why);

/*
 * Copy url into buf without its query string, fragment and userinfo, so it
 * can be logged. Returns buf.
 */
const char *aim_url_redact(const char *url, char *buf, size_t len);

/* mkdir -p with mode for each created level; 0 or -errno */
int aim_mkdir_p(const char *path, mode_t mode);

/* monotonic clock in milliseconds */
uint64_t aim_now_ms(void);

/* read a whole small file (at most max bytes) into a NUL-terminated string;
 * caller frees; trailing whitespace stripped. 0 or -errno */
int aim_read_small_file(const char *path, size_t max, char **out);

/*
 * The next connection on the listening socket lfd (close-on-exec), waiting
 * until one comes or stopfd becomes readable: an fd, -EAGAIN to call again
 * (a transient failure; out of descriptors waits a little first), or
 * -ECANCELED when stopfd says stop.
 */
int aim_accept_or_stop(int lfd, int stopfd);

/* "libcurl 7.88.1, SQLite 3.40.1, ...": the libraries in use (version.c) */
const char *aim_versions(void);

#endif
