/*
 * main.c - aimfsd: parse options, open the store, register configured
 * models, mount, and run the FUSE session until unmounted or signalled.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mntent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fuse_log.h>

#include "fs.h"
#include "src/cache.h"
#include "src/conf.h"
#include "src/ctl.h"
#include "src/layout.h"
#include "src/log.h"
#include "src/scrape.h"
#include "src/util.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: aimfsd [-f] [-d] [-o opt[,opt...]] [--config FILE] "
		"[MOUNTPOINT]\n"
		"\n"
		"Mount a lazily populated model cache at MOUNTPOINT (default:\n"
		"$AIM_CACHE_PATH). Options (config keys and -o name=value):\n"
		"  store=DIR            block store and index (%s)\n"
		"  hf_endpoint=URL      Hugging Face Hub ($HF_ENDPOINT, %s)\n"
		"  hf_token_path=FILE   read the Hub token from FILE\n"
		"                       ($HF_TOKEN_PATH; $HF_TOKEN gives it directly)\n"
		"  block_size=SIZE      block size of a new store (4M)\n"
		"  cache_size=SIZE|N%%   store size limit (leave 10%% of the fs free)\n"
		"  offline=yes|no       never use the network ($HF_HUB_OFFLINE)\n"
		"  auto_add=yes|no      register repos named by lookups (yes unless\n"
		"                       offline)\n"
		"  negative_timeout=SECS remember missing repos (60)\n"
		"  ctl_socket=PATH      control socket (%s)\n"
		"  model=URI            register URI at start (repeatable)\n"
		"  fetch_timeout=SECS   give up on a block after SECS (20)\n"
		"  connect_timeout=SECS per connection attempt (10)\n"
		"  ca_file=FILE         CA bundle for TLS\n"
		"  log_level=LEVEL      error, warning, notice, info, debug\n"
		"  allow_other          let other users read the mount\n"
		"  fetch_threads=N      parallel read-ahead fetches (16)\n"
		"  prefetch_window=SIZE read ahead of sequential readers (64M)\n"
		"  read_ahead_kb=KB     the kernel's read-ahead on the mount (128)\n"
		"  s3_endpoint=URL      S3-compatible endpoint ($AWS_ENDPOINT_URL)\n"
		"  s3_region=REGION     ($AWS_REGION, us-east-1)\n"
		"  s3_addressing=auto|path|virtual  bucket in the path or the host\n"
		"  metrics=ADDR:PORT|unix:PATH  serve Prometheus metrics at\n"
		"                       /metrics (off; ADDR loopback unless\n"
		"                       metrics_remote=yes)\n"
		"Other -o options go to FUSE. -f stays in the foreground and logs\n"
		"to stderr; -d is -f plus debug logging of every FUSE request.\n"
		"Config: %s or -c/--config FILE.\n",
		AIM_DEFAULT_STORE, AIM_DEFAULT_ENDPOINT, AIM_DEFAULT_SOCKET,
		AIM_CONF_FILE);
}

static void fuse_log_to_aim(enum fuse_log_level level, const char *fmt,
			    va_list ap)
{
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	aim_log((int)level, "fuse: %s", msg);
}

struct opts {
	int foreground, debug;
	const char *config;
	const char *mountpoint;
	char **aim_opts; /* name=value for us, applied after the config file */
	size_t naim;
	char *fuse_opts; /* comma list for libfuse */
};

static int push_fuse_opt(struct opts *o, const char *opt)
{
	size_t n = o->fuse_opts ? strlen(o->fuse_opts) : 0;
	char *s = realloc(o->fuse_opts, n + strlen(opt) + 2);

	if (s == NULL)
		return -1;
	if (n)
		s[n++] = ',';
	strcpy(s + n, opt);
	o->fuse_opts = s;
	return 0;
}

static int split_o(struct opts *o, const char *arg)
{
	char *copy = strdup(arg), *save = NULL, *tok;

	if (copy == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char name[64];
		size_t n = strcspn(tok, "=");
		snprintf(name, sizeof(name), "%.*s", (int)n, tok);
		if (aim_conf_known(name)) {
			char **v = realloc(o->aim_opts,
					   (o->naim + 1) * sizeof(*v));
			if (v == NULL || (v[o->naim] = strdup(tok)) == NULL) {
				free(copy);
				return -1;
			}
			o->aim_opts = v;
			o->naim++;
		} else if (strcmp(tok, "rw") == 0) {
			fprintf(stderr, "aimfsd: ignoring 'rw': the mount is read-only\n");
		} else if (push_fuse_opt(o, tok) < 0) {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "+fdo:c:hV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'f':
			o->foreground = 1;
			break;
		case 'd':
			o->debug = 1;
			o->foreground = 1;
			break;
		case 'o':
			if (split_o(o, optarg) < 0)
				return 1;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("aimfsd %s\nlibfuse %s, %s\n", PACKAGE_VERSION,
			       fuse_pkgversion(), aim_versions());
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		o->mountpoint = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "aimfsd: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	if (o->mountpoint == NULL)
		o->mountpoint = getenv("AIM_CACHE_PATH");
	if (o->mountpoint == NULL || *o->mountpoint == '\0') {
		fprintf(stderr, "aimfsd: no mountpoint (give one or set "
				"AIM_CACHE_PATH)\n");
		return 2;
	}
	return 0;
}

static int load_conf(struct opts *o, struct aim_conf *conf)
{
	char *cause = NULL;
	int rc;

	if ((rc = aim_conf_from_env(conf, &cause)) < 0 ||
	    (rc = aim_conf_load(conf, o->config ? o->config : AIM_CONF_FILE,
				o->config != NULL, &cause)) < 0)
		goto bad;
	for (size_t i = 0; i < o->naim; i++) {
		char *eq = strchr(o->aim_opts[i], '=');
		if (eq)
			*eq = '\0';
		rc = aim_conf_set(conf, o->aim_opts[i], eq ? eq + 1 : NULL,
				  &cause);
		if (rc < 0)
			goto bad;
	}
	if ((rc = aim_conf_finish(conf, &cause)) < 0)
		goto bad;
	return 0;
bad:
	fprintf(stderr, "aimfsd: %s\n", cause ? cause : strerror(-rc));
	free(cause);
	return 1;
}

/* 1 if mp is the mountpoint of an aimfs mount (in /proc/self/mounts) */
static int aimfs_mounted_at(const char *mp)
{
	FILE *f = setmntent("/proc/self/mounts", "r");
	struct mntent *e;
	int found = 0;

	while (f && (e = getmntent(f)) != NULL)
		if (strcmp(e->mnt_dir, mp) == 0 &&
		    strcmp(e->mnt_type, "fuse.aimfs") == 0)
			found = 1;
	if (f)
		endmntent(f);
	return found;
}

/*
 * A daemon killed without unmounting leaves a mount whose every access
 * fails with ENOTCONN: detach it so this start can mount again. statfs is
 * asked, not stat: the kernel answers stat from its cache. A mount whose
 * daemon answers is someone else's: refuse to stack another on it.
 */
static int clean_stale_mount(const char *mp)
{
	struct statfs sf;

	if (statfs(mp, &sf) == 0) {
		if (aimfs_mounted_at(mp)) {
			fprintf(stderr, "aimfsd: '%s' is already mounted by a "
					"running aimfsd\n",
				mp);
			return -1;
		}
		return 0;
	}
	if (errno != ENOTCONN && errno != ECONNABORTED)
		return 0;
	aim_log(LOG_NOTICE, "cleaning up a stale mount at '%s'", mp);
	if (umount2(mp, MNT_DETACH) == 0)
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", mp, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return 0;
}

/* a name left the tree (aimfs-ctl rm): the kernel must forget it */
static void inval_entry(void *arg, uint64_t parent, const char *name)
{
	fuse_lowlevel_notify_inval_entry(arg, parent, name, strlen(name));
}

/* an absolute path for p without resolving its last component */
static int absolute_path(const char *p, char *out, size_t len)
{
	char dir[PATH_MAX], *slash, base[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", p);
	while (strlen(dir) > 1 && dir[strlen(dir) - 1] == '/')
		dir[strlen(dir) - 1] = '\0';
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		snprintf(base, sizeof(base), "%s", dir);
		snprintf(dir, sizeof(dir), ".");
	} else {
		snprintf(base, sizeof(base), "%s", slash + 1);
		if (slash == dir)
			dir[1] = '\0';
		else
			*slash = '\0';
	}
	char real[PATH_MAX];
	if (realpath(dir, real) == NULL)
		return -1;
	if ((size_t)snprintf(out, len, "%s/%s", strcmp(real, "/") ? real : "",
			     base) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/*
 * The kernel's read-ahead window on the mount (128 KiB by default), and so
 * its read request size (up to 1 MiB). Written before the session loop
 * answers FUSE_INIT: the kernel then takes the smaller of this and the
 * max_readahead of the answer (op_init), so both must say it. Best effort.
 */
static void set_read_ahead(const char *mp, unsigned kb)
{
	char path[128], val[32], line[4096], dir[4096];
	unsigned maj = 0, min = 0, found = 0;
	FILE *mi;
	int fd, n;

	/* not stat(mp): the kernel would ask this very daemon, whose loop
	 * has not started yet. mountinfo has the device number. */
	if (kb == 0 || (mi = fopen("/proc/self/mountinfo", "re")) == NULL)
		return;
	while (!found && fgets(line, sizeof(line), mi))
		found = sscanf(line, "%*d %*d %u:%u %*s %4095s", &maj, &min,
			       dir) == 3 &&
			strcmp(dir, mp) == 0;
	fclose(mi);
	if (!found)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", maj,
		 min);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		aim_debug("cannot set read-ahead in '%s'", path);
		return;
	}
	n = snprintf(val, sizeof(val), "%u", kb);
	if (write(fd, val, (size_t)n) != n)
		aim_log(LOG_INFO, "cannot set read_ahead_kb=%u", kb);
	close(fd);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct aim_conf conf;
	struct aim_cache *cache = NULL;
	struct aim_ctl *ctl = NULL;
	struct aim_scrape *scrape = NULL;
	struct fuse_session *se = NULL;
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lcfg = NULL;
	char mp[PATH_MAX], *cause = NULL;
	int rc, ret = 1;

	/* the daemon holds tokens and keys: a crash must not write them to a
	 * core file (ssh-agent does the same); this also keeps other users'
	 * ptrace and /proc/PID/mem away */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	aim_conf_init(&conf);
	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc;
	if (load_conf(&o, &conf) != 0)
		goto out;
	aim_log_level = o.debug ? LOG_DEBUG : conf.log_level;
	aim_log_open("aimfsd", !o.foreground);
	fuse_set_log_func(fuse_log_to_aim);
	raise_nofile();

	if (aim_mkdir_p(o.mountpoint, 0755) < 0 && errno != ENOTCONN) {
		fprintf(stderr, "aimfsd: cannot use mountpoint '%s': %s\n",
			o.mountpoint, strerror(errno));
		goto out;
	}
	/* realpath would fail on a stale mount: resolve the parent instead */
	if (absolute_path(o.mountpoint, mp, sizeof(mp)) < 0) {
		fprintf(stderr, "aimfsd: cannot use mountpoint '%s': %s\n",
			o.mountpoint, strerror(errno));
		goto out;
	}
	if (clean_stale_mount(mp) < 0)
		goto out;
	if (aim_cache_open(&conf, &cache, &cause) < 0) {
		fprintf(stderr, "aimfsd: %s\n", cause ? cause : "cannot open store");
		goto out;
	}
	if (aim_ctl_start(cache, conf.ctl_socket, &ctl, &cause) < 0) {
		fprintf(stderr, "aimfsd: %s\n", cause ? cause : "control socket");
		goto out;
	}
	/* bound now, so a taken port fails the start, not a later scrape */
	if (conf.metrics && aim_scrape_start(cache, conf.metrics,
					     conf.metrics_remote, &scrape,
					     &cause) < 0) {
		fprintf(stderr, "aimfsd: %s\n", cause ? cause : "metrics");
		goto out;
	}
	aim_cache_add_configured(cache);

	struct aimfs fs = {
		.cache = cache,
		.layout = aim_cache_layout(cache),
		.store = conf.store,
		.file_timeout = 86400.0,
		.dir_timeout = 1.0,
		.read_ahead_kb = conf.read_ahead_kb,
	};
	if (push_fuse_opt(&o, "ro,fsname=aimfs,subtype=aimfs,"
			      "default_permissions") < 0 ||
	    (conf.allow_other && push_fuse_opt(&o, "allow_other") < 0))
		goto out;
	if (fuse_opt_add_arg(&args, "aimfsd") < 0 ||
	    fuse_opt_add_arg(&args, "-o") < 0 ||
	    fuse_opt_add_arg(&args, o.fuse_opts) < 0 ||
	    (o.debug && fuse_opt_add_arg(&args, "-d") < 0))
		goto out;
	se = fuse_session_new(&args, &aimfs_ops, sizeof(aimfs_ops), &fs);
	if (se == NULL) {
		fprintf(stderr, "aimfsd: bad FUSE options '%s'\n", o.fuse_opts);
		goto out;
	}
	if (fuse_set_signal_handlers(se) < 0)
		goto out;
	if (fuse_session_mount(se, mp) < 0) {
		fprintf(stderr, "aimfsd: cannot mount at '%s'\n", mp);
		goto out_signals;
	}
	aim_log(LOG_NOTICE, "mounted '%s' (store '%s')", mp, conf.store);
	set_read_ahead(mp, conf.read_ahead_kb);
	/* no thread may run before this fork */
	fuse_daemonize(o.foreground);
	aim_cache_forked(cache);
	if (aim_cache_start(cache) < 0 || aim_ctl_serve(ctl) < 0 ||
	    (scrape && aim_scrape_serve(scrape) < 0)) {
		aim_log(LOG_ERR, "cannot start the daemon's threads");
		goto out_unmount;
	}
	aim_layout_set_inval(fs.layout, inval_entry, se);
	lcfg = fuse_loop_cfg_create();
	if (lcfg == NULL)
		goto out_unmount;
	fuse_loop_cfg_set_clone_fd(lcfg, 0);
	fuse_loop_cfg_set_idle_threads(lcfg, 16);
	rc = fuse_session_loop_mt(se, lcfg);
	ret = rc < 0 ? 1 : 0;
	aim_log(LOG_NOTICE, "unmounting '%s'", mp);
out_unmount:
	aim_layout_set_inval(fs.layout, NULL, NULL);
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (cache)
		aim_cache_stop(cache); /* pulls end, so connections can */
	aim_ctl_stop(&ctl);
	aim_scrape_stop(&scrape);
	if (se)
		fuse_session_destroy(se);
	if (lcfg)
		fuse_loop_cfg_destroy(lcfg);
	fuse_opt_free_args(&args);
	aim_cache_free(&cache);
	aim_conf_release(&conf);
	for (size_t i = 0; i < o.naim; i++)
		free(o.aim_opts[i]);
	free(o.aim_opts);
	free(o.fuse_opts);
	free(cause);
	aim_log_flush();
	return ret;
}
