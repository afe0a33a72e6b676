// SPDX-License-Identifier: MIT
/* Disk latency source: picks the BPF path or the /proc/diskstats fallback at
 * open time and turns an interval's figures into the sample vector. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "nodescore/clock.h"
#include "nodescore/disklat.h"
#include "nodescore/log.h"
#include "disklat_int.h"

struct ns_disklat {
	struct ns_disklat_bpf *bpf;
	struct ns_disklat_ds *ds;
};

int ns_disklat_open(const struct ns_disklat_opts *opts, struct ns_disklat **out)
{
	struct ns_disklat *d;
	char why[128] = "no_bpf_option";
	int err;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	/* BPF sees the host whatever proc_root says (in a DaemonSet the host's
	 * /proc is often mounted elsewhere); proc_root only feeds the fallback. */
	if (!opts || !opts->no_bpf) {
		uint64_t t0 = ns_mono_ns();

		err = ns_disklat_bpf_open(opts && opts->raw_tp, &d->bpf, why, sizeof(why));
		if (!err) {
			log_info("disklat", "using bpf attach=%s load_ms=%.1f",
				 ns_disklat_bpf_attach_kind(d->bpf),
				 (double)(ns_mono_ns() - t0) / 1e6);
			*out = d;
			return 0;
		}
		log_warning("disklat", "bpf unavailable, falling back to diskstats reason=%s", why);
	} else {
		log_info("disklat", "bpf not used reason=%s", why);
	}
	err = ns_disklat_ds_open(opts ? opts->proc_root : NULL, &d->ds);
	if (err) {
		log_error("disklat", "no disk source works reason=%s diskstats_err=%d", why, err);
		free(d);
		return err;
	}
	log_info("disklat", "using diskstats");
	*out = d;
	return 0;
}

const char *ns_disklat_mode(const struct ns_disklat *d)
{
	return d && d->bpf ? "bpf" : "diskstats";
}

const char *ns_disklat_attach_kind(const struct ns_disklat *d)
{
	return d && d->bpf ? ns_disklat_bpf_attach_kind(d->bpf) : "none";
}

int ns_disklat_read(struct ns_disklat *d, struct ns_disklat_stats *st)
{
	if (!d || !st)
		return -EINVAL;
	if (d->bpf)
		return ns_disklat_bpf_read(d->bpf, st);
	return ns_disklat_ds_read(d->ds, st);
}

int ns_disklat_sample(struct ns_disklat *d, struct ns_sample *s)
{
	struct ns_disklat_stats st;
	int err;

	s->v[NS_M_DISK_P50_US] = s->v[NS_M_DISK_P99_US] = s->v[NS_M_DISK_IOPS] = NAN;
	err = ns_disklat_read(d, &st);
	if (err) {
		if (err != -EAGAIN)
			log_warning("disklat", "sample failed mode=%s err=%d", ns_disklat_mode(d),
				    err);
		return err;
	}
	s->v[NS_M_DISK_P50_US] = (float)st.p50_us;
	s->v[NS_M_DISK_P99_US] = (float)st.p99_us;
	s->v[NS_M_DISK_IOPS] = (float)st.iops;
	s->health |= NS_SRC_DISK;
	return 0;
}

void ns_disklat_close(struct ns_disklat *d)
{
	if (!d)
		return;
	ns_disklat_bpf_close(d->bpf);
	ns_disklat_ds_close(d->ds);
	free(d);
}
