// SPDX-License-Identifier: MIT
/* libFuzzer target: the forecaster's binary model loader and XGBoost JSON
 * import must reject or accept any bytes without crashing; an accepted model
 * must predict without reading out of bounds. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <string.h>
#include <zlib.h>

#include "nodescore/forecast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ns_feat_config cfg = {.step_ms = 300000, .metric_mask = NS_FEAT_MASK_FORECAST};
	struct ns_fc_target t = {.metric = 0, .stat = 0, .horizon_s = 3600};
	struct ns_forecast *fc = NULL;
	float x[NS_FEAT_MAX], out[NS_FC_MAX_MODELS];
	char err[256];

	for (size_t i = 0; i < NS_FEAT_MAX; i++)
		x[i] = (i % 5 == 0) ? NAN : (float)i * 0.01f;
	if (ns_forecast_load(data, size, &fc, err, sizeof(err)) == 0) {
		ns_forecast_predict(fc, x, ns_forecast_nfeat(fc), out, NS_FC_MAX_MODELS);
		ns_forecast_free(fc);
	}
	/* Again with the CRC trailer repaired, so mutations reach the
	 * structural checks instead of stopping at the checksum. */
	if (size >= 8 && size <= (1u << 20)) {
		uint8_t *c = malloc(size);
		uint32_t crc;

		if (c) {
			memcpy(c, data, size);
			crc = (uint32_t)crc32(0L, c, (uInt)(size - 4));
			c[size - 4] = (uint8_t)crc;
			c[size - 3] = (uint8_t)(crc >> 8);
			c[size - 2] = (uint8_t)(crc >> 16);
			c[size - 1] = (uint8_t)(crc >> 24);
			fc = NULL;
			if (ns_forecast_load(c, size, &fc, err, sizeof(err)) == 0) {
				ns_forecast_predict(fc, x, ns_forecast_nfeat(fc), out,
						    NS_FC_MAX_MODELS);
				ns_forecast_free(fc);
			}
			free(c);
		}
	}
	fc = NULL;
	if (ns_forecast_new(&cfg, &fc) == 0) {
		if (ns_forecast_add_xgb_json(fc, &t, (const char *)data, size, 0, 1, err,
					     sizeof(err)) == 0)
			ns_forecast_predict(fc, x, ns_forecast_nfeat(fc), out, NS_FC_MAX_MODELS);
		ns_forecast_free(fc);
	}
	return 0;
}
