// MPNet's relative position bias (transformers' MPNetEncoder.relative_position_bucket and
// compute_position_bias): the key's offset from the query in buckets, a learned bias per bucket
// and head added to every layer's attention scores.
#pragma once
#include <cstdint>
#include <vector>

namespace sbert::cpu {

// The bucket of offset j - i: half the buckets for keys before the query and half (from
// buckets / 2 on) for keys after it; within a half, distances below a quarter of the buckets
// exactly, longer ones log-spaced up to max_distance (the last bucket beyond), in float32 as
// transformers computes it: q + int(log(n / q) / float(log(max_distance / q)) * q), q =
// buckets / 4.
int64_t relative_position_bucket(int64_t offset, int64_t buckets, int64_t max_distance);

// [heads, n, n]: bias[(h * n + i) * n + j] = table[bucket(j - i) * heads + h] for a table
// [buckets, heads] (the checkpoint's relative_attention_bias.weight).
std::vector<float> relative_position_bias(const float* table, int64_t heads, int64_t buckets, int64_t max_distance,
                                          int64_t n);

}  // namespace sbert::cpu
