// Helpers for the nn tests: golden comparison and a tokenizer that replays known ids.
#pragma once
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cpu/embedding_model.h"
#include "cpu/runtime.h"
#include "nn/embedding_model.h"
#include "sbert/matrix.h"
#include "sbert/random_model.h"
#include "sbert/tokenizer.h"
#include "test_support.h"

namespace sbert::nntest {

// The embedding model the tests run: sbert's CPU runtime (cpu/embedding_model.h) where it serves
// the options (CPU float32, int8), else libtorch's; SBERT_RUNTIME=libtorch (the tests' second
// ctest run, "libtorch." prefix) runs libtorch's for everything.
inline std::unique_ptr<cpu::TokenModel> load_model(const std::filesystem::path& dir, const EncoderOptions& o = {}) {
  if (cpu::serves(o)) {
    cpu::setup_runtime(o);
    return cpu::EmbeddingModel::load(dir, o);
  }
  return nn::EmbeddingModel::load(dir, o);
}

// The small random-weight BERT the nn tests generate: 2 layers, 4 heads, `hidden` wide with a
// 2 * hidden FFN; weights ~ N(0, init_std), 0.2 being large enough that outputs differ clearly
// between inputs.
inline RandomModelSpec small_model_spec(size_t hidden = 48, double init_std = 0.2) {
  RandomModelSpec s;
  s.hidden = hidden;
  s.layers = 2;
  s.heads = 4;
  s.intermediate = 2 * hidden;
  s.init_std = init_std;
  return s;
}

// A fresh temp_dir(name) holding a random-weight BERT of 1 layer, 2 heads, hidden 16 (FFN 32),
// for tests that break a model's files one way or another.
inline std::filesystem::path fresh_model(const std::string& name) {
  std::filesystem::path dir = testing::temp_dir(name);
  RandomModelSpec s;
  s.hidden = 16;
  s.layers = 1;
  s.heads = 2;
  s.intermediate = 32;
  write_random_model(dir, s);
  return dir;
}

inline double max_abs_diff(const float* got, const nlohmann::json& want, size_t n) {
  double worst = 0;
  for (size_t j = 0; j < n; ++j)
    worst = std::max(worst, std::fabs(static_cast<double>(got[j]) - want[j].get<double>()));
  return worst;
}

inline double max_abs_diff(const float* got, const std::vector<double>& want, size_t n) {
  double worst = 0;
  for (size_t j = 0; j < n; ++j) worst = std::max(worst, std::fabs(static_cast<double>(got[j]) - want[j]));
  return worst;
}

inline Encoding encoding_of(const nlohmann::json& ids) {
  Encoding e;
  for (const auto& id : ids) e.ids.push_back(id.get<int64_t>());
  e.type_ids.assign(e.ids.size(), 0);
  return e;
}

// Replays the golden token ids: encode_plain(text) returns the ids recorded for `text` (without
// special tokens), add_special_tokens wraps them in cls/sep. Lets the model code be tested
// without the real tokenizer.
class ReplayTokenizer final : public Tokenizer {
 public:
  ReplayTokenizer(int64_t cls, int64_t sep, int64_t pad) : cls_(cls), sep_(sep), pad_(pad) {}
  // `ids` include the special tokens at both ends.
  void add(const std::string& text, const std::vector<int64_t>& ids) {
    plain_[text] = std::vector<int64_t>(ids.begin() + 1, ids.end() - 1);
  }
  Encoding encode_plain(std::string_view text) const override {
    auto it = plain_.find(std::string(text));
    if (it == plain_.end()) throw std::runtime_error("ReplayTokenizer: unknown text");
    Encoding e;
    e.ids = it->second;
    e.type_ids.assign(e.ids.size(), 0);
    for (size_t i = 0; i < e.ids.size(); ++i) e.tokens.push_back("t" + std::to_string(e.ids[i]));
    e.offsets.assign(e.ids.size(), {0, 0});
    e.special_mask.assign(e.ids.size(), 0);
    e.sequence_ids.assign(e.ids.size(), 0);
    return e;
  }
  Encoding add_special_tokens(const Encoding& first, const Encoding*) const override {
    Encoding e;
    e.ids.push_back(cls_);
    e.ids.insert(e.ids.end(), first.ids.begin(), first.ids.end());
    e.ids.push_back(sep_);
    e.type_ids.assign(e.ids.size(), 0);
    e.tokens.assign(e.ids.size(), "");
    e.offsets.assign(e.ids.size(), {0, 0});
    e.special_mask.assign(e.ids.size(), 0);
    e.special_mask.front() = e.special_mask.back() = 1;
    e.sequence_ids.assign(e.ids.size(), 0);
    return e;
  }
  size_t num_special_tokens(bool pair) const override { return pair ? 3 : 2; }
  int64_t pad_id() const override { return pad_; }
  size_t vocab_size() const override { return 0; }
  std::optional<int64_t> token_to_id(std::string_view) const override { return std::nullopt; }
  std::string id_to_token(int64_t id) const override { return std::to_string(id); }
  std::string describe() const override { return "replay"; }

 private:
  int64_t cls_, sep_, pad_;
  std::map<std::string, std::vector<int64_t>> plain_;
};

}  // namespace sbert::nntest

namespace sbert::nntest {
// Unicode code points in a UTF-8 string (Python's len()).
inline size_t utf8_chars(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}
}  // namespace sbert::nntest
