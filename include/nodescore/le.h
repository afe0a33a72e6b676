/* SPDX-License-Identifier: MIT */
/* Little-endian byte packing for the file and wire formats (wire messages,
 * model files, Q-table, history ring): one copy, independent of the host's byte order,
 * no unaligned access. Floats travel as their IEEE-754 bit pattern. */
#ifndef NODESCORE_LE_H
#define NODESCORE_LE_H

#include <stdint.h>
#include <string.h>

static inline uint8_t *ns_le_put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static inline uint16_t ns_le_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* Writes v at p, returns p + 4. */
static inline uint8_t *ns_le_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	return p + 4;
}

static inline uint8_t *ns_le_put_u64(uint8_t *p, uint64_t v)
{
	ns_le_put_u32(p, (uint32_t)v);
	return ns_le_put_u32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t ns_le_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t ns_le_get_u64(const uint8_t *p)
{
	return (uint64_t)ns_le_get_u32(p) | (uint64_t)ns_le_get_u32(p + 4) << 32;
}

static inline uint32_t ns_le_f32_bits(float v)
{
	uint32_t u;

	memcpy(&u, &v, sizeof(u));
	return u;
}

static inline float ns_le_bits_f32(uint32_t u)
{
	float v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

#endif
