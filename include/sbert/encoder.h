// Sentence embeddings: a transformer encoder plus the sentence-transformers modules
// (Pooling, Dense, Normalize), behind a torch-free interface.
#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sbert/matrix.h"
#include "sbert/tokenizer.h"

namespace sbert {

struct EncoderOptions {
  std::string device = "cpu";       // cpu | cuda | cuda:N
  std::string dtype = "float32";    // float32 | float16 | bfloat16
  std::string pooling;              // empty: the model's own Pooling config (plain folder: mean)
  std::optional<bool> normalize;    // overrides the Normalize module when set
  size_t max_length = 0;            // 0: max_seq_length, else 512 capped by max_position_embeddings
  size_t batch_size = 32;
  size_t max_batch_tokens = 0;      // 0: a default token budget per batch
  int threads = 0;                  // 0: all cores
  size_t truncate_dim = 0;          // Matryoshka: keep the first N dimensions (0: all)
  bool chunk = false;               // embed long texts as the mean of 512-token windows
  size_t chunk_overlap = 0;
  TokenizerOptions tokenizer;
};

struct EncodeStats {
  size_t texts = 0;
  size_t tokens = 0;      // tokens fed to the model, special tokens included
  size_t truncated = 0;   // inputs longer than max_length that were truncated
};

class SentenceEncoder {
 public:
  virtual ~SentenceEncoder() = default;

  // Loads a model folder. Throws sbert::Error naming the file and the problem.
  static std::unique_ptr<SentenceEncoder> load(const std::filesystem::path& model_dir,
                                               const EncoderOptions& options = {});

  // One row per text, in input order.
  virtual Matrix encode(const std::vector<std::string>& texts, EncodeStats* stats = nullptr) = 0;

  virtual size_t dimension() const = 0;
  virtual bool normalizes() const = 0;
  // "cosine", "dot", "euclidean" or "manhattan" (config_sentence_transformers.json, else cosine).
  virtual std::string similarity_function() const = 0;
  // A named prompt from config_sentence_transformers.json ("query", "document", ...).
  virtual std::optional<std::string> prompt(const std::string& name) const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
};

}  // namespace sbert
