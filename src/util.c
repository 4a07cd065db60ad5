/*
 * util.c - see util.h.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"

void aim_set_cause(char **cause, const char *fmt, ...)
{
	va_list ap;

	if (cause == NULL)
		return;
	free(*cause);
	va_start(ap, fmt);
	if (vasprintf(cause, fmt, ap) < 0)
		*cause = NULL;
	va_end(ap);
}

int aim_parse_size(const char *s, uint64_t *out)
{
	char *end;
	double v;
	uint64_t mult = 1;

	if (s == NULL)
		return -EINVAL;
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K':
		mult = 1ULL << 10;
		end++;
		break;
	case 'M':
		mult = 1ULL << 20;
		end++;
		break;
	case 'G':
		mult = 1ULL << 30;
		end++;
		break;
	case 'T':
		mult = 1ULL << 40;
		end++;
		break;
	}
	if (mult > 1 && *end == 'i')
		end++;
	if (toupper((unsigned char)*end) == 'B')
		end++;
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0')
		return -EINVAL;
	v *= (double)mult;
	if (v >= 18446744073709549568.0) /* largest double below 2^64 */
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

int aim_parse_bool(const char *s)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };

	if (s == NULL)
		return -EINVAL;
	for (size_t i = 0; i < AIM_ARRAY_SIZE(yes); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
	for (size_t i = 0; i < AIM_ARRAY_SIZE(no); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -EINVAL;
}

const char *aim_human_size(uint64_t n, char *buf, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)n;
	size_t u = 0;

	while (v >= 1024.0 && u + 1 < AIM_ARRAY_SIZE(units)) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

void aim_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int aim_is_hex(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return s[i] == '\0';
}

void aim_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int outlen = 32;

	EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL);
}

int aim_path_check(const char *path, const char **why)
{
	const char *p = path, *comp;
	size_t total = strlen(path);

	if (total == 0) {
		*why = "empty path";
		return -EINVAL;
	}
	if (total >= PATH_MAX) {
		*why = "path longer than PATH_MAX";
		return -EINVAL;
	}
	if (path[0] == '/') {
		*why = "absolute path";
		return -EINVAL;
	}
	for (comp = p; ; p++) {
		if (*p == '/' || *p == '\0') {
			size_t n = (size_t)(p - comp);
			if (n == 0) {
				*why = "empty path component";
				return -EINVAL;
			}
			if ((n == 1 && comp[0] == '.') ||
			    (n == 2 && comp[0] == '.' && comp[1] == '.')) {
				*why = "'.' or '..' path component";
				return -EINVAL;
			}
			if (n > NAME_MAX) {
				*why = "path component longer than NAME_MAX";
				return -EINVAL;
			}
			if (*p == '\0')
				break;
			comp = p + 1;
			continue;
		}
		if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '\\') {
			*why = "control character or backslash in path";
			return -EINVAL;
		}
	}
	return 0;
}

const char *aim_url_redact(const char *url, char *buf, size_t len)
{
	const char *scheme_end = strstr(url, "://");
	const char *host = scheme_end ? scheme_end + 3 : url;
	const char *at, *stop;
	size_t n;

	/* drop user:password@ before the host */
	stop = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(stop - host));
	n = (size_t)(host - url);
	if (n >= len)
		n = len - 1;
	memcpy(buf, url, n);
	if (at)
		host = at + 1;
	stop = host + strcspn(host, "?#");
	size_t m = (size_t)(stop - host);
	if (n + m >= len)
		m = len - 1 - n;
	memcpy(buf + n, host, m);
	buf[n + m] = '\0';
	return buf;
}

int aim_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

uint64_t aim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int aim_read_small_file(const char *path, size_t max, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	ssize_t n;
	size_t got = 0;

	if (fd < 0)
		return -errno;
	buf = malloc(max + 1);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	while (got < max && (n = read(fd, buf + got, max - got)) > 0)
		got += (size_t)n;
	close(fd);
	while (got > 0 && isspace((unsigned char)buf[got - 1]))
		got--;
	buf[got] = '\0';
	*out = buf;
	return 0;
}

int aim_accept_or_stop(int lfd, int stopfd)
{
	struct pollfd p[2] = { { lfd, POLLIN, 0 }, { stopfd, POLLIN, 0 } };
	int fd;

	if (poll(p, 2, -1) < 0)
		return errno == EINTR ? -EAGAIN : -ECANCELED;
	if (p[1].revents)
		return -ECANCELED;
	if (!(p[0].revents & POLLIN))
		return -EAGAIN;
	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		return fd;
	/* out of descriptors: do not spin on the backlog */
	if (errno == EMFILE || errno == ENFILE)
		poll(NULL, 0, 100);
	return -EAGAIN;
}
