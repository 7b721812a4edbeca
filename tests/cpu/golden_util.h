// Helpers of the CPU runtime's golden tests: the goldens' token ids as encodings, the model
// loader (the comparison with a golden: golden_compare.h).
#pragma once
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include <gtest/gtest.h>

#include "cpu/embedding_model.h"
#include "golden_compare.h"

namespace sbert::cputest {

inline std::vector<Encoding> encodings(const nlohmann::json& ids) {
  std::vector<Encoding> out;
  for (const auto& x : ids) {
    Encoding e;
    for (const auto& id : x) e.ids.push_back(id.get<int64_t>());
    e.type_ids.assign(e.ids.size(), 0);
    out.push_back(std::move(e));
  }
  return out;
}

inline std::vector<const Encoding*> ptrs(const std::vector<Encoding>& v) {
  std::vector<const Encoding*> p;
  for (const auto& e : v) p.push_back(&e);
  return p;
}

inline std::unique_ptr<cpu::EmbeddingModel> load(const std::filesystem::path& dir, EncoderOptions o = {}) {
  return cpu::EmbeddingModel::load(dir, o);
}

}  // namespace sbert::cputest
