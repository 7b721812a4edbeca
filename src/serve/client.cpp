// Client mode (sbert/remote.h): SentenceEncoder and SequenceClassifier over a running
// `sbert serve`, through its /info, /embed and /logits routes.
#include <httplib.h>

#include <functional>

#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/remote.h"

namespace sbert {
namespace {

using json = nlohmann::json;

size_t header_count(const httplib::Headers& h, const char* name) {
  auto it = h.find(name);
  if (it == h.end()) return 0;
  try {
    return static_cast<size_t>(std::stoull(it->second));
  } catch (const std::exception&) {
    return 0;
  }
}

Matrix rows_of(const json& j, const std::string& what) {
  Matrix m;
  if (!j.is_array()) throw Error(what + ": expected a list of vectors");
  for (size_t i = 0; i < j.size(); ++i) {
    const auto v = j[i].get<std::vector<float>>();
    if (i == 0) m = Matrix(j.size(), v.size());
    if (v.size() != m.cols) throw Error(what + ": vectors of different lengths");
    std::copy(v.begin(), v.end(), m.row(i));
  }
  return m;
}

class Connection {
 public:
  explicit Connection(const RemoteOptions& o) : options_(o), client_(o.url) {
    if (!client_.is_valid()) throw Error("--server '" + o.url + "': not an http://host:port address");
    client_.set_connection_timeout(10, 0);
    client_.set_read_timeout(o.timeout_s, 0);
    client_.set_write_timeout(o.timeout_s, 0);
    client_.set_keep_alive(true);
    // Headers and body go out in two writes: without TCP_NODELAY, Nagle holds the body until the
    // server's delayed ACK (~40 ms per request).
    client_.set_tcp_nodelay(true);
    if (!o.api_key.empty()) client_.set_bearer_token_auth(o.api_key.c_str());
  }

  json get(const std::string& path) { return answer(client_.Get(path.c_str()), path, nullptr); }
  json post(const std::string& path, const json& body, httplib::Headers* headers = nullptr) {
    return answer(client_.Post(path.c_str(), body.dump(-1, ' ', false, json::error_handler_t::replace),
                               "application/json"),
                  path, headers);
  }
  const RemoteOptions& options() const { return options_; }

  // The rows for `n` inputs, POSTed to `path` in requests of at most `batch` inputs (body(begin,
  // end) makes each request); adds the X-Sbert-Tokens / X-Sbert-Truncated counts.
  Matrix post_rows(const std::string& path, size_t n, size_t batch, size_t cols,
                   const std::function<json(size_t, size_t)>& body, size_t* tokens, size_t* truncated) {
    Matrix out(n, cols);
    for (size_t begin = 0; begin < n; begin += batch) {
      const size_t end = std::min(n, begin + batch);
      httplib::Headers h;
      Matrix part = rows_of(post(path, body(begin, end), &h), "--server " + path);
      if (part.rows != end - begin || part.cols != cols) throw Error("--server " + path + ": wrong shape of the answer");
      std::copy(part.data.begin(), part.data.end(), out.row(begin));
      *tokens += header_count(h, "X-Sbert-Tokens");
      *truncated += header_count(h, "X-Sbert-Truncated");
    }
    return out;
  }

 private:
  json answer(const httplib::Result& r, const std::string& path, httplib::Headers* headers) {
    const std::string where = "--server " + options_.url + path;
    if (!r) throw Error(where + ": " + httplib::to_string(r.error()));
    json j = json::parse(r->body, nullptr, false);
    if (r->status != 200) {
      std::string msg = j.is_object() && j.contains("error") && j["error"].is_string()
                            ? j["error"].get<std::string>()
                            : r->body.substr(0, 200);
      throw Error(where + ": HTTP " + std::to_string(r->status) + ": " + msg);
    }
    if (j.is_discarded()) throw Error(where + ": the answer is not JSON");
    if (headers) *headers = r->headers;
    return j;
  }

  RemoteOptions options_;
  httplib::Client client_;
};

[[noreturn]] void not_remote(const char* what) {
  throw Error(std::string(what) + " is not available with --server (load the model locally)");
}

class RemoteEncoder final : public SentenceEncoder {
 public:
  explicit RemoteEncoder(const RemoteOptions& o) : conn_(o) {
    const json info = conn_.get("/info");
    const json* m = nullptr;
    if (info.contains("embedding_models"))
      for (const auto& e : info["embedding_models"])
        if (o.model.empty() || e.value("name", "") == o.model) {
          m = &e;
          break;
        }
    if (!m) throw Error("--server " + o.url + ": no embedding model" + (o.model.empty() ? "" : " named '" + o.model + "'"));
    name_ = m->value("name", "");
    info_.model_type = m->value("model_type", "");
    info_.pooling = m->value("pooling", "");
    info_.dimension = m->value("dimension", size_t{0});
    info_.max_length = m->value("max_input_length", size_t{0});
    info_.normalize = m->value("normalize", false);
    info_.dtype = m->value("dtype", "");
    info_.device = "server " + o.url;
    similarity_ = m->value("similarity_fn", "cosine");
    batch_ = std::max<size_t>(info.value("max_client_batch_size", size_t{32}), 1);
    info_.fingerprint = m->value("fingerprint", "");
    if (m->contains("prompts") && (*m)["prompts"].is_object())
      for (auto it = (*m)["prompts"].begin(); it != (*m)["prompts"].end(); ++it)
        if (it.value().is_string()) info_.prompts[it.key()] = it.value().get<std::string>();
  }

  Matrix encode(const std::vector<std::string>& texts, EncodeStats* stats) override {
    return encode_with_prompt(texts, "", stats);
  }
  Matrix encode_with_prompt(const std::vector<std::string>& texts, const std::string& prompt,
                            EncodeStats* stats) override {
    size_t tokens = 0, truncated = 0;
    Matrix out = conn_.post_rows("/embed", texts.size(), batch_, info_.dimension,
                                 [&](size_t begin, size_t end) {
                                   json body = {{"inputs", std::vector<std::string>(texts.begin() + begin, texts.begin() + end)},
                                                {"normalize", false},
                                                {"truncate", true},
                                                {"model", name_}};
                                   if (!prompt.empty()) body["prompt"] = prompt;
                                   return body;
                                 },
                                 &tokens, &truncated);
    if (stats) {
      stats->texts += texts.size();
      stats->tokens += tokens;
      stats->truncated += truncated;
    }
    return out;
  }
  Encoding model_input(const std::string&, EncodeStats*) const override { not_remote("model_input"); }
  Matrix encode_tokenized(const std::vector<Encoding>&, EncodeStats*) override { not_remote("pre-tokenized input"); }
  std::vector<ChunkEmbedding> encode_chunks(const std::vector<std::string>&, EncodeStats*) override {
    not_remote("--chunk");
  }
  std::vector<TokenEmbeddings> encode_tokens(const std::vector<std::string>&, int, EncodeStats*) override {
    not_remote("per-token output");
  }
  size_t max_length() const override { return info_.max_length; }
  const ModelInfo& info() const override { return info_; }
  size_t dimension() const override { return info_.dimension; }
  bool normalizes() const override { return info_.normalize; }
  std::string similarity_function() const override { return similarity_; }
  std::optional<std::string> prompt(const std::string& name) const override {
    auto it = info_.prompts.find(name);
    if (it == info_.prompts.end()) return std::nullopt;
    return it->second;
  }
  const Tokenizer& tokenizer() const override { not_remote("the tokenizer"); }

 private:
  Connection conn_;
  std::string name_, similarity_;
  ModelInfo info_;
  size_t batch_ = 32;
};

const char* truncation_name(Truncation t) {
  switch (t) {
    case Truncation::LongestFirst: return "longest_first";
    case Truncation::OnlyFirst: return "only_first";
    case Truncation::OnlySecond: return "only_second";
  }
  return "longest_first";
}

class RemoteClassifier final : public SequenceClassifier {
 public:
  RemoteClassifier(const RemoteOptions& o, const std::string& role) : conn_(o), role_(role) {
    const json info = conn_.get("/info");
    const char* key = role == "reranker" ? "reranker" : "classifier";
    if (!info.contains(key) || !info[key].is_object())
      throw Error("--server " + o.url + ": the server has no " +
                  (role == "reranker" ? std::string("cross-encoder (--cross-encoder)") : "NLI model (--nli)"));
    const json& m = info[key];
    labels_ = m.value("labels", std::vector<std::string>{});
    activation_ = m.value("activation", "");
    info_.model_type = m.value("model_type", "");
    info_.num_labels = labels_.size();
    info_.max_length = m.value("max_input_length", size_t{0});
    info_.device = "server " + o.url;
    batch_ = std::max<size_t>(info.value("max_client_batch_size", size_t{32}), 1);
  }
  Matrix logits(const std::vector<std::pair<std::string, std::string>>& pairs, Truncation truncation,
                ClassifyStats* stats) override {
    json items = json::array();
    for (const auto& [a, b] : pairs) items.push_back({a, b});
    return call(items, truncation, stats);
  }
  Matrix logits(const std::vector<std::string>& texts, ClassifyStats* stats) override {
    json items = json::array();
    for (const auto& t : texts) items.push_back(json::array({t}));
    return call(items, Truncation::LongestFirst, stats);
  }
  Matrix logits(const std::vector<Encoding>&, ClassifyStats*) override { not_remote("pre-tokenized input"); }
  const std::vector<std::string>& labels() const override { return labels_; }
  size_t num_labels() const override { return labels_.size(); }
  size_t max_length() const override { return info_.max_length; }
  const ClassifierInfo& info() const override { return info_; }
  const Tokenizer& tokenizer() const override { not_remote("the tokenizer"); }
  const std::string& cross_encoder_activation() const override { return activation_; }

 private:
  // Requests of at most the server's max_client_batch_size inputs.
  Matrix call(const json& items, Truncation truncation, ClassifyStats* stats) {
    size_t tokens = 0, truncated = 0;
    Matrix out = conn_.post_rows("/logits", items.size(), batch_, labels_.size(),
                                 [&](size_t begin, size_t end) {
                                   json part = json::array();
                                   for (size_t i = begin; i < end; ++i) part.push_back(items[i]);
                                   return json{{"model", role_}, {"inputs", part}, {"truncation", truncation_name(truncation)}};
                                 },
                                 &tokens, &truncated);
    if (stats) {
      stats->pairs += items.size();
      stats->tokens += tokens;
      stats->truncated += truncated;
    }
    return out;
  }

  Connection conn_;
  std::string role_, activation_;
  std::vector<std::string> labels_;
  ClassifierInfo info_;
  size_t batch_ = 32;
};

}  // namespace

std::unique_ptr<SentenceEncoder> connect_encoder(const RemoteOptions& options) {
  return std::make_unique<RemoteEncoder>(options);
}

std::unique_ptr<SequenceClassifier> connect_classifier(const RemoteOptions& options, const std::string& role) {
  return std::make_unique<RemoteClassifier>(options, role);
}

}  // namespace sbert
