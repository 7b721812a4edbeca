// Torch-free helpers over the SentenceEncoder interface (prompt choice, de-duplication).
#include <unordered_map>

#include "sbert/encoder.h"
#include "sbert/error.h"

namespace sbert {

std::string resolve_prompt(const SentenceEncoder& encoder, const std::string& text, const std::string& name,
                           const std::string& fallback_name) {
  if (!name.empty()) {
    auto p = encoder.prompt(name);
    if (!p) throw Error("the model defines no prompt named '" + name + "'");
    return *p;
  }
  if (!text.empty()) return text;
  if (!fallback_name.empty()) return encoder.prompt(fallback_name).value_or("");
  return "";
}

Matrix encode_distinct(SentenceEncoder& encoder, const std::vector<std::string>& texts, const std::string& prompt,
                       EncodeStats* stats) {
  std::unordered_map<std::string, size_t> slot;
  std::vector<std::string> unique;
  std::vector<size_t> where(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    auto [it, fresh] = slot.emplace(texts[i], unique.size());
    if (fresh) unique.push_back(texts[i]);
    where[i] = it->second;
  }
  Matrix u = prompt.empty() ? encoder.encode(unique, stats) : encoder.encode_with_prompt(unique, prompt, stats);
  Matrix out(texts.size(), u.cols);
  for (size_t i = 0; i < texts.size(); ++i) std::copy(u.row(where[i]), u.row(where[i]) + u.cols, out.row(i));
  return out;
}

}  // namespace sbert
