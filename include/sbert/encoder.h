// Sentence embeddings: a transformer encoder plus the sentence-transformers modules
// (Pooling, Dense, Normalize), behind a torch-free interface.
#pragma once
#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sbert/matrix.h"
#include "sbert/runtime.h"
#include "sbert/tokenizer.h"

namespace sbert {

// Device, dtype, threads, batch_size, max_batch_tokens (0: a default token budget per batch),
// max_length (0: max_seq_length, else 512 capped by max_position_embeddings) and tokenizer come
// from RuntimeOptions.
struct EncoderOptions : RuntimeOptions {
  std::string pooling;              // empty: the model's own Pooling config (plain folder: mean)
  std::optional<bool> normalize;    // overrides the Normalize module when set
  size_t truncate_dim = 0;          // Matryoshka: keep the first N dimensions (0: all)
  bool chunk = false;               // embed long texts as the mean of 512-token windows
  size_t chunk_overlap = 0;
};

// One window of a long text (EncoderOptions::chunk), see SentenceEncoder::encode_chunks.
struct ChunkEmbedding {
  size_t text = 0;         // index of the input text
  size_t chunk = 0;        // window index within the text
  size_t token_begin = 0;  // [token_begin, token_end): the window's tokens, counted in the
  size_t token_end = 0;    // text's tokens without special tokens
  std::vector<float> vector;
};

// Per-token vectors of one text (`sbert embed --output-value token`, `sbert words`).
struct TokenEmbeddings {
  Encoding encoding;  // the model input: ids, tokens, offsets, with special tokens, truncated
  Matrix vectors;     // one row per token of `encoding`
};

// What was loaded, for `sbert models info` and logs.
struct ModelInfo {
  std::string model_type;     // bert, xlm-roberta, distilbert, ...
  std::string architecture;   // config.json architectures[0] (may be empty)
  size_t hidden_size = 0, layers = 0, heads = 0, vocab_size = 0;
  size_t max_length = 0;      // effective input length limit (tokens, with specials)
  std::string pooling;        // e.g. "mean", "cls", "cls+mean"
  size_t dense_layers = 0;
  bool normalize = false;
  size_t dimension = 0;
  std::string weights;        // weight file(s)
  std::string dtype, device;
  bool sentence_transformers = false;  // modules.json present
  std::map<std::string, std::string> prompts;  // config_sentence_transformers.json prompts
  std::string fingerprint;    // model_fingerprint() of the folder when the loader knows it (remote models)
};

struct EncodeStats {
  size_t texts = 0;
  size_t tokens = 0;      // tokens fed to the model, special tokens included
  size_t truncated = 0;   // inputs longer than max_length that were truncated
  // Wall seconds per stage (summed over calls): tokenization, the transformer forward, pooling
  // and the modules after it (Dense, Normalize). On CUDA the forward is asynchronous, so only
  // the sum of the last two is meaningful there.
  double tokenize_seconds = 0, forward_seconds = 0, pooling_seconds = 0;
};

class SentenceEncoder {
 public:
  virtual ~SentenceEncoder() = default;

  // Loads a model folder. Throws sbert::Error naming the file and the problem.
  static std::unique_ptr<SentenceEncoder> load(const std::filesystem::path& model_dir,
                                               const EncoderOptions& options = {});

  // One row per text, in input order.
  virtual Matrix encode(const std::vector<std::string>& texts, EncodeStats* stats = nullptr) = 0;

  // The model input encode() makes of one text: its tokens cut to max_length() minus the special
  // tokens (counted in stats->truncated), then the special tokens. encode_tokenized() of these
  // gives exactly encode()'s rows (a server tokenizes per request, then batches across requests).
  virtual Encoding model_input(const std::string& text, EncodeStats* stats = nullptr) const = 0;

  // Pre-tokenized inputs (with special tokens, at most max_length() tokens each).
  virtual Matrix encode_tokenized(const std::vector<Encoding>& encodings,
                                  EncodeStats* stats = nullptr) = 0;

  // Like encode(), with `prompt` prepended to every text. When the model's Pooling module has
  // include_prompt = false, the prompt's tokens are left out of the pooling (as
  // sentence-transformers does).
  virtual Matrix encode_with_prompt(const std::vector<std::string>& texts,
                                    const std::string& prompt, EncodeStats* stats = nullptr) = 0;

  // Every window of every text (as with EncoderOptions::chunk, whatever its setting), in text
  // order then window order; a text that fits gives one window.
  virtual std::vector<ChunkEmbedding> encode_chunks(const std::vector<std::string>& texts,
                                                    EncodeStats* stats = nullptr) = 0;

  // Per-token hidden states of `layer` (-1: last layer, -2: the one before...; 0: embeddings
  // output, 1..N: layer outputs).
  virtual std::vector<TokenEmbeddings> encode_tokens(const std::vector<std::string>& texts,
                                                     int layer = -1,
                                                     EncodeStats* stats = nullptr) = 0;

  virtual size_t max_length() const = 0;
  virtual const ModelInfo& info() const = 0;

  virtual size_t dimension() const = 0;
  virtual bool normalizes() const = 0;
  // "cosine", "dot", "euclidean" or "manhattan" (config_sentence_transformers.json, else cosine).
  virtual std::string similarity_function() const = 0;
  // A named prompt from config_sentence_transformers.json ("query", "document", ...).
  virtual std::optional<std::string> prompt(const std::string& name) const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
};

// The text to prepend to inputs: the model's prompt called `name` when given (an error if the
// model defines none by that name), else `text`, else the model's prompt `fallback_name` when
// it defines one (search: "query", "document"), else "".
std::string resolve_prompt(const SentenceEncoder& encoder, const std::string& text, const std::string& name,
                           const std::string& fallback_name = "");

// One row per text, in input order, each distinct text through the model once (pairs files
// repeat sentences); `prompt` is prepended as by encode_with_prompt.
Matrix encode_distinct(SentenceEncoder& encoder, const std::vector<std::string>& texts,
                       const std::string& prompt = "", EncodeStats* stats = nullptr);

}  // namespace sbert
