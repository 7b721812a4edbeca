// Deterministic shards of one input, and merging their outputs back.
//
// Shard I of N (0-based) takes the contiguous range of input records
// [floor(I*R/N), floor((I+1)*R/N)) where R is the total record count, so the N ranges cover
// every record exactly once, in order (a shard may be empty when N > R). Beside each sharded
// output a manifest OUT.shard.json records the shard, the range and what the output depends on
// (input fingerprint, model, options); merge_shards() checks the manifests and concatenates the
// outputs in record order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbert {

class TableWriter;

struct ShardSpec {
  bool enabled = false;  // false: the whole input
  size_t index = 0;      // 0-based
  size_t count = 1;
};

// Reads an environment variable (nullptr when unset); std::getenv by default, injectable for tests.
using EnvLookup = std::function<const char*(const char*)>;

// "I/N" (0 <= I < N), or "auto": SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN when set) with
// SLURM_ARRAY_TASK_COUNT, else JOB_COMPLETION_INDEX (Kubernetes indexed Jobs) with the count from
// `count_option` (when > 0) or SBERT_SHARD_COUNT. An empty text is "no shards". Throws
// sbert::Error naming the problem ("--shard: ...").
ShardSpec parse_shard(const std::string& text, size_t count_option = 0, const EnvLookup& env = nullptr);

struct RecordRange {
  size_t begin = 0, end = 0;  // [begin, end)
  size_t size() const { return end - begin; }
};
// The records of shard `index` of `count` among `records`.
RecordRange shard_range(size_t records, size_t index, size_t count);

// A fingerprint of input files: for each file its base name, size and a 64-bit FNV-1a hash of
// its bytes (not cryptographic: it tells apart inputs, it does not authenticate them).
nlohmann::json input_fingerprint(const std::vector<std::string>& files);

// What a shard's output held when its manifest was written: its size, a 64-bit FNV-1a hash of its
// bytes and its data rows (header row excluded: jsonl lines, csv records, tsv lines, npy shape;
// none for f32, which has no shape). The merge checks each part against it, so a part truncated,
// extended or swapped after the shard ran is refused (FNV-1a tells changes apart, it does not
// authenticate: whoever can rewrite the part can rewrite its manifest too).
struct PartDigest {
  uint64_t bytes = 0;
  std::string fnv1a64;          // 16 hex digits
  std::optional<size_t> rows;
  nlohmann::json to_json() const;
  static PartDigest from_json(const nlohmann::json& j, const std::string& where);
};

// Hashes and counts the bytes of one output file as they stream by.
class PartDigester {
 public:
  // `format`: jsonl | csv | tsv | npy | f32 | vecs (projector vecs.tsv) | meta (projector
  // meta.tsv: a header row when its first line has several columns); `header`: csv/tsv begin
  // with a header row.
  PartDigester(std::string format, bool header);
  void add(std::string_view bytes);
  PartDigest finish(const std::string& path) const;  // throws naming `path` on a malformed npy

 private:
  std::string format_;
  bool header_;
  uint64_t hash_ = 1469598103934665603ull, bytes_ = 0;
  size_t lines_ = 0;
  bool in_quotes_ = false, line_open_ = false, first_line_done_ = false, first_line_tab_ = false;
  std::string prefix_;  // the first bytes (the npy header)
};
PartDigest digest_bytes(std::string_view bytes, const std::string& format, bool header, const std::string& path);

struct ShardManifest {
  size_t shard = 0, count = 1;
  size_t records = 0;                 // R: records of the whole input
  RecordRange range;                  // this shard's records
  size_t first_index = 0;             // the global index of the shard's first output row
  size_t rows = 0;                    // rows written by this shard
  std::string format;                 // jsonl | csv | tsv | npy | f32 | ...
  nlohmann::json key = nlohmann::json::object();  // what the output depends on: input, model, command, options
  nlohmann::json evaluation;          // this shard's own evaluation counts (e.g. a confusion matrix), or null
  bool header = true;                 // csv/tsv: the output begins with a header row
  // The output as written: key "" for an output file, file names (vecs.tsv, meta.tsv) for an
  // output folder. Empty for a search index (its own manifest checks its files).
  std::map<std::string, PartDigest> output;

  nlohmann::json to_json() const;
  nlohmann::json output_json() const;  // null when `output` is empty
  // Throws sbert::Error naming `where` on a malformed manifest.
  static ShardManifest from_json(const nlohmann::json& j, const std::string& where);
};

std::string shard_manifest_path(const std::string& output);  // OUTPUT + ".shard.json"
// Atomic. Records m.output from the output as it is now (a file, or a projector folder's
// vecs.tsv and meta.tsv; nothing for "index") unless the caller filled it.
void write_shard_manifest(const std::string& output, const ShardManifest& m);
ShardManifest read_shard_manifest(const std::string& output);

// The shard outputs `parts` (any order; each with its manifest) checked as one complete set, in
// shard order: every shard once, the same count, format, record count and key, ranges that
// follow each other; each part (and its manifest) a regular file or folder — a symbolic link only
// when it resolves inside the folder that names it — of the size its manifest recorded. Throws
// sbert::Error naming the shard otherwise.
std::vector<std::pair<ShardManifest, std::string>> check_shard_set(const std::vector<std::string>& parts);

// The layout of ranked output (`sbert rerank`), written by rerank and again by the merge that
// re-ranks its shards: [query], rank, index, [id], score, text.
struct RankedRow {
  std::string query;  // used when the output has a query column
  size_t rank = 0, index = 0;
  std::string id;     // used when it has an id column
  float score = 0;
  std::string text;
};
std::vector<std::string> ranked_columns(bool with_query, bool with_id);
void write_ranked_row(TableWriter& out, const RankedRow& row, bool with_query, bool with_id);

struct MergeResult {
  size_t shards = 0, rows = 0;
  std::string format;
  nlohmann::json key;  // what the shards were made with (their common manifest key)
  std::vector<nlohmann::json> evaluations;  // each shard's evaluation counts, shard order (null when none)
};

// Concatenates the outputs `parts` (any order; each with its manifest) into `output` in record
// order: jsonl and f32 byte for byte, csv/tsv with one header row, npy with the rows
// concatenated and the header rewritten. Refuses (sbert::Error naming the shard) a missing,
// duplicated or overlapping shard, shards made with other input/model/options, an unsupported
// format, a part whose rows or checksum differ from what its manifest recorded (truncated,
// extended or replaced since). Shards written without a header row (`--no-header` input)
// concatenate as they are. Nothing is written on error.
MergeResult merge_shards(const std::vector<std::string>& parts, const std::string& output);

}  // namespace sbert
