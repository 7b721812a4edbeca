#include "tokenizer/factory.h"

#include <algorithm>
#include <vector>

#include "sbert/error.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace sbert::tok {

namespace fs = std::filesystem;

std::optional<fs::path> find_tokenizer_file(const fs::path& dir) {
  if (fs::is_regular_file(dir / "tokenizer.json")) return dir / "tokenizer.json";
  std::vector<fs::path> models;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file() && entry.path().extension() == ".model") models.push_back(entry.path());
  std::sort(models.begin(), models.end());
  if (!models.empty()) return models.front();
  if (fs::is_regular_file(dir / "vocab.txt")) return dir / "vocab.txt";
  return std::nullopt;
}

std::unique_ptr<Tokenizer> load_tokenizer_file(const fs::path& file, const fs::path& dir,
                                               const TokenizerOptions& options) {
  const std::string ext = file.extension().string();
  if (ext == ".json") {
    auto tok = load_tokenizer_json(file.string());
    if (options.lowercase.value_or(false)) tok->force_lowercase();
    return tok;
  }
  if (ext == ".model")
    return load_sentencepiece_tokenizer(file, dir, options.lowercase.value_or(false));
  if (ext == ".txt") {
    BertVocabOptions o = read_bert_config(dir.string());
    auto tok = make_bert_wordpiece_tokenizer(file.string(), o);
    if (options.lowercase.value_or(false)) tok->force_lowercase();
    return tok;
  }
  throw Error(file.string() + ": unsupported tokenizer file (expected tokenizer.json, *.model or vocab.txt)");
}

}  // namespace sbert::tok
