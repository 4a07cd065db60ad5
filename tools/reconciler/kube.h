/*
 * kube.h - a small Kubernetes API client on libcurl and jansson: where the
 * API server is and how to authenticate (in-cluster service account, a
 * kubeconfig, or explicit flags), one JSON request, and a watch stream.
 *
 * The bearer token is read from its file again whenever the file changes
 * (projected service-account tokens rotate) and once more after a 401. It
 * is never logged. Connections are shared between threads through a curl
 * share handle; every function here is thread-safe.
 */
#ifndef AIM_KUBE_H
#define AIM_KUBE_H

#include <jansson.h>

struct aim_kube;

/* where and how to connect; every string is owned by the struct */
struct aim_kube_conf {
	char *server;	  /* https://host:port (http:// for tests) */
	char *token_file; /* re-read when it changes */
	char *token;	  /* a literal token (from a kubeconfig) */
	char *ca_file;	  /* PEM bundle to verify the server; NULL: system */
	char *ca_data;	  /* or the PEM itself (certificate-authority-data) */
	size_t ca_data_len;
	char *namespace;  /* the default namespace the config names, or NULL */
	char *context;	  /* the kubeconfig context used, or NULL */
	char *user_agent;
};

void aim_kube_conf_release(struct aim_kube_conf *c);

/*
 * In-cluster: KUBERNETES_SERVICE_HOST/PORT, and token, ca.crt and namespace
 * from sa_dir (/var/run/secrets/kubernetes.io/serviceaccount). 0 or -errno
 * with *cause (caller frees).
 */
int aim_kube_conf_in_cluster(struct aim_kube_conf *c, const char *sa_dir,
			     char **cause);

/*
 * A kubeconfig (kubeconfig.c): context (NULL: current-context) -> its
 * cluster's server and certificate-authority(-data), its user's token or
 * tokenFile, its namespace. Relative paths are taken from the kubeconfig's
 * directory. No client certificates or exec plugins. 0 or -errno with
 * *cause.
 */
int aim_kube_conf_kubeconfig(struct aim_kube_conf *c, const char *path,
			     const char *context, char **cause);

/* a client for conf (copied); 0 or -errno with *cause */
int aim_kube_new(const struct aim_kube_conf *conf, struct aim_kube **out,
		 char **cause);
void aim_kube_free(struct aim_kube **k);

/*
 * One request. path is absolute ("/api/v1/..."), with its query. body may
 * be NULL; ctype is its Content-Type (NULL: application/json). Returns the
 * HTTP status (>= 100) and, when the answer is JSON, *resp (caller frees;
 * NULL otherwise). A negative errno when no answer came, with *cause.
 */
int aim_kube_call(struct aim_kube *k, const char *method, const char *path,
		  const char *ctype, json_t *body, json_t **resp, char **cause);

/*
 * A watch: GET path and hand every line of the answer, parsed, to fn
 * (borrowed). fn returns 0 to go on, anything else to stop the stream.
 * *stop set by another thread ends the stream within a second. idle_secs
 * bounds the time with no byte received. Returns 200 when the stream ended
 * (by the server, fn or *stop), another HTTP status when the watch was
 * refused (*resp is then the Status, caller frees), or a negative errno when
 * the stream was cut, with *cause.
 */
typedef int (*aim_kube_event_fn)(void *arg, json_t *event);
int aim_kube_stream(struct aim_kube *k, const char *path, aim_kube_event_fn fn,
		    void *arg, volatile int *stop, long idle_secs,
		    json_t **resp, char **cause);

/* the message of a Status answer, or a placeholder; borrowed from st */
const char *aim_kube_message(json_t *st);

/* "-" for NULL: for log lines */
#define AIM_STR(s) ((s) ? (s) : "-")

#endif
