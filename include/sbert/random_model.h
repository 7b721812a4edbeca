// Random-weight models (BERT, DistilBERT, ELECTRA; the rotary decoders Qwen3 and Gemma 3 as
// Qwen3-Embedding / EmbeddingGemma configure them) in the sentence-transformers folder layout, for tests and benchmarks (tools/dev/make_model.cpp is the command-line front end).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace sbert {

struct RandomModelSpec {
  std::filesystem::path tokenizer_dir;  // copy the tokenizer files from here; empty: a small
                                        // generated lower-case WordPiece vocab.txt
  size_t vocab_size = 0;                // 0: the tokenizer's vocabulary size
  std::string model_type = "bert";      // bert | distilbert | electra | qwen3 | gemma3_text (tensor
                                        // names and config keys as Hugging Face writes them)
  size_t embedding_size = 0;            // electra: 0 = hidden; otherwise embeddings of this width
                                        // and an embeddings_project to hidden
  size_t hidden = 32;
  size_t layers = 2;
  size_t heads = 4;
  size_t intermediate = 64;
  size_t kv_heads = 0;                  // qwen3 / gemma3_text: key/value heads (0: heads)
  size_t head_dim = 0;                  // qwen3 / gemma3_text: 0 = hidden / heads
  size_t max_position = 512;
  size_t max_seq_length = 128;          // sentence_bert_config.json
  std::string pooling = "mean";         // 1_Pooling mode: cls | mean | max | ...
  bool normalize = true;                // 2_Normalize module
  double init_std = 0.02;               // weights ~ N(0, init_std); LayerNorm = identity
  uint64_t seed = 42;
  std::string dtype = "F32";            // F32 | F16 | BF16 (model.safetensors)
};

// Writes config.json, model.safetensors, the tokenizer files, modules.json, 1_Pooling/config.json,
// sentence_bert_config.json (and 2_Normalize when normalize). Throws sbert::Error.
void write_random_model(const std::filesystem::path& out, const RandomModelSpec& spec);

}  // namespace sbert
