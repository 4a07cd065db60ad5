/*
 * conf.h - daemon configuration: built-in defaults, then the environment,
 * then the config file (INI, read with inih), then -o options; later wins.
 *
 * All strings are owned by the struct and freed by aim_conf_release().
 */
#ifndef AIM_CONF_H
#define AIM_CONF_H

#include <stdint.h>
#include <stddef.h>

#define AIM_CONF_FILE "/etc/aimfs/aimfs.conf"
#define AIM_DEFAULT_STORE "/var/lib/aimfs"
#define AIM_DEFAULT_SOCKET "/run/aimfs/aimfsd.sock"
#define AIM_DEFAULT_ENDPOINT "https://huggingface.co"
#define AIM_DEFAULT_BLOCK_SIZE (4ULL << 20)

enum aim_s3_addressing {
	AIM_S3_AUTO = 0, /* path-style for a custom endpoint, else virtual */
	AIM_S3_PATH,
	AIM_S3_VIRTUAL,
};

struct aim_conf {
	char *store;
	char *hf_endpoint;
	char *hf_token;	 /* secret: never logged */
	char *ctl_socket;
	char *cache_size; /* "SIZE" or "N%", checked when set */
	char *ca_file;
	uint64_t block_size;
	int offline;
	int auto_add;
	int allow_other;
	int log_level;
	unsigned fetch_timeout; /* seconds, total bound on one block's retries */
	unsigned connect_timeout; /* seconds, per attempt */
	unsigned negative_timeout; /* seconds a missing repo is remembered */
	unsigned fetch_threads;	  /* read-ahead workers (parallel ranges) */
	uint64_t prefetch_window; /* bytes read ahead of a sequential reader */
	unsigned read_ahead_kb;	  /* the kernel's read-ahead on the mount */
	char *s3_endpoint;	  /* NULL: $AWS_ENDPOINT_URL or AWS */
	char *s3_region;	  /* NULL: us-east-1 */
	enum aim_s3_addressing s3_addressing;
	int compress;		  /* enum aim_compress (codec.h) */
	double compress_min_saving; /* auto: the fraction a block must save */
	char *metrics;		  /* ADDR:PORT or unix:PATH, or NULL */
	int metrics_remote;	  /* metrics on a non-loopback address */
	char **models;		  /* model=URI, repeatable */
	size_t nmodels;
};

/* zero the struct and set the scalar defaults; allocates nothing */
void aim_conf_init(struct aim_conf *c);
void aim_conf_release(struct aim_conf *c);

/* HF_ENDPOINT, HF_TOKEN, HF_TOKEN_PATH, HF_HUB_OFFLINE, AWS_REGION and
 * AWS_DEFAULT_REGION (AWS credentials are read by the S3 source itself) */
int aim_conf_from_env(struct aim_conf *c, char **cause);

/*
 * Read an INI file: keys at top level or in an [aimfsd] section. With
 * must_exist 0 a missing file is not an error. 0 or -errno with *cause.
 */
int aim_conf_load(struct aim_conf *c, const char *path, int must_exist,
		  char **cause);

/* the same from a string (tests, fuzzing) */
int aim_conf_load_string(struct aim_conf *c, const char *text, char **cause);

/* set one option by name, as from the file or -o name=value */
int aim_conf_set(struct aim_conf *c, const char *key, const char *value,
		 char **cause);

/* 1 if key names a known option (so -o can pass the rest to libfuse) */
int aim_conf_known(const char *key);

/* fill in unset string defaults; 0 or -ENOMEM */
int aim_conf_finish(struct aim_conf *c, char **cause);

#endif
