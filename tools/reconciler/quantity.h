/*
 * quantity.h - Kubernetes resource quantities ("16Gi", "1.5G", "500M",
 * "1e9") and the PVC sizing rule: model size x (1 + headroom%) rounded up
 * to a whole GiB. Pure functions, no allocation: unit-tested on their own.
 */
#ifndef AIM_QUANTITY_H
#define AIM_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

/*
 * Parse a quantity into bytes, rounding a fraction of a byte up. Binary
 * (Ki Mi Gi Ti Pi Ei), decimal (k M G T P E, m, u, n) suffixes and a
 * decimal exponent (1e9, 5E3) are accepted; a sign is refused. Returns 0,
 * -EINVAL for a malformed string or -ERANGE past 2^64 - 1.
 */
int aim_quantity_parse(const char *s, uint64_t *bytes);

/*
 * GiB to request for a model of `bytes` with `headroom` percent on top:
 * ceil(bytes * (100 + headroom) / 100 / 2^30), computed exactly. 0 for 0
 * bytes; at least 1 otherwise.
 */
uint64_t aim_pvc_gib(uint64_t bytes, unsigned int headroom);

/* "<n>Gi" into buf; returns buf */
const char *aim_quantity_gib(uint64_t gib, char *buf, size_t len);

#endif
