// Helpers of the CPU runtime's golden tests: the goldens' token ids as encodings, the largest
// difference of a matrix from a golden, the model loader.
#pragma once
#include <cmath>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include <gtest/gtest.h>

#include "cpu/embedding_model.h"

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

// Largest |m - want|; `want` is [rows][cols] or flat, and must have m's size.
inline double worst_diff(const Matrix& m, const nlohmann::json& want) {
  const bool nested = want[0].is_array();
  EXPECT_EQ(m.rows * m.cols, nested ? want.size() * want[0].size() : want.size());
  double worst = 0;
  for (size_t i = 0; i < m.rows; ++i)
    for (size_t j = 0; j < m.cols; ++j) {
      const double w = nested ? want[i][j].get<double>() : want[i * m.cols + j].get<double>();
      worst = std::max(worst, std::fabs(double(m.at(i, j)) - w));
    }
  return worst;
}

inline std::unique_ptr<cpu::EmbeddingModel> load(const std::filesystem::path& dir, EncoderOptions o = {}) {
  return cpu::EmbeddingModel::load(dir, o);
}

}  // namespace sbert::cputest
