// The HTTP request path of sbert serve without sockets: raw bytes through RequestReader (Beast's
// parser and sbert's limits) and the router with every route, the models stubbed (a wordpiece
// tokenizer over a small vocabulary, rows and logits computed from the token ids). Bit 0 of the
// first byte picks a server with an API key; the rest is what a client would send. Any answer is
// fine; an escaping exception, a crash or a sanitizer report is a finding.
#include <cstdint>
#include <fstream>
#include <string>

#include "fuzz_util.h"
#include "sbert/classifier.h"
#include "sbert/encoder.h"
#include "sbert/error.h"
#include "sbert/server.h"
#include "sbert/tokenizer.h"

// The torch-free build has no model runtime (src/nn_loader): CrossEncoder's translation unit
// names SequenceClassifier::load, which nothing here calls.
std::unique_ptr<sbert::SequenceClassifier> sbert::SequenceClassifier::load(const std::filesystem::path&,
                                                                           const ClassifierOptions&) {
  throw Error("no model runtime in the fuzz target");
}

namespace {

std::shared_ptr<sbert::Tokenizer> stub_tokenizer() {
  static std::shared_ptr<sbert::Tokenizer> tok = [] {
    const auto vocab = sbert::fuzz::work_dir() / "vocab.txt";
    std::ofstream f(vocab);
    for (const char* t : {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "hello", "world", "##s", ",", "."})
      f << t << "\n";
    f.close();
    sbert::TokenizerOptions o;
    o.tokenizer_file = vocab.string();
    return std::shared_ptr<sbert::Tokenizer>(sbert::load_tokenizer(sbert::fuzz::work_dir(), o));
  }();
  return tok;
}

constexpr size_t kMaxLength = 16, kDim = 4;

sbert::Matrix rows_of(const std::vector<sbert::Encoding>& inputs, size_t cols) {
  sbert::Matrix m(inputs.size(), cols);
  for (size_t i = 0; i < inputs.size(); ++i)
    for (size_t k = 0; k < cols; ++k)
      m.at(i, k) = 1.0f + static_cast<float>(inputs[i].ids.size() + k) / 8.0f;
  return m;
}

class StubEncoder : public sbert::SentenceEncoder {
 public:
  StubEncoder() {
    info_.model_type = "bert";
    info_.pooling = "mean";
    info_.dimension = kDim;
    info_.max_length = kMaxLength;
    info_.dtype = "float32";
  }
  sbert::Matrix encode(const std::vector<std::string>& texts, sbert::EncodeStats* stats) override {
    std::vector<sbert::Encoding> in;
    for (const auto& t : texts) in.push_back(model_input(t, stats));
    return rows_of(in, kDim);
  }
  sbert::Encoding model_input(const std::string& text, sbert::EncodeStats* stats) const override {
    sbert::Encoding e = tok_->encode(text, true, kMaxLength);
    if (stats && tok_->encode_plain(text).size() + 2 > kMaxLength) ++stats->truncated;
    return e;
  }
  sbert::Matrix encode_tokenized(const std::vector<sbert::Encoding>& in, sbert::EncodeStats*) override {
    return rows_of(in, kDim);
  }
  sbert::Matrix encode_with_prompt(const std::vector<std::string>& texts, const std::string& prompt,
                                   sbert::EncodeStats* stats) override {
    std::vector<std::string> p;
    for (const auto& t : texts) p.push_back(prompt + t);
    return encode(p, stats);
  }
  std::vector<sbert::ChunkEmbedding> encode_chunks(const std::vector<std::string>&, sbert::EncodeStats*) override {
    return {};
  }
  std::vector<sbert::TokenEmbeddings> encode_tokens(const std::vector<std::string>&, int,
                                                    sbert::EncodeStats*) override {
    return {};
  }
  size_t max_length() const override { return kMaxLength; }
  const sbert::ModelInfo& info() const override { return info_; }
  size_t dimension() const override { return kDim; }
  bool normalizes() const override { return false; }
  std::string similarity_function() const override { return "cosine"; }
  std::optional<std::string> prompt(const std::string& name) const override {
    if (name == "query") return std::string("query: ");
    return std::nullopt;
  }
  const sbert::Tokenizer& tokenizer() const override { return *tok_; }

 private:
  std::shared_ptr<sbert::Tokenizer> tok_ = stub_tokenizer();
  sbert::ModelInfo info_;
};

class StubClassifier : public sbert::SequenceClassifier {
 public:
  explicit StubClassifier(std::vector<std::string> labels) : labels_(std::move(labels)) {
    info_.model_type = "bert";
    info_.num_labels = labels_.size();
    info_.max_length = kMaxLength;
  }
  sbert::Matrix logits(const std::vector<std::pair<std::string, std::string>>& pairs, sbert::Truncation t,
                       sbert::ClassifyStats*) override {
    std::vector<sbert::Encoding> in;
    for (const auto& [a, b] : pairs) in.push_back(tok_->encode_pair(a, b, kMaxLength, t));
    return rows_of(in, labels_.size());
  }
  sbert::Matrix logits(const std::vector<std::string>& texts, sbert::ClassifyStats*) override {
    std::vector<sbert::Encoding> in;
    for (const auto& t : texts) in.push_back(tok_->encode(t, true, kMaxLength));
    return rows_of(in, labels_.size());
  }
  sbert::Matrix logits(const std::vector<sbert::Encoding>& in, sbert::ClassifyStats*) override {
    return rows_of(in, labels_.size());
  }
  const std::vector<std::string>& labels() const override { return labels_; }
  size_t num_labels() const override { return labels_.size(); }
  size_t max_length() const override { return kMaxLength; }
  const sbert::ClassifierInfo& info() const override { return info_; }
  const sbert::Tokenizer& tokenizer() const override { return *tok_; }
  const std::string& cross_encoder_activation() const override { return activation_; }

 private:
  std::shared_ptr<sbert::Tokenizer> tok_ = stub_tokenizer();
  std::vector<std::string> labels_;
  sbert::ClassifierInfo info_;
  std::string activation_ = "sigmoid";
};

sbert::Server& server(bool keyed) {
  auto make = [](bool with_key) {
    sbert::ServedModels m;
    m.embedders.push_back({"stub", std::make_unique<StubEncoder>(), "fingerprint"});
    m.reranker_name = "rerank";
    m.reranker = std::make_unique<sbert::CrossEncoder>(std::make_unique<StubClassifier>(std::vector<std::string>{"score"}));
    m.classifier_name = "nli";
    m.classifier = std::make_unique<StubClassifier>(std::vector<std::string>{"contradiction", "entailment", "neutral"});
    sbert::ServerOptions o;
    o.max_client_batch_size = 8;
    o.max_body_bytes = 16 * 1024;
    o.max_header_bytes = 4096;
    o.max_headers = 20;
    if (with_key) o.api_key = "k";
    return new sbert::Server(std::move(m), o);  // lives for the process: its batcher threads too
  };
  static sbert::Server* plain = make(false);
  static sbert::Server* keyed_server = make(true);
  return keyed ? *keyed_server : *plain;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string out = server(data[0] & 1).answer(bytes);
  // Every answer is a whole HTTP/1.1 response.
  if (!out.empty() && out.rfind("HTTP/1.1 ", 0) != 0) std::abort();
  return 0;
}
