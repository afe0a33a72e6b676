/* SPDX-License-Identifier: MIT */
/* Isolation forest: training, scoring, per-feature attribution and the
 * versioned, checksummed model file (.nsif). */
#ifndef NODESCORE_IFOREST_H
#define NODESCORE_IFOREST_H

#include <stddef.h>
#include <stdint.h>

#define NS_IFOREST_MAX_FEATURES 64
#define NS_IFOREST_MAX_TREES 4096
#define NS_IFOREST_MAX_PSI 65536
#define NS_IFOREST_NAME_MAX 63		/* bytes of a feature name */
#define NS_IFOREST_FILE_MAX (64u << 20) /* a model file larger than this is rejected */
#define NS_IFOREST_VERSION 1u

struct ns_iforest; /* opaque, immutable after training or loading */

struct ns_iforest_params {
	uint32_t n_trees; /* default 100 */
	uint32_t psi;	  /* sub-sample size per tree, default 256 (capped at the row count) */
	uint64_t seed;	  /* fixed seed: same data + params -> same forest */
};

void ns_iforest_params_default(struct ns_iforest_params *p);

/* Trains on n_rows x n_features row-major finite floats. names may be NULL
 * (features are then called f0, f1, ...). Returns 0 and a new forest in *out
 * (free with ns_iforest_free), -EINVAL on bad arguments or non-finite data,
 * -ENOMEM. */
int ns_iforest_train(const float *x, size_t n_rows, size_t n_features, const char *const *names,
		     const struct ns_iforest_params *p, struct ns_iforest **out);

/* Reference-counted so that many holders can share one forest
 * (nodescore-sim's simulated nodes score against one 195 KB copy); see
 * ns_forecast_ref for why a count. train and the loaders return a forest
 * with one reference; ns_iforest_ref adds one and returns f (NULL-safe);
 * ns_iforest_free drops one and frees at zero (NULL-safe). The count is
 * atomic and the forest is immutable, so holders need no lock. */
struct ns_iforest *ns_iforest_ref(struct ns_iforest *f);
void ns_iforest_free(struct ns_iforest *f);

/* Anomaly score of one sample: s = 2^(-E[h(x)]/c(psi)) in (0, 1], higher is
 * more anomalous (~0.5 ordinary, > 0.6 unusual). x has n_features values
 * (must equal the model's); NaN is not allowed. Returns 0, or -EINVAL. */
int ns_iforest_score(const struct ns_iforest *f, const float *x, size_t n_features, double *score);

/* Scores n_rows row-major samples into out[n_rows]. Returns 0 or -EINVAL. */
int ns_iforest_score_batch(const struct ns_iforest *f, const float *x, size_t n_rows,
			   size_t n_features, double *out);

/* Score plus the feature that did most to isolate x: every split on x's path
 * credits its feature with log2(node size / child size), the share of the
 * training sub-sample it cut away; the credits add up to how fast x was
 * isolated. *top gets that feature's index; contrib (optional, n_features)
 * gets each feature's share of the total, summing to 1. Returns 0 or -EINVAL. */
int ns_iforest_explain(const struct ns_iforest *f, const float *x, size_t n_features, double *score,
		       int *top, double *contrib);

size_t ns_iforest_n_features(const struct ns_iforest *f);
size_t ns_iforest_n_trees(const struct ns_iforest *f);
uint32_t ns_iforest_psi(const struct ns_iforest *f);
const char *ns_iforest_feature_name(const struct ns_iforest *f, size_t i); /* NULL out of range */

/* Serialises into a new malloc'd buffer (*buf, *len; caller frees). Layout,
 * all little-endian: "NSIF", u32 version, u32 n_features, u32 n_trees,
 * u32 psi, u64 seed, per feature (u16 len, bytes), per tree (u32 n_nodes,
 * i32 feature[n], f32 threshold[n], u32 left[n], u32 right[n], u32 size[n]),
 * u32 CRC-32 of everything before it. Returns 0 or -ENOMEM. */
int ns_iforest_serialize(const struct ns_iforest *f, uint8_t **buf, size_t *len);

/* Parses an untrusted buffer. Every length is checked against the bytes
 * left, every child index, feature index and node size against the tree,
 * thresholds must be finite, the checksum must match. Returns 0 and a new
 * forest, or -EBADMSG (reason in err), -ENOMEM. Never reads past buf+len. */
int ns_iforest_deserialize(const uint8_t *buf, size_t len, struct ns_iforest **out, char *err,
			   size_t errlen);

/* Writes the model atomically: temp file in the same directory, fsync,
 * rename, fsync of the directory. An interrupted save leaves the old file.
 * Returns 0 or -errno (reason in err). */
int ns_iforest_save(const struct ns_iforest *f, const char *path, char *err, size_t errlen);

/* Reads and deserialises a model file (at most NS_IFOREST_FILE_MAX bytes).
 * Returns 0, -errno on I/O errors, -EBADMSG on a bad file (reason in err). */
int ns_iforest_load(const char *path, struct ns_iforest **out, char *err, size_t errlen);

#endif
