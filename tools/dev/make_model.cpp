// make_model: writes a random-weight model in the sentence-transformers layout (for tests and
// benchmarks), e.g. the all-MiniLM-L6-v2 shape:
//   make_model --out /tmp/minilm --vocab-from ../shared/tokenizers/all-MiniLM-L6-v2 \
//     --hidden 384 --layers 6 --heads 12 --intermediate 1536 --max-seq-length 256
// Qwen3-Embedding-0.6B's shape (last-token pooling) and EmbeddingGemma-300m's (mean):
//   make_model --out /tmp/qwen3-0.6b --model-type qwen3 --vocab-from ../shared/tokenizers/qwen3 \
//     --hidden 1024 --layers 28 --heads 16 --kv-heads 8 --head-dim 128 --intermediate 3072 \
//     --max-position 32768 --max-seq-length 512 --pooling lasttoken
//   make_model --out /tmp/gemma-300m --model-type gemma3_text --vocab-from ../shared/tokenizers/gemma3 \
//     --hidden 768 --layers 24 --heads 3 --kv-heads 1 --head-dim 256 --intermediate 1152 \
//     --max-position 2048 --max-seq-length 512
#include <CLI/CLI.hpp>
#include <iostream>

#include "sbert/error.h"
#include "sbert/random_model.h"

int main(int argc, char** argv) {
  CLI::App app{"Write a random-weight BERT model (config.json, model.safetensors, tokenizer, "
               "sentence-transformers modules)"};
  sbert::RandomModelSpec s;
  std::string out, vocab_from;
  app.add_option("--out", out, "output folder")->required();
  app.add_option("--vocab-from", vocab_from,
                 "copy the tokenizer files (vocab.txt, tokenizer.json, ...) from this folder; "
                 "default: a small generated WordPiece vocab");
  app.add_option("--vocab-size", s.vocab_size, "vocabulary size (default: the tokenizer's)");
  app.add_option("--model-type", s.model_type, "bert | distilbert | electra | qwen3 | gemma3_text")
      ->capture_default_str();
  app.add_option("--kv-heads", s.kv_heads, "qwen3 / gemma3_text: key/value heads (default: heads)");
  app.add_option("--head-dim", s.head_dim, "qwen3 / gemma3_text: head size (default: hidden / heads)");
  app.add_option("--embedding-size", s.embedding_size, "electra: embedding width (default: hidden)");
  app.add_option("--hidden", s.hidden, "hidden size")->capture_default_str();
  app.add_option("--layers", s.layers, "transformer layers")->capture_default_str();
  app.add_option("--heads", s.heads, "attention heads")->capture_default_str();
  app.add_option("--intermediate", s.intermediate, "feed-forward size")->capture_default_str();
  app.add_option("--max-position", s.max_position, "position embeddings")->capture_default_str();
  app.add_option("--max-seq-length", s.max_seq_length, "sentence_bert_config max_seq_length")
      ->capture_default_str();
  app.add_option("--pooling", s.pooling, "cls | mean | max | mean_sqrt_len | weightedmean | lasttoken")
      ->capture_default_str();
  bool no_normalize = false;
  app.add_flag("--normalize,!--no-normalize", s.normalize, "add a Normalize module (default on)");
  app.add_option("--init-std", s.init_std, "weight standard deviation")->capture_default_str();
  app.add_option("--seed", s.seed, "random seed")->capture_default_str();
  app.add_option("--dtype", s.dtype, "F32 | F16 | BF16")->capture_default_str();
  (void)no_normalize;
  CLI11_PARSE(app, argc, argv);
  s.tokenizer_dir = vocab_from;
  try {
    sbert::write_random_model(out, s);
  } catch (const std::exception& e) {
    std::cerr << "make_model: error: " << e.what() << "\n";
    return 2;
  }
  std::cout << out << "\n";
  return 0;
}
