/*
 * store.c - see store.h.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "log.h"
#include "store.h"
#include "util.h"

struct aim_store {
	char *dir;
	int lock_fd;
};

int aim_store_open(const char *dir, struct aim_store **out, char **cause)
{
	struct aim_store *s;
	char path[PATH_MAX];
	int rc;

	*cause = NULL;
	if (strlen(dir) > PATH_MAX - 80) {
		if (asprintf(cause, "store path '%s' is too long", dir) < 0)
			*cause = NULL;
		return -ENAMETOOLONG;
	}
	snprintf(path, sizeof(path), "%s/blobs", dir);
	if ((rc = aim_mkdir_p(path, 0700)) < 0) {
		if (asprintf(cause, "cannot create store '%s': %s", dir,
			     strerror(-rc)) < 0)
			*cause = NULL;
		return rc;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL || (s->dir = strdup(dir)) == NULL) {
		free(s);
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/lock", dir);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		rc = -errno;
		if (asprintf(cause, "cannot open '%s': %s", path,
			     strerror(errno)) < 0)
			*cause = NULL;
		goto fail;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(s->lock_fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		rc = -EBUSY;
		if (asprintf(cause,
			     "store '%s' is in use by another aimfs process%s%s%s",
			     dir, pid[0] ? " (pid " : "", pid,
			     pid[0] ? ")" : "") < 0)
			*cause = NULL;
		goto fail;
	}
	aim_store_record_pid(s);
	*out = s;
	return 0;
fail:
	aim_store_free(&s);
	return rc;
}

void aim_store_record_pid(struct aim_store *s)
{
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());

	if (ftruncate(s->lock_fd, 0) < 0 ||
	    pwrite(s->lock_fd, pid, (size_t)n, 0) != n)
		aim_log(LOG_WARNING, "cannot record pid in '%s/lock'", s->dir);
}

void aim_store_free(struct aim_store **ps)
{
	struct aim_store *s = *ps;

	if (s == NULL)
		return;
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* drops the flock */
	free(s->dir);
	free(s);
	*ps = NULL;
}

const char *aim_store_dir(const struct aim_store *s)
{
	return s->dir;
}

int aim_store_blob_open(struct aim_store *s, const char *key)
{
	char path[PATH_MAX];
	int fd;

	if (strlen(key) < 2 || strchr(key, '/'))
		return -EINVAL;
	snprintf(path, sizeof(path), "%s/blobs/%.2s", s->dir, key);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", s->dir, key, key);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

int aim_store_write(int fd, uint64_t off, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int aim_store_put(int fd, uint64_t off, const void *buf, size_t len)
{
	int rc = aim_store_write(fd, off, buf, len);

	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	return rc;
}

int aim_store_get(int fd, uint64_t off, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

int aim_store_hash(int fd, uint64_t off, size_t len, unsigned char sum[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t chunk = 256 << 10;
	char *buf = malloc(chunk);
	unsigned int n32 = 32;
	int rc = 0;

	if (ctx == NULL || buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (len > 0 && rc == 0) {
		size_t n = len < chunk ? len : chunk;
		if ((rc = aim_store_get(fd, off, buf, n)) == 0) {
			EVP_DigestUpdate(ctx, buf, n);
			off += n;
			len -= n;
		}
	}
	if (rc == 0)
		EVP_DigestFinal_ex(ctx, sum, &n32);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

int aim_store_drop(int fd, uint64_t off, size_t len)
{
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

uint64_t aim_store_disk_usage(struct aim_store *s)
{
	char path[PATH_MAX];
	uint64_t total = 0;
	DIR *top, *sub;
	struct dirent *d, *e;
	struct stat st;

	snprintf(path, sizeof(path), "%s/blobs", s->dir);
	top = opendir(path);
	if (top == NULL)
		return 0;
	while ((d = readdir(top)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/blobs/%s", s->dir, d->d_name);
		if ((sub = opendir(path)) == NULL)
			continue;
		while ((e = readdir(sub)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			if (fstatat(dirfd(sub), e->d_name, &st, 0) == 0)
				total += (uint64_t)st.st_blocks * 512;
		}
		closedir(sub);
	}
	closedir(top);
	return total;
}
