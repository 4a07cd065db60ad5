/*
 * lease.h - leader election on a coordination.k8s.io/v1 Lease, as
 * client-go's leaderelection does it: the holder renews spec.renewTime every
 * duration/3; another candidate takes the lease over only when it has seen
 * no renewal for leaseDurationSeconds by its own clock (no clock
 * comparison between nodes); writes go through resourceVersion, so two
 * candidates cannot both win. The holder believes it leads only until
 * 2/3 of the duration has passed since its last successful renewal, which
 * is earlier than anyone else may take over. On stop, the lease is
 * released (holderIdentity emptied) so a successor need not wait.
 */
#ifndef AIM_LEASE_H
#define AIM_LEASE_H

struct aim_kube;
struct aim_lease;

/* called on the lease thread when leadership is gained (1) or lost (0) */
typedef void (*aim_lease_fn)(void *arg, int held);

/* all strings are copied; 0 or -errno */
int aim_lease_start(struct aim_kube *k, const char *ns, const char *name,
		    const char *identity, int duration_secs, aim_lease_fn fn,
		    void *arg, struct aim_lease **out);

/* 1 while this process holds the lease */
int aim_lease_held(struct aim_lease *l);

/* stop renewing, release the lease if held, free */
void aim_lease_stop(struct aim_lease **l);

#endif
