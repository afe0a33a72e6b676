/* SPDX-License-Identifier: MIT */
/* Q-table placement value: a small table over a discretised node state,
 * learned offline in nodescore-sim (tabular Q-learning, one action "place
 * a pod here"), shipped as a versioned, checksummed file and looked up by
 * the agent on every tick. The value is the expected share of pods placed
 * on a node in that state that do not see it overloaded (CPU > 90 %)
 * within 10 minutes, discounted over later placements: 1 is a safe place,
 * 0 a bad one.
 *
 * The pod class is not part of the state: the agent publishes one score
 * per node before any pod is known; the extender weighs pod classes. */
#ifndef NODESCORE_QTABLE_H
#define NODESCORE_QTABLE_H

#include <stddef.h>
#include <stdint.h>

/* State dimensions (bucket edges in ns_qtable_state). */
#define NS_Q_CPU 10  /* CPU use now, 10 % buckets */
#define NS_Q_TREND 3 /* forecast CPU peak minus now: < 5 pp, < 15 pp, more */
#define NS_Q_MEM 4   /* memory use now: < 50 %, < 70 %, < 85 %, more */
#define NS_Q_ANOM 2  /* anomaly flag */
#define NS_Q_DENS 3  /* pods per core: < 0.5, < 1.5, more */
#define NS_Q_STATES (NS_Q_CPU * NS_Q_TREND * NS_Q_MEM * NS_Q_ANOM * NS_Q_DENS)

#define NS_QTABLE_VERSION_MAX 32

struct ns_qstate_in {
	double cpu_now;	    /* 0..1 */
	double cpu_peak_fc; /* 0..1, NaN when no forecast (trend bucket 0) */
	double mem_now;	    /* 0..1 */
	int anomaly;	    /* flag after hysteresis */
	double pods;	    /* pods on the node */
	double ncpu;	    /* cores; NaN or < 1: density bucket 0 */
};

struct ns_qtable {
	float q[NS_Q_STATES];		     /* 0..1 */
	uint32_t visits[NS_Q_STATES];	     /* training updates (0: filled from a neighbour) */
	uint32_t episodes;		     /* training episodes behind the table */
	char version[NS_QTABLE_VERSION_MAX]; /* NUL-terminated, [A-Za-z0-9._+:-] */
};

/* Index 0..NS_Q_STATES-1 of a node state; out-of-range and NaN inputs are
 * clamped into the nearest bucket (NaN cpu or mem: bucket 0). */
uint32_t ns_qtable_state(const struct ns_qstate_in *in);

/* Value of a state, 0..1. */
double ns_qtable_value(const struct ns_qtable *t, uint32_t state);

/* Little-endian file image: magic "NSQT", format 1, the five dimensions
 * (a table of other dimensions is refused), episodes, version, the
 * states (float q, u32 visits), CRC-32 of everything before it.
 * serialize allocates *buf (free()); returns 0 or -ENOMEM/-EINVAL. */
int ns_qtable_serialize(const struct ns_qtable *t, uint8_t **buf, size_t *len);

/* Validates everything (length, magic, format, dimensions, checksum,
 * every q finite and in 0..1, version charset) before touching *out;
 * returns 0, or -EINVAL with a reason in err. */
int ns_qtable_deserialize(const uint8_t *buf, size_t len, struct ns_qtable *out, char *err,
			  size_t errlen);

/* Atomic write (temp file, fsync, rename, directory fsync). */
int ns_qtable_save(const struct ns_qtable *t, const char *path, char *err, size_t errlen);

/* Reads at most 1 MiB; -errno or -EINVAL with a reason in err. */
int ns_qtable_load(const char *path, struct ns_qtable *out, char *err, size_t errlen);

#endif
