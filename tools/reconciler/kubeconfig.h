/*
 * kubeconfig.h - reading a kubeconfig the way kubectl does for the fields
 * aimfs-reconciler uses: current-context (or --context) -> the context ->
 * its cluster (server, certificate-authority or certificate-authority-data)
 * and its user (token or tokenFile), and the context's namespace.
 *
 * The file is JSON or YAML. The YAML reader takes the subset kubeconfigs
 * are written in (kubectl, kind, k3s, cloud CLIs): block mappings and
 * sequences, plain, single- and double-quoted scalars, flow collections on
 * one line, block scalars (| and >), comments and a leading "---". Anchors,
 * aliases, tags and multi-document files are refused with the line number.
 * Scalars stay strings (null, ~ and an empty value are null): the caller
 * knows which fields are booleans.
 */
#ifndef AIM_KUBECONFIG_H
#define AIM_KUBECONFIG_H

#include <stddef.h>

#include <jansson.h>

struct aim_kube_conf;

/* text (NUL-terminated) into *doc (caller frees); 0 or -EINVAL with *cause */
int aim_kubeconfig_parse(const char *text, json_t **doc, char **cause);

/*
 * Fill c from doc for context (NULL: current-context; when that is unset,
 * the only context, or the only cluster and user). Relative paths are taken
 * from dir. What cannot be honoured (client certificates, exec plugins,
 * insecure-skip-tls-verify) is logged as a warning. 0 or -errno with
 * *cause (caller frees).
 */
int aim_kubeconfig_select(json_t *doc, const char *dir, const char *context,
			  struct aim_kube_conf *c, char **cause);

/*
 * Standard base64 (padding optional, whitespace ignored) into *out
 * (caller frees, NUL-terminated for convenience) and *len. 0, -EINVAL or
 * -ENOMEM.
 */
int aim_base64_decode(const char *in, unsigned char **out, size_t *len);

#endif
