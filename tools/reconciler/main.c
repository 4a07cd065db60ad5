/*
 * main.c - aimfs-reconciler: options, the API connection, two informers
 * (AIMArtifacts, AIMTemplateCaches), the Lease, and the worker thread that
 * runs every reconcile (artifact.c, template.c) one at a time.
 *
 * Threads: the informers and the lease thread only queue keys ("A:ns/name",
 * "T:ns/name"); the worker takes them from the queue; the main thread waits
 * for SIGTERM/SIGINT, then stops everything and releases the Lease.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kube.h"
#include "lease.h"
#include "node.h"
#include "queue.h"
#include "rec.h"
#include "src/log.h"
#include "src/util.h"
#include "watch.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define DAEMON_TICK_MS 2000 /* how often the node daemon's instance is read */

static struct aim_rec rec;
static volatile int stopping;
static long resync_ms = 300000;
static char *token; /* --token, until the connection config takes it */

int aim_rec_leader(struct aim_rec *r)
{
	return aim_lease_held(r->lease);
}

static void queue_key(char kind, const char *key, uint64_t delay)
{
	char buf[600];

	snprintf(buf, sizeof(buf), "%c:%s", kind, key);
	if (aim_queue_add(rec.q, buf, delay) < 0)
		aim_log(LOG_ERR, "out of memory queueing %s", buf);
}

static void queue_owners(json_t *obj)
{
	const char *ns = aim_jstr(obj, "metadata.namespace");
	json_t *ref;
	size_t i;

	json_array_foreach(aim_jget(obj, "metadata.ownerReferences"), i, ref)
	{
		const char *kind =
			json_string_value(json_object_get(ref, "kind"));
		const char *name =
			json_string_value(json_object_get(ref, "name"));
		char key[512];
		if (kind && name && !strcmp(kind, "AIMTemplateCache")) {
			snprintf(key, sizeof(key), "%s/%s", AIM_STR(ns), name);
			queue_key('T', key, 0);
		}
	}
}

static void on_artifact(void *arg, const char *key, json_t *obj, json_t *old)
{
	queue_key('A', key, 0);
	queue_owners(obj);
	queue_owners(old);
}

static void on_template(void *arg, const char *key, json_t *obj, json_t *old)
{
	queue_key('T', key, 0);
}

static void queue_all(void)
{
	json_t *all;
	const char *k;
	json_t *o;

	if ((all = aim_informer_snapshot(rec.arts))) {
		json_object_foreach(all, k, o) queue_key('A', k, 0);
		json_decref(all);
	}
	if ((all = aim_informer_snapshot(rec.tcs))) {
		json_object_foreach(all, k, o) queue_key('T', k, 0);
		json_decref(all);
	}
}

static void on_lease(void *arg, int held)
{
	/* the new leader owes every object its cluster duties */
	if (held)
		queue_all();
}

/*
 * A restarted daemon has forgotten every model's own credentials (and may
 * have a new store): everything is reconciled again, which sends them.
 */
static void daemon_tick(void)
{
	char id[33], *cause = NULL;

	if (aim_node_instance(rec.sock, id, &cause) < 0) {
		free(cause); /* the reconciles say it where it matters */
		return;
	}
	if (rec.daemon_instance[0] && id[0] &&
	    strcmp(id, rec.daemon_instance) != 0) {
		aim_log(LOG_NOTICE,
			"the daemon on node %s restarted: reconciling every "
			"artifact (their credentials are sent again)",
			rec.node);
		queue_all();
	}
	if (strcmp(id, rec.daemon_instance) != 0)
		aim_log(LOG_INFO, "the daemon on node %s is instance %s",
			rec.node, id[0] ? id : "(unknown)");
	snprintf(rec.daemon_instance, sizeof(rec.daemon_instance), "%s", id);
}

static void *worker(void *arg)
{
	uint64_t next_resync = aim_now_ms() + (uint64_t)resync_ms;
	uint64_t next_nodes = 0, next_daemon = 0;

	/* a reconcile needs the whole picture (shared sources, owners) */
	while (!stopping &&
	       !(aim_informer_synced(rec.arts) && aim_informer_synced(rec.tcs)))
		usleep(50000);
	while (!stopping) {
		char *key = aim_queue_get(rec.q, 1000);
		if (aim_now_ms() >= next_resync) {
			queue_all();
			next_resync = aim_now_ms() + (uint64_t)resync_ms;
		}
		if (aim_now_ms() >= next_daemon) {
			daemon_tick();
			next_daemon = aim_now_ms() + DAEMON_TICK_MS;
		}
		if (aim_now_ms() >= next_nodes && aim_rec_leader(&rec)) {
			aim_rec_nodes_tick(&rec, queue_all);
			next_nodes = aim_now_ms() +
				     (uint64_t)rec.node_interval_ms;
		}
		if (key == NULL)
			continue;
		long again = key[0] == 'A' ? aim_rec_artifact(&rec, key + 2)
					   : aim_rec_template(&rec, key + 2);
		if (again > 0)
			aim_queue_add(rec.q, key, (uint64_t)again);
		free(key);
	}
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: aimfs-reconciler [options]\n"
		"  --kubeconfig FILE       API server, CA and token from a "
		"kubeconfig\n"
		"  --context NAME          its context to use "
		"(current-context)\n"
		"  --server URL            API server (default: in-cluster)\n"
		"  --token-file FILE       bearer token, re-read when it "
		"changes\n"
		"  --token TOKEN           a literal bearer token (seen in "
		"the process list:\n"
		"                          prefer --token-file)\n"
		"  --ca-file FILE          CA bundle for the API server\n"
		"  --socket PATH           the node daemon's control socket\n"
		"                          ($AIMFS_SOCKET, "
		"/run/aimfs/aimfsd.sock)\n"
		"  --node NAME             this node ($NODE_NAME, hostname)\n"
		"  --namespace NS          namespace of the Lease (the "
		"service account's)\n"
		"  --watch-namespace NS    watch one namespace (default: "
		"all)\n"
		"  --headroom PERCENT      PVC headroom over the model size "
		"(10)\n"
		"  --lease-name NAME       the Lease (aimfs-reconciler)\n"
		"  --lease-duration SECS   (15)\n"
		"  --identity ID           lease holder identity (node name)\n"
		"  --progress-interval SECS  status writes while downloading "
		"(2)\n"
		"  --retry-base SECS       first retry of a failure (5)\n"
		"  --retry-max SECS        longest retry interval (300)\n"
		"  --resync SECS           reconcile everything this often "
		"(300)\n"
		"  --node-interval SECS    the leader looks for departed "
		"Nodes this often (30)\n"
		"  --watch-timeout SECS    timeoutSeconds of a watch (300)\n"
		"  --secret-refresh SECS   read spec.env's Secrets again this "
		"often (60)\n"
		"  --sa-dir DIR            service account files (" SA_DIR ")\n"
		"  --log-level LEVEL       error, warning, notice, info, "
		"debug\n"
		"  --version, --help\n");
}

static int positive(const char *opt, const char *v, long *out)
{
	char *end;
	long n = strtol(v, &end, 10);

	if (*v == '\0' || *end || n < 0 || n > 86400 * 365) {
		fprintf(stderr, "aimfs-reconciler: bad value '%s' for %s\n", v,
			opt);
		return -1;
	}
	*out = n;
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		O_KUBECONFIG = 256,
		O_CONTEXT,
		O_SERVER,
		O_TOKEN_FILE,
		O_TOKEN,
		O_CA,
		O_SOCKET,
		O_NODE,
		O_NS,
		O_WATCH_NS,
		O_HEADROOM,
		O_LEASE,
		O_LEASE_DUR,
		O_ID,
		O_PROGRESS,
		O_RETRY,
		O_RETRY_MAX,
		O_RESYNC,
		O_NODE_INT,
		O_WATCH_TO,
		O_SECRET_REFRESH,
		O_SA,
		O_LOG,
		O_VERSION,
		O_HELP
	};
	static const struct option opts[] = {
		{"kubeconfig", 1, NULL, O_KUBECONFIG},
		{"context", 1, NULL, O_CONTEXT},
		{"server", 1, NULL, O_SERVER},
		{"token-file", 1, NULL, O_TOKEN_FILE},
		{"token", 1, NULL, O_TOKEN},
		{"ca-file", 1, NULL, O_CA},
		{"socket", 1, NULL, O_SOCKET},
		{"node", 1, NULL, O_NODE},
		{"namespace", 1, NULL, O_NS},
		{"watch-namespace", 1, NULL, O_WATCH_NS},
		{"headroom", 1, NULL, O_HEADROOM},
		{"lease-name", 1, NULL, O_LEASE},
		{"lease-duration", 1, NULL, O_LEASE_DUR},
		{"identity", 1, NULL, O_ID},
		{"progress-interval", 1, NULL, O_PROGRESS},
		{"retry-base", 1, NULL, O_RETRY},
		{"retry-max", 1, NULL, O_RETRY_MAX},
		{"resync", 1, NULL, O_RESYNC},
		{"node-interval", 1, NULL, O_NODE_INT},
		{"watch-timeout", 1, NULL, O_WATCH_TO},
		{"secret-refresh", 1, NULL, O_SECRET_REFRESH},
		{"sa-dir", 1, NULL, O_SA},
		{"log-level", 1, NULL, O_LOG},
		{"version", 0, NULL, O_VERSION},
		{"help", 0, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	const char *kubeconfig = NULL, *server = NULL, *token_file = NULL;
	const char *context = NULL;
	const char *ca = NULL, *ns = NULL, *watch_ns = NULL;
	const char *lease_name = "aimfs-reconciler", *sa_dir = SA_DIR;
	long headroom = 10, lease_dur = 15, progress = 2, retry = 5;
	long retry_max = 300, watch_to = 300, node_int = 30, refresh = 60;
	struct aim_kube_conf conf = {0};
	char host[HOST_NAME_MAX + 1], *cause = NULL, ua[512];
	char apath[512], tpath[512];
	pthread_t wt;
	int c, rc, ret = 1;
	long v;

	aim_log_open("aimfs-reconciler", 0);
	rec.sock = getenv("AIMFS_SOCKET");
	rec.node = getenv("NODE_NAME");
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_KUBECONFIG:
			kubeconfig = optarg;
			break;
		case O_CONTEXT:
			context = optarg;
			break;
		case O_SERVER:
			server = optarg;
			break;
		case O_TOKEN_FILE:
			token_file = optarg;
			break;
		case O_TOKEN:
			/*
			 * Keep a copy and blank the argument, so the token
			 * shows in /proc/PID/cmdline (ps) only until here.
			 */
			if (token) {
				explicit_bzero(token, strlen(token));
				free(token);
			}
			if ((token = strdup(optarg)) == NULL) {
				fprintf(stderr, "aimfs-reconciler: out of "
						"memory\n");
				return 1;
			}
			memset(optarg, 'x', strlen(optarg));
			break;
		case O_CA:
			ca = optarg;
			break;
		case O_SOCKET:
			rec.sock = optarg;
			break;
		case O_NODE:
			rec.node = optarg;
			break;
		case O_NS:
			ns = optarg;
			break;
		case O_WATCH_NS:
			watch_ns = optarg;
			break;
		case O_LEASE:
			lease_name = optarg;
			break;
		case O_ID:
			rec.identity = optarg;
			break;
		case O_SA:
			sa_dir = optarg;
			break;
		case O_HEADROOM:
		case O_LEASE_DUR:
		case O_PROGRESS:
		case O_RETRY:
		case O_RETRY_MAX:
		case O_RESYNC:
		case O_NODE_INT:
		case O_WATCH_TO:
		case O_SECRET_REFRESH:
			if (positive(opts[c - O_KUBECONFIG].name, optarg, &v) <
			    0)
				return 2;
			if (c == O_HEADROOM)
				headroom = v;
			else if (c == O_LEASE_DUR)
				lease_dur = v;
			else if (c == O_PROGRESS)
				progress = v;
			else if (c == O_RETRY)
				retry = v;
			else if (c == O_RETRY_MAX)
				retry_max = v;
			else if (c == O_RESYNC)
				resync_ms = v * 1000;
			else if (c == O_NODE_INT)
				node_int = v;
			else if (c == O_SECRET_REFRESH)
				refresh = v;
			else
				watch_to = v;
			break;
		case O_LOG:
			if ((rc = aim_log_parse_level(optarg)) < 0) {
				fprintf(stderr,
					"aimfs-reconciler: bad log "
					"level '%s'\n",
					optarg);
				return 2;
			}
			aim_log_level = rc;
			break;
		case O_VERSION:
			puts("aimfs-reconciler " PACKAGE_VERSION);
			return 0;
		case O_HELP:
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (context && !kubeconfig) {
		fprintf(stderr, "aimfs-reconciler: --context needs "
				"--kubeconfig\n");
		return 2;
	}
	if (token && token_file) {
		fprintf(stderr, "aimfs-reconciler: --token and --token-file "
				"exclude each other\n");
		return 2;
	}
	if (optind < argc || headroom > 1000 || lease_dur < 1 || progress < 1 ||
	    progress > 5 || retry < 1 || retry_max < retry || watch_to < 1 ||
	    node_int < 1 || refresh < 1 ||
	    resync_ms < 1000) {
		if (progress > 5)
			fprintf(stderr, "aimfs-reconciler: --progress-interval "
					"is at most 5 seconds\n");
		usage(stderr);
		return 2;
	}
	if (rec.sock == NULL)
		rec.sock = "/run/aimfs/aimfsd.sock";
	if (rec.node == NULL) {
		if (gethostname(host, sizeof(host)) < 0)
			strcpy(host, "localhost");
		host[HOST_NAME_MAX] = '\0';
		rec.node = host;
	}
	if (rec.identity == NULL)
		rec.identity = rec.node;
	rec.headroom = (unsigned int)headroom;
	rec.progress_ms = progress * 1000;
	rec.retry_base_ms = retry * 1000;
	rec.retry_max_ms = retry_max * 1000;
	rec.node_interval_ms = node_int * 1000;
	rec.creds_refresh_ms = refresh * 1000;
	/* a finalizer's name part is at most 63 characters */
	if (strlen(rec.node) <= 63) {
		snprintf(rec.node_fin, sizeof(rec.node_fin), "node.aimfs.io/%s",
			 rec.node);
	} else {
		char k[17];
		aim_cache_key(rec.node, k);
		snprintf(rec.node_fin, sizeof(rec.node_fin), "node.aimfs.io/%s",
			 k);
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (kubeconfig)
		rc = aim_kube_conf_kubeconfig(&conf, kubeconfig, context,
					      &cause);
	else if (server)
		rc = (conf.server = strdup(server)) ? 0 : -ENOMEM;
	else
		rc = aim_kube_conf_in_cluster(&conf, sa_dir, &cause);
	if (rc == 0 && server && kubeconfig) {
		free(conf.server);
		rc = (conf.server = strdup(server)) ? 0 : -ENOMEM;
	}
	if (rc == 0 && token_file) {
		free(conf.token_file);
		free(conf.token);
		conf.token = NULL;
		rc = (conf.token_file = strdup(token_file)) ? 0 : -ENOMEM;
	}
	if (token) {
		free(conf.token_file);
		conf.token_file = NULL;
		if (conf.token) {
			explicit_bzero(conf.token, strlen(conf.token));
			free(conf.token);
		}
		conf.token = token; /* conf owns it now */
		token = NULL;
	}
	if (rc == 0 && ca) {
		free(conf.ca_file);
		rc = (conf.ca_file = strdup(ca)) ? 0 : -ENOMEM;
	}
	snprintf(ua, sizeof(ua), "aimfs-reconciler/%s (node=%s id=%s)",
		 PACKAGE_VERSION, rec.node, rec.identity);
	if (rc == 0 && (conf.user_agent = strdup(ua)) == NULL)
		rc = -ENOMEM;
	if (rc == 0)
		rc = aim_kube_new(&conf, &rec.kube, &cause);
	if (rc < 0) {
		fprintf(stderr, "aimfs-reconciler: %s\n",
			cause ? cause : strerror(-rc));
		free(cause);
		aim_kube_conf_release(&conf);
		return 1;
	}
	if (ns == NULL)
		ns = conf.namespace ? conf.namespace : "aimfs-system";
	rec.keys = json_object();
	rec.q = aim_queue_new();
	if (rec.keys == NULL || rec.q == NULL) {
		fprintf(stderr, "aimfs-reconciler: out of memory\n");
		goto out;
	}

	/* signals are taken by the main thread only */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (watch_ns) {
		snprintf(apath, sizeof(apath),
			 AIM_API "/namespaces/%s/aimartifacts", watch_ns);
		snprintf(tpath, sizeof(tpath),
			 AIM_API "/namespaces/%s/aimtemplatecaches", watch_ns);
	} else {
		snprintf(apath, sizeof(apath), AIM_API "/aimartifacts");
		snprintf(tpath, sizeof(tpath), AIM_API "/aimtemplatecaches");
	}
	aim_log(LOG_NOTICE,
		"starting on node %s: API %s%s%s%s, daemon %s, lease "
		"%s/%s as %s, headroom %ld%%",
		rec.node, conf.server, conf.context ? " (context '" : "",
		conf.context ? conf.context : "", conf.context ? "')" : "",
		rec.sock, ns, lease_name, rec.identity, headroom);
	if ((rc = aim_informer_start(rec.kube, apath, "aimartifacts", watch_to,
				     on_artifact, NULL, &rec.arts)) < 0 ||
	    (rc = aim_informer_start(rec.kube, tpath, "aimtemplatecaches",
				     watch_to, on_template, NULL, &rec.tcs)) <
		    0 ||
	    (rc = aim_lease_start(rec.kube, ns, lease_name, rec.identity,
				  (int)lease_dur, on_lease, NULL, &rec.lease)) <
		    0 ||
	    (rc = -pthread_create(&wt, NULL, worker, NULL)) < 0) {
		aim_log(LOG_ERR, "cannot start: %s", strerror(-rc));
		stopping = 1;
		goto stop;
	}

	int sig = 0;
	while (sigwait(&set, &sig) != 0)
		;
	stopping = 1;
	aim_log(LOG_NOTICE, "stopping on signal %d", sig);
	aim_queue_stop(rec.q);
	pthread_join(wt, NULL);
	ret = 0;
stop:
	aim_queue_stop(rec.q);
	aim_informer_stop(&rec.arts);
	aim_informer_stop(&rec.tcs);
	aim_lease_stop(&rec.lease);
out:
	aim_queue_free(&rec.q);
	json_decref(rec.keys);
	json_decref(rec.nodes);
	aim_kube_free(&rec.kube);
	aim_kube_conf_release(&conf);
	curl_global_cleanup();
	return ret;
}
