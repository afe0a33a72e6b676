/* SPDX-License-Identifier: MIT */
/* Internal: the in-memory model set the forecaster files share. forecast.c
 * owns the set (lifetime, references, queries) and the tree walker;
 * forecast_xgb.c imports XGBoost JSON models; forecast_codec.c the compact
 * binary format and bundle loading. Callers use nodescore/forecast.h. */
#ifndef NODESCORE_LIB_FORECAST_INT_H
#define NODESCORE_LIB_FORECAST_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nodescore/forecast.h"

/* Node: 8 bytes. Children of a node are adjacent (left, left + 1) and always
 * after it, so a walk terminates and the file cannot encode a cycle. */
struct fc_node {
	float v;       /* split threshold, or leaf value */
	uint16_t feat; /* FC_LEAF | FC_DLEFT | feature index */
	uint16_t left; /* index of the left child within the tree */
};

#define FC_LEAF 0x8000u
#define FC_DLEFT 0x4000u
#define FC_FMASK 0x3fffu

#define FC_NO_ANCHOR 0xffffu

struct fc_model {
	struct ns_fc_target t;
	float base;	    /* XGBoost base_score (identity link: the margin start) */
	float offset;	    /* bias correction */
	uint16_t anchor[2]; /* relative models: feature added back, and its fallback */
	uint16_t flat_feat; /* flat guard: when x[flat_feat] < flat_thr, forecast */
	float flat_thr;	    /* anchor + offset (persistence) instead of the trees */
	uint32_t ntrees, nnodes;
	uint32_t *tree_off; /* ntrees + 1 node offsets */
	/* In memory, leaves loop to themselves (a padding feature that is NaN,
	 * default direction left = self) so every tree walks a fixed number of
	 * steps with no branch; a leaf keeps its value in v. */
	struct fc_node *nodes;
	uint8_t *depth; /* per tree */
};

struct ns_forecast {
	/* Holders of this model set (see ns_forecast_ref): atomic so holders in
	 * different threads may take and drop references without a lock. */
	atomic_uint refs;
	struct ns_feat_config cfg;
	size_t nfeat;
	size_t nmodels;
	struct fc_model m[NS_FC_MAX_MODELS];
};

#define ERR(...)                                                                                   \
	do {                                                                                       \
		if (err && errlen)                                                                 \
			snprintf(err, errlen, __VA_ARGS__);                                        \
	} while (0)

int ns_forecast_cfg_valid(const struct ns_feat_config *cfg);
int ns_forecast_target_valid(const struct ns_fc_target *t);

/* Frees one model's arrays and zeroes it. */
void ns_forecast_model_clear(struct fc_model *m);

/* File encoding -> walker encoding (see struct fc_model): leaves loop to
 * themselves, depths per tree. -EINVAL for a tree deeper than 64, -ENOMEM. */
int ns_forecast_finish_model(struct fc_model *m, size_t nfeat);

/* Feature indices a relative model of metric adds back: <metric>_cur, then
 * <metric>_mean_1h. */
void ns_forecast_anchors_for(const struct ns_forecast *fc, int metric, uint16_t a[2]);

/* True when another holder also uses fc: mutators refuse it. */
int ns_forecast_shared(struct ns_forecast *fc);

#endif
