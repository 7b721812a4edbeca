// Merging the hits of one query over several indexes, and the check that those indexes belong
// together.
#include <algorithm>
#include <filesystem>
#include <unordered_set>

#include "sbert/error.h"
#include "sbert/search_index.h"
#include "sbert/shard.h"

namespace fs = std::filesystem;

namespace sbert {

size_t merge_hits(std::vector<SearchHit>& hits, std::vector<SearchHit> more, size_t k) {
  hits.insert(hits.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  std::stable_sort(hits.begin(), hits.end(), [](const SearchHit& x, const SearchHit& y) { return x.score > y.score; });
  std::unordered_set<std::string> seen;
  size_t dropped = 0;
  std::vector<SearchHit> kept;
  kept.reserve(std::min(hits.size(), k));
  for (auto& h : hits) {
    if (!seen.insert(h.id).second) {
      ++dropped;
      continue;
    }
    if (kept.size() < k) kept.push_back(std::move(h));
  }
  for (size_t r = 0; r < kept.size(); ++r) kept[r].rank = r + 1;
  hits = std::move(kept);
  return dropped;
}

void check_query_indexes(const std::vector<std::string>& folders) {
  std::vector<fs::path> seen;
  for (const auto& f : folders) {
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(fs::absolute(f), ec);
    if (ec) canon = fs::absolute(f).lexically_normal();
    for (size_t i = 0; i < seen.size(); ++i)
      if (seen[i] == canon)
        throw Error(f + ": the same index as " + folders[i] + " (given twice: every hit would appear twice)");
    seen.push_back(canon);
  }
  if (folders.size() < 2) return;
  size_t with_manifest = 0;
  for (const auto& f : folders) with_manifest += fs::exists(shard_manifest_path(f)) ? 1 : 0;
  if (with_manifest == 0) return;  // independent indexes: hits are merged one per id
  if (with_manifest != folders.size()) {
    for (const auto& f : folders)
      if (!fs::exists(shard_manifest_path(f)))
        throw Error(f + ": not a shard (no " + shard_manifest_path(f) + "), but " + folders.front() +
                    " and others are: query the shards of one run, or indexes that are not shards");
  }
  const ShardManifest first = read_shard_manifest(folders.front());
  std::vector<bool> taken(first.count, false);
  for (const auto& f : folders) {
    const ShardManifest m = read_shard_manifest(f);
    if (m.count != first.count || m.key != first.key)
      throw Error(f + ": a shard of another run than " + folders.front() + " (" +
                  (m.count != first.count ? "shard count " + std::to_string(m.count) + " vs " + std::to_string(first.count)
                                          : std::string("another input, model or command")) +
                  ")");
    if (m.shard >= taken.size() || taken[m.shard])
      throw Error(f + ": shard " + std::to_string(m.shard) + "/" + std::to_string(m.count) +
                  " is given twice");
    taken[m.shard] = true;
  }
}

}  // namespace sbert
