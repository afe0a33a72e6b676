/* SPDX-License-Identifier: MIT */
/* Replay guard for signed messages: timestamp skew window plus per-node
 * (boot nonce, sequence) ordering. */
#ifndef NODESCORE_REPLAY_H
#define NODESCORE_REPLAY_H

#include <stdint.h>

#include "nodescore/wire.h"

struct ns_replay_state {
	uint32_t nonce;
	uint32_t seq;
	uint64_t ts_ms;
	int valid; /* 0: nothing accepted from this node yet */
};

/* A message may be dated at most this far ahead of the receiver's clock
 * by default: agents restart with a new nonce, and a new nonce wins only
 * with a newer timestamp, so this is the longest a message of a new
 * epoch (a forged one included) can lock the node's running agent out. */
#define NS_REPLAY_FUTURE_MS 2000u

/* Decides whether msg may be accepted given the last accepted state of its
 * node and the receiver's clock now_ms:
 *  - ts < now - skew_ms, or ts > now + min(future_ms, skew_ms) -> NS_WIRE_ERR_SKEW
 *  - same nonce, seq <= last seq      -> NS_WIRE_ERR_REPLAY
 *  - new nonce (agent restart), ts <= last ts -> NS_WIRE_ERR_REPLAY
 * Does not modify st; call ns_replay_commit after storing the message. */
enum ns_wire_status ns_replay_check(const struct ns_replay_state *st, const struct ns_msg *msg,
				    uint64_t now_ms, uint64_t skew_ms, uint64_t future_ms);
void ns_replay_commit(struct ns_replay_state *st, const struct ns_msg *msg);

#endif
