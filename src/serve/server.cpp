// sbert::Server: routes of text-embeddings-inference and the OpenAI embeddings API over
// serve::HttpServer (serve/http_server.h: request limits, timeouts, pipelining, graceful stop),
// dynamic batching per embedding model (serve/batcher.h), admission control, API key.
#include "sbert/server.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sbert/error.h"
#include "sbert/json_parse.h"
#include "sbert/similarity.h"
#include "sbert/version.h"
#include "sbert/zero_shot.h"
#include "serve/batcher.h"
#include "serve/http.h"
#include "serve/http_server.h"

namespace sbert {
namespace {

using json = nlohmann::json;
using Request = serve::HttpRequest;
using Response = serve::HttpResponse;

// A failed request: HTTP status, message, TEI error_type.
struct HttpError {
  int status;
  std::string message;
  std::string type = "Validation";
};

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_error(Response& res, int status, const std::string& message, const std::string& type) {
  res.status = status;
  res.set_content(dump(json{{"error", message}, {"error_type", type}}), "application/json");
}

// Shortest round-trip text of a float32 (what TEI writes), "null" never: inputs are checked finite.
void append_float(std::string& out, float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_row(std::string& out, const float* row, size_t n) {
  out += '[';
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    append_float(out, row[i]);
  }
  out += ']';
}

std::string base64_floats(const float* row, size_t n) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(row);  // x86-64 / aarch64: little-endian
  const size_t len = n * sizeof(float);
  std::string out(4 * ((len + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes, static_cast<int>(len));
  out.resize(static_cast<size_t>(written));
  return out;
}

json parse_body(const Request& req) {
  if (req.body.empty()) throw HttpError{400, "the request body is empty (expected a JSON object)"};
  json j;
  try {
    j = parse_json(req.body);
  } catch (const json::exception& e) {
    std::string what = e.what();
    const auto p = what.find("] ");
    throw HttpError{400, "invalid JSON: " + (p == std::string::npos ? what : what.substr(p + 2))};
  } catch (const Error& e) {  // nesting too deep, a number out of range (1e99999)
    throw HttpError{400, e.what()};
  }
  if (!j.is_object()) throw HttpError{422, "the request body must be a JSON object"};
  return j;
}

template <typename T>
T field(const json& body, const char* name, T fallback) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw HttpError{422, std::string("field '") + name + "' has the wrong type"};
  }
}

size_t size_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return 0;
  if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 || it->get<uint64_t>() > (1u << 20))
    throw HttpError{422, std::string("field '") + name + "' must be a positive integer"};
  return static_cast<size_t>(it->get<uint64_t>());
}

std::vector<std::string> string_list(const json& v, const char* name) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.push_back(v.get<std::string>());
  } else if (v.is_array()) {
    for (const auto& x : v) {
      if (!x.is_string()) throw HttpError{422, std::string("'") + name + "' must be a string or a list of strings"};
      out.push_back(x.get<std::string>());
    }
  } else {
    throw HttpError{422, std::string("'") + name + "' must be a string or a list of strings"};
  }
  return out;
}

const json& required(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) throw HttpError{422, std::string("missing field '") + name + "'"};
  return *it;
}

// Prometheus text format: a label value escapes backslash, double quote and newline.
std::string label_value(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// Counters for /metrics. Requests are counted by route-table path (any other path is "other"),
// so the set of series is fixed by the routes, whatever clients send.
struct Metrics {
  std::mutex mu;
  std::map<std::pair<std::string, int>, size_t> requests;
  std::atomic<size_t> inputs{0}, tokens{0}, rejected{0};
};

}  // namespace

struct Server::Impl {
  ServedModels models;
  ServerOptions options;
  std::unique_ptr<serve::HttpServer> http;
  int bound_port = -1;
  std::atomic<bool> draining{false};
  serve::Admission admission;
  std::vector<std::unique_ptr<serve::Batcher>> embed_batchers;
  std::unique_ptr<serve::Batcher> rerank_worker, classify_worker;
  Metrics metrics;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  Impl(ServedModels m, ServerOptions o)
      : models(std::move(m)), options(std::move(o)), admission(std::max<size_t>(options.max_concurrent_requests, 1)) {
    if (models.embedders.empty() && !models.reranker && !models.classifier)
      throw Error("the server has no model to serve");
    for (auto& e : models.embedders) {
      SentenceEncoder* enc = e.encoder.get();
      embed_batchers.push_back(std::make_unique<serve::Batcher>(
          [enc](const std::vector<Encoding>& inputs) { return enc->encode_tokenized(inputs); },
          options.max_batch_tokens));
    }
    auto none = [](const std::vector<Encoding>&) { return Matrix(); };
    if (models.reranker) rerank_worker = std::make_unique<serve::Batcher>(none, 1);
    if (models.classifier) classify_worker = std::make_unique<serve::Batcher>(none, 1);
    routes();
    serve::HttpServerOptions h;
    h.host = options.host;
    h.port = options.port;
    h.threads = std::max<size_t>(options.http_threads, 1);
    h.max_connections = std::max<size_t>(options.max_connections, 1);
    h.limits.max_headers = options.max_headers;
    h.limits.max_header_bytes = options.max_header_bytes;
    h.limits.max_body_bytes = options.max_body_bytes;
    h.read_timeout_s = options.read_timeout_s;
    h.write_timeout_s = options.write_timeout_s;
    h.request_timeout_s = options.request_timeout_s;
    h.keep_alive_s = options.keep_alive_s;
    http = std::make_unique<serve::HttpServer>(
        h, [this](const Request& req, Response& res) { handle(req, res); },
        // Health checks never wait behind model requests holding every worker.
        [](const Request& req) { return req.path == "/health"; });
  }

  // ---- routing ----
  // One table for every route: the dispatcher below applies the key, 404/405, draining,
  // admission and metrics to all of them the same way.
  using Handler = std::function<void(const Request&, Response&)>;
  struct Route {
    std::string method, path;
    bool admitted;  // model work: goes through admission control (429 when full)
    Handler handler;
  };
  std::vector<Route> table;

  void add(const std::string& method, const std::string& path, bool admitted, Handler h) {
    table.push_back({method, path, admitted, std::move(h)});
  }

  void handle(const Request& req, Response& res) {
    const Route* route = nullptr;
    std::string allow;
    bool known = false;
    for (const Route& r : table)
      if (r.path == req.path) {
        known = true;
        if (r.method == req.method) route = &r;
        allow += (allow.empty() ? "" : ", ") + r.method;
      }
    const std::string label = known ? req.path : "other";
    dispatch(req, res, route, known, allow);
    {
      std::lock_guard<std::mutex> lock(metrics.mu);
      ++metrics.requests[{label, res.status}];
    }
    if (options.log_request)
      options.log_request(req.remote_addr + " " + req.method + " " + label + " " + std::to_string(res.status) + " " +
                          std::to_string(req.body.size()) + "B in, " + std::to_string(res.body.size()) + "B out");
  }

  void dispatch(const Request& req, Response& res, const Route* route, bool known, const std::string& allow) {
    // With a key, only /health is open: unknown routes answer 401 too, so the key is needed
    // even to learn which routes exist.
    if (!options.api_key.empty() && req.path != "/health" &&
        req.get_header_value("Authorization") != "Bearer " + options.api_key) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, "missing or wrong API key (Authorization: Bearer KEY)", "Unauthorized");
      return;
    }
    if (!known) return send_error(res, 404, "no route " + req.path, "NotFound");
    if (!route) {
      res.set_header("Allow", allow);
      return send_error(res, 405, req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")",
                        "MethodNotAllowed");
    }
    if (draining) {
      res.close = true;
      return send_error(res, 503, "the server is shutting down", "Unhealthy");
    }
    if (route->admitted && !admission.enter()) {
      ++metrics.rejected;
      return send_error(res, 429, "Model is overloaded", "Overloaded");
    }
    try {
      route->handler(req, res);
    } catch (const HttpError& e) {
      send_error(res, e.status, e.message, e.type);
    } catch (const Error& e) {
      send_error(res, 422, e.what(), "Validation");
    } catch (const std::exception& e) {
      send_error(res, 500, std::string("model error: ") + e.what(), "Backend");
    }
    if (route->admitted) admission.leave();
  }

  void routes() {
    auto embed = [this](const Request& req, Response& res) { tei_embed(req, res); };
    if (!models.embedders.empty()) {
      add("POST", "/", true, embed);
      add("POST", "/embed", true, embed);
      add("POST", "/similarity", true, [this](auto& q, auto& s) { tei_similarity(q, s); });
      add("POST", "/v1/embeddings", true, [this](auto& q, auto& s) { openai_embeddings(q, s); });
    } else if (models.classifier) {
      add("POST", "/", true, [this](auto& q, auto& s) { tei_predict(q, s); });
    }
    add("POST", "/tokenize", true, [this](auto& q, auto& s) { tei_tokenize(q, s); });
    if (models.reranker) add("POST", "/rerank", true, [this](auto& q, auto& s) { tei_rerank(q, s); });
    if (models.reranker || models.classifier) add("POST", "/logits", true, [this](auto& q, auto& s) { logits(q, s); });
    if (models.classifier) {
      add("POST", "/predict", true, [this](auto& q, auto& s) { tei_predict(q, s); });
      add("POST", "/zero-shot", true, [this](auto& q, auto& s) { zero_shot(q, s); });
    }
    add("GET", "/health", false, [](auto&, auto& s) {
      s.status = 200;
      s.set_content("", "text/plain");
    });
    add("GET", "/info", false, [this](auto&, auto& s) { info(s); });
    add("GET", "/metrics", false, [this](auto&, auto& s) { prometheus(s); });
    add("GET", "/v1/models", false, [this](auto&, auto& s) { openai_models(s); });
  }
  // ---- embedding helpers ----
  size_t pick_embedder(const std::string& name) const {
    if (models.embedders.empty()) throw HttpError{400, "this server has no embedding model"};
    if (name.empty() || models.embedders.size() == 1) return 0;
    for (size_t i = 0; i < models.embedders.size(); ++i)
      if (models.embedders[i].name == name) return i;
    std::string names;
    for (const auto& e : models.embedders) names += (names.empty() ? "" : ", ") + e.name;
    throw HttpError{404, "model '" + name + "' is not served (models: " + names + ")", "NotFound"};
  }

  void check_count(size_t n) const {
    if (n == 0) throw HttpError{400, "inputs cannot be empty", "Empty"};
    if (n > options.max_client_batch_size)
      throw HttpError{413, "batch size " + std::to_string(n) + " > maximum allowed batch size " +
                               std::to_string(options.max_client_batch_size)};
  }

  // The per-request token budget, the same on every route: by default what the largest
  // embedding request can hold (max_client_batch_size inputs of the model's max length).
  size_t token_budget(size_t max_length) const {
    return options.max_request_tokens ? options.max_request_tokens : options.max_client_batch_size * max_length;
  }
  void check_tokens(size_t n, size_t max_length) const {
    if (n > token_budget(max_length))
      throw HttpError{413, "the request has " + std::to_string(n) + " tokens, more than the " +
                               std::to_string(token_budget(max_length)) + " allowed per request"};
  }

  // Model inputs of texts as encode() makes them; without truncate, a text over the limit is 413.
  std::vector<Encoding> model_inputs(const SentenceEncoder& enc, const std::vector<std::string>& texts,
                                     const std::string& prompt, bool truncate, size_t* truncated) const {
    std::vector<Encoding> out;
    out.reserve(texts.size());
    for (const std::string& t : texts) {
      EncodeStats st;
      Encoding e = enc.model_input(prompt + t, &st);
      if (truncated) *truncated += st.truncated;
      if (st.truncated && !truncate) {
        const size_t given = enc.tokenizer().encode_plain(prompt + t).size() +
                             enc.tokenizer().num_special_tokens(false);
        throw HttpError{413, "Input validation error: inputs must have less than " +
                                 std::to_string(enc.max_length()) + " tokens. Given: " + std::to_string(given)};
      }
      out.push_back(std::move(e));
    }
    return out;
  }

  // Rows for texts: batched across requests, or alone when a prompt must be kept out of pooling.
  Matrix embed_rows(size_t which, const std::vector<std::string>& texts, const std::string& prompt,
                    bool truncate, size_t* tokens, size_t* truncated = nullptr) {
    SentenceEncoder& enc = *models.embedders[which].encoder;
    std::vector<Encoding> inputs = model_inputs(enc, texts, prompt, truncate, truncated);
    size_t n = 0;
    for (const auto& e : inputs) n += e.size();
    check_tokens(n, enc.max_length());
    if (tokens) *tokens = n;
    metrics.inputs += inputs.size();
    metrics.tokens += n;
    if (!prompt.empty()) {  // the model may leave prompt tokens out of the pooling
      Matrix out;
      embed_batchers[which]->run_alone([&] { out = enc.encode_with_prompt(texts, prompt); });
      return out;
    }
    return embed_batchers[which]->submit(std::move(inputs));
  }

  std::vector<Encoding> token_id_inputs(const SentenceEncoder& enc, const json& input) const {
    std::vector<Encoding> out;
    auto one = [&](const json& ids) {
      Encoding plain;
      for (const auto& v : ids) {
        if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
            static_cast<uint64_t>(v.get<int64_t>()) >= enc.tokenizer().vocab_size())
          throw HttpError{422, "token ids must be integers in [0, " + std::to_string(enc.tokenizer().vocab_size()) + ")"};
        plain.ids.push_back(v.get<int64_t>());
        plain.tokens.push_back(enc.tokenizer().id_to_token(v.get<int64_t>()));
        plain.type_ids.push_back(0);
        plain.offsets.emplace_back(0, 0);
        plain.special_mask.push_back(0);
        plain.sequence_ids.push_back(0);
      }
      if (plain.ids.empty()) throw HttpError{400, "a token id list cannot be empty", "Empty"};
      const size_t room = enc.max_length() - enc.tokenizer().num_special_tokens(false);
      if (plain.ids.size() > room)
        throw HttpError{413, "Input validation error: inputs must have less than " + std::to_string(enc.max_length()) +
                                 " tokens. Given: " + std::to_string(plain.ids.size() + enc.max_length() - room)};
      out.push_back(enc.tokenizer().add_special_tokens(plain, nullptr));
    };
    if (input[0].is_number()) one(input);
    else
      for (const auto& ids : input) {
        if (!ids.is_array()) throw HttpError{422, "'input' must be a string, a list of strings or of token id lists"};
        one(ids);
      }
    return out;
  }

  // The vector a route returns: Matryoshka truncation, then unit length when asked (a model whose
  // own Normalize module already made it unit length is left as computed, as `sbert embed` gives it).
  static void finish_row(const float* row, size_t cols, size_t dims, bool normalize, bool model_normalizes,
                         std::vector<float>& out) {
    const size_t n = dims > 0 ? std::min(dims, cols) : cols;
    out.assign(row, row + n);
    if (normalize && (!model_normalizes || n < cols)) {
      double ss = 0;
      for (float v : out) ss += static_cast<double>(v) * v;
      const double norm = std::max(std::sqrt(ss), 1e-12);
      for (float& v : out) v = static_cast<float>(v / norm);
    }
  }

  // ---- TEI ----
  void tei_embed(const Request& req, Response& res) {
    const json body = parse_body(req);
    const std::vector<std::string> texts = string_list(required(body, "inputs"), "inputs");
    check_count(texts.size());
    const bool normalize = field<bool>(body, "normalize", true);
    const bool truncate = field<bool>(body, "truncate", false);
    const size_t dims = size_field(body, "dimensions");
    const std::string prompt_name = field<std::string>(body, "prompt_name", "");
    const size_t which = pick_embedder(field<std::string>(body, "model", ""));
    SentenceEncoder& enc = *models.embedders[which].encoder;
    // prompt: sbert's extension, the text itself (client mode's --prompt).
    std::string prompt = field<std::string>(body, "prompt", "");
    if (!prompt_name.empty()) {
      auto p = enc.prompt(prompt_name);
      if (!p) throw HttpError{422, "the model defines no prompt named '" + prompt_name + "'"};
      prompt = *p;
    }
    size_t tokens = 0, truncated = 0;
    Matrix rows = embed_rows(which, texts, prompt, truncate, &tokens, &truncated);
    res.set_header("X-Sbert-Tokens", std::to_string(tokens));
    res.set_header("X-Sbert-Truncated", std::to_string(truncated));
    std::string out = "[";
    std::vector<float> v;
    for (size_t i = 0; i < rows.rows; ++i) {
      if (i) out += ',';
      finish_row(rows.row(i), rows.cols, dims, normalize, enc.normalizes(), v);
      append_row(out, v.data(), v.size());
    }
    out += ']';
    res.set_content(out, "application/json");
  }

  void tei_similarity(const Request& req, Response& res) {
    const json body = parse_body(req);
    const json& inputs = required(body, "inputs");
    if (!inputs.is_object()) throw HttpError{422, "'inputs' must be an object with source_sentence and sentences"};
    const json& src = required(inputs, "source_sentence");
    if (!src.is_string()) throw HttpError{422, "'source_sentence' must be a string"};
    std::vector<std::string> texts{src.get<std::string>()};
    for (auto& s : string_list(required(inputs, "sentences"), "sentences")) texts.push_back(std::move(s));
    check_count(texts.size() - 1);
    const size_t which = pick_embedder(field<std::string>(body, "model", ""));
    Matrix rows = embed_rows(which, texts, "", field<bool>(body, "truncate", false), nullptr);
    json out = json::array();
    for (size_t i = 1; i < rows.rows; ++i)
      out.push_back(similarity(rows.row(0), rows.row(i), rows.cols, SimilarityFunction::Cosine));
    res.set_content(dump(out), "application/json");
  }

  void tei_tokenize(const Request& req, Response& res) {
    const json body = parse_body(req);
    const std::vector<std::string> texts = string_list(required(body, "inputs"), "inputs");
    check_count(texts.size());
    const bool specials = field<bool>(body, "add_special_tokens", true);
    const Tokenizer* tok = !models.embedders.empty() ? &models.embedders[0].encoder->tokenizer()
                           : models.reranker         ? &models.reranker->model().tokenizer()
                                                     : &models.classifier->tokenizer();
    const size_t max_length = !models.embedders.empty() ? models.embedders[0].encoder->max_length()
                              : models.reranker         ? models.reranker->model().max_length()
                                                        : models.classifier->max_length();
    // Tokenized first, answered after: a request past the token budget costs no reply.
    std::vector<Encoding> encodings;
    size_t total = 0;
    for (const std::string& t : texts) {
      encodings.push_back(tok->encode(t, specials, 0));
      total += encodings.back().size();
      check_tokens(total, max_length);
    }
    json out = json::array();
    for (size_t n = 0; n < texts.size(); ++n) {
      const std::string& t = texts[n];
      const Encoding& e = encodings[n];
      json toks = json::array();
      for (size_t i = 0; i < e.size(); ++i) {
        const bool special = i < e.special_mask.size() && e.special_mask[i];
        const auto [b, en] = i < e.offsets.size() ? e.offsets[i] : std::pair<size_t, size_t>{0, 0};
        toks.push_back({{"id", e.ids[i]},
                        {"text", special || en > t.size() ? e.tokens[i] : t.substr(b, en - b)},
                        {"special", special},
                        {"start", special ? json(nullptr) : json(b)},
                        {"stop", special ? json(nullptr) : json(en)}});
      }
      out.push_back(std::move(toks));
    }
    res.set_content(dump(out), "application/json");
  }

  void tei_rerank(const Request& req, Response& res) {
    const json body = parse_body(req);
    const json& q = required(body, "query");
    if (!q.is_string()) throw HttpError{422, "'query' must be a string"};
    const std::vector<std::string> texts = string_list(required(body, "texts"), "texts");
    check_count(texts.size());
    const bool return_text = field<bool>(body, "return_text", false);
    const bool raw = field<bool>(body, "raw_scores", false);
    std::vector<RankedDocument> ranked;
    Matrix logits;
    rerank_worker->run_alone([&] {
      ranked = models.reranker->rank(q.get<std::string>(), texts);
      if (raw) {
        std::vector<std::pair<std::string, std::string>> pairs;
        for (const auto& t : texts) pairs.emplace_back(q.get<std::string>(), t);
        logits = models.reranker->model().logits(pairs, Truncation::LongestFirst);
      }
    });
    json out = json::array();
    for (const RankedDocument& d : ranked) {
      json r = {{"index", d.index}, {"score", raw ? logits.at(d.index, 0) : d.score}};
      if (return_text) r["text"] = texts[d.index];
      out.push_back(std::move(r));
    }
    res.set_content(dump(out), "application/json");
  }

  void tei_predict(const Request& req, Response& res) {
    const json body = parse_body(req);
    const json& in = required(body, "inputs");
    const bool raw = field<bool>(body, "raw_scores", false);
    // TEI: "text" | ["a", "b"] (one pair) | a list of those.
    std::vector<std::string> singles;
    std::vector<std::pair<std::string, std::string>> pairs;
    bool batch = false;
    auto one = [&](const json& x) {
      if (x.is_string()) singles.push_back(x.get<std::string>());
      else if (x.is_array() && x.size() == 1 && x[0].is_string()) singles.push_back(x[0].get<std::string>());
      else if (x.is_array() && x.size() == 2 && x[0].is_string() && x[1].is_string())
        pairs.emplace_back(x[0].get<std::string>(), x[1].get<std::string>());
      else throw HttpError{422, "'inputs' must be a text, a [text, text] pair, or a list of those"};
    };
    if (in.is_array() && !in.empty() && in[0].is_array()) {
      batch = true;
      for (const auto& x : in) one(x);
    } else {
      one(in);
    }
    if (!singles.empty() && !pairs.empty()) throw HttpError{422, "mix of single texts and pairs in one request"};
    check_count(singles.size() + pairs.size());
    Matrix logits;
    classify_worker->run_alone([&] {
      SequenceClassifier& m = *models.classifier;
      logits = pairs.empty() ? m.logits(singles) : m.logits(pairs, Truncation::LongestFirst);
    });
    const auto& labels = models.classifier->labels();
    json out = json::array();
    for (size_t i = 0; i < logits.rows; ++i) {
      std::vector<float> s(logits.row(i), logits.row(i) + logits.cols);
      if (!raw) {
        if (s.size() == 1) s[0] = static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(s[0]))));
        else s = softmax(s.data(), s.size());
      }
      json row = json::array();
      for (size_t k : rank_scores(s.data(), s.size())) row.push_back({{"score", s[k]}, {"label", labels[k]}});
      out.push_back(std::move(row));
    }
    res.set_content(dump(batch ? out : out[0]), "application/json");
  }

  // sbert's own route behind client mode: raw logits of texts ([a]) or pairs ([a, b]) from the
  // cross-encoder ("reranker") or the classifier ("classifier"), input order.
  void logits(const Request& req, Response& res) {
    const json body = parse_body(req);
    const std::string which = field<std::string>(body, "model", models.classifier ? "classifier" : "reranker");
    SequenceClassifier* m = nullptr;
    serve::Batcher* worker = nullptr;
    if ((which == "reranker" || which == models.reranker_name) && models.reranker)
      m = &models.reranker->model(), worker = rerank_worker.get();
    else if ((which == "classifier" || which == models.classifier_name) && models.classifier)
      m = models.classifier.get(), worker = classify_worker.get();
    else
      throw HttpError{404, "no classifier '" + which + "' on this server", "NotFound"};
    Truncation truncation;
    try {
      truncation = parse_truncation(field<std::string>(body, "truncation", "longest_first"));
    } catch (const Error& e) {
      throw HttpError{422, e.what()};
    }
    const json& in = required(body, "inputs");
    if (!in.is_array()) throw HttpError{422, "'inputs' must be a list of [text] or [text, text]"};
    std::vector<std::string> singles;
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& x : in) {
      if (x.is_array() && x.size() == 1 && x[0].is_string()) singles.push_back(x[0].get<std::string>());
      else if (x.is_array() && x.size() == 2 && x[0].is_string() && x[1].is_string())
        pairs.emplace_back(x[0].get<std::string>(), x[1].get<std::string>());
      else throw HttpError{422, "'inputs' must be a list of [text] or [text, text]"};
    }
    if (!singles.empty() && !pairs.empty()) throw HttpError{422, "mix of single texts and pairs in one request"};
    check_count(singles.size() + pairs.size());
    Matrix out;
    ClassifyStats stats;
    worker->run_alone([&] { out = pairs.empty() ? m->logits(singles, &stats) : m->logits(pairs, truncation, &stats); });
    std::string text = "[";
    for (size_t i = 0; i < out.rows; ++i) {
      if (i) text += ',';
      append_row(text, out.row(i), out.cols);
    }
    text += ']';
    res.set_header("X-Sbert-Tokens", std::to_string(stats.tokens));
    res.set_header("X-Sbert-Truncated", std::to_string(stats.truncated));
    res.set_content(text, "application/json");
  }

  void zero_shot(const Request& req, Response& res) {
    const json body = parse_body(req);
    const std::vector<std::string> texts = string_list(required(body, "inputs"), "inputs");
    check_count(texts.size());
    ZeroShotOptions zo;
    zo.hypothesis_template = field<std::string>(body, "template", zo.hypothesis_template);
    zo.multi_label = field<bool>(body, "multi_label", false);
    const std::vector<std::string> labels = string_list(required(body, "labels"), "labels");
    if (labels.empty()) throw HttpError{400, "labels cannot be empty", "Empty"};
    // Each (text, label) pair is one model input: the batch limit holds for the pairs.
    if (texts.size() * labels.size() > options.max_client_batch_size)
      throw HttpError{413, std::to_string(texts.size()) + " texts x " + std::to_string(labels.size()) + " labels = " +
                               std::to_string(texts.size() * labels.size()) +
                               " pairs > maximum allowed batch size " + std::to_string(options.max_client_batch_size)};
    Matrix scores;
    classify_worker->run_alone([&] {
      ZeroShotClassifier zs(*models.classifier, labels, zo);
      scores = zs.scores(texts);
    });
    json out = json::array();
    for (size_t i = 0; i < scores.rows; ++i) {
      json l = json::array(), s = json::array();
      for (size_t k : rank_scores(scores.row(i), scores.cols)) {
        l.push_back(labels[k]);
        s.push_back(scores.at(i, k));
      }
      out.push_back({{"sequence", texts[i]}, {"labels", l}, {"scores", s}});
    }
    res.set_content(dump(out), "application/json");
  }

  void info(Response& res) {
    json j = {{"version", SBERT_VERSION_STRING},
              {"max_concurrent_requests", options.max_concurrent_requests},
              {"max_client_batch_size", options.max_client_batch_size},
              {"max_batch_tokens", options.max_batch_tokens}};
    if (!models.embedders.empty()) {
      const SentenceEncoder& e = *models.embedders[0].encoder;
      j["model_id"] = models.embedders[0].name;
      j["model_dtype"] = e.info().dtype;
      j["model_type"] = {{"embedding", {{"pooling", e.info().pooling}}}};
      j["max_input_length"] = e.max_length();
      j["dimension"] = e.dimension();
      json list = json::array();
      for (const auto& x : models.embedders) {
        const SentenceEncoder& m = *x.encoder;
        list.push_back({{"name", x.name},
                        {"model_type", m.info().model_type},
                        {"pooling", m.info().pooling},
                        {"dimension", m.dimension()},
                        {"max_input_length", m.max_length()},
                        {"normalize", m.normalizes()},
                        {"dtype", m.info().dtype},
                        {"similarity_fn", m.similarity_function()},
                        {"prompts", m.info().prompts},
                        {"fingerprint", x.fingerprint}});
      }
      j["embedding_models"] = list;
    }
    auto describe = [](const std::string& name, const SequenceClassifier& m) {
      return json{{"name", name},
                  {"labels", m.labels()},
                  {"activation", m.cross_encoder_activation()},
                  {"model_type", m.info().model_type},
                  {"max_input_length", m.max_length()}};
    };
    if (models.reranker) j["reranker"] = describe(models.reranker_name, models.reranker->model());
    if (models.classifier) j["classifier"] = describe(models.classifier_name, *models.classifier);
    if (models.reranker) {
      j["reranker_id"] = models.reranker_name;
      if (models.embedders.empty()) {
        j["model_id"] = models.reranker_name;
        j["model_type"] = {{"reranker", {{"id2label", {{"0", models.reranker->model().labels()[0]}}}}}};
      }
    }
    if (models.classifier) {
      j["classifier_id"] = models.classifier_name;
      json labels = json::object();
      for (size_t i = 0; i < models.classifier->labels().size(); ++i)
        labels[std::to_string(i)] = models.classifier->labels()[i];
      if (models.embedders.empty() && !models.reranker) {
        j["model_id"] = models.classifier_name;
        j["model_type"] = {{"classifier", {{"id2label", labels}}}};
      }
    }
    res.set_content(dump(j), "application/json");
  }

  void prometheus(Response& res) {
    std::ostringstream m;
    m << "# HELP sbert_requests_total Requests answered, by route and status.\n"
         "# TYPE sbert_requests_total counter\n";
    {
      std::lock_guard<std::mutex> lock(metrics.mu);
      for (const auto& [k, n] : metrics.requests)
        m << "sbert_requests_total{route=\"" << label_value(k.first) << "\",status=\"" << k.second << "\"} " << n
          << "\n";
    }
    m << "# TYPE sbert_rejected_total counter\nsbert_rejected_total " << metrics.rejected.load() << "\n"
      << "# TYPE sbert_inputs_total counter\nsbert_inputs_total " << metrics.inputs.load() << "\n"
      << "# TYPE sbert_tokens_total counter\nsbert_tokens_total " << metrics.tokens.load() << "\n"
      << "# TYPE sbert_requests_inside gauge\nsbert_requests_inside " << admission.inside() << "\n";
    size_t waiting = 0;
    for (const auto& b : embed_batchers) waiting += b->queued();
    m << "# TYPE sbert_queue_size gauge\nsbert_queue_size " << waiting << "\n";
    m << "# HELP sbert_batches_total Model calls of merged requests, by inputs per call (le: upper bound).\n"
         "# TYPE sbert_batches_total counter\n";
    size_t batches = 0, tokens = 0;
    double queue = 0, run = 0;
    for (size_t b = 0; b < embed_batchers.size(); ++b) {
      const serve::Batcher::Stats s = embed_batchers[b]->stats();
      for (size_t k = 0; k < s.batch_inputs_histogram.size(); ++k)
        m << "sbert_batches_total{model=\"" << label_value(models.embedders[b].name) << "\",inputs_le=\"" << ((size_t{2} << k) - 1)
          << "\"} " << s.batch_inputs_histogram[k] << "\n";
      batches += s.batches, tokens += s.tokens, queue += s.queue_seconds, run += s.run_seconds;
    }
    m << "# TYPE sbert_queue_seconds_total counter\nsbert_queue_seconds_total " << queue << "\n"
      << "# TYPE sbert_inference_seconds_total counter\nsbert_inference_seconds_total " << run << "\n"
      << "# HELP sbert_tokens_per_second Tokens embedded per second of model time.\n"
      << "# TYPE sbert_tokens_per_second gauge\nsbert_tokens_per_second " << (run > 0 ? tokens / run : 0.0) << "\n"
      << "# TYPE sbert_uptime_seconds gauge\nsbert_uptime_seconds "
      << std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() << "\n";
    res.set_content(m.str(), "text/plain; version=0.0.4");
  }

  // ---- OpenAI ----
  void openai_embeddings(const Request& req, Response& res) {
    const json body = parse_body(req);
    const json& input = required(body, "input");
    const std::string model = field<std::string>(body, "model", "");
    const size_t which = pick_embedder(model);
    SentenceEncoder& enc = *models.embedders[which].encoder;
    const std::string format = field<std::string>(body, "encoding_format", "float");
    if (format != "float" && format != "base64")
      throw HttpError{422, "encoding_format must be 'float' or 'base64'"};
    const size_t dims = size_field(body, "dimensions");
    Matrix rows;
    size_t tokens = 0;
    const bool ids = input.is_array() && !input.empty() && (input[0].is_number() || input[0].is_array());
    if (ids) {
      std::vector<Encoding> inputs = token_id_inputs(enc, input);
      check_count(inputs.size());
      for (const auto& e : inputs) tokens += e.size();
      check_tokens(tokens, enc.max_length());
      metrics.inputs += inputs.size();
      metrics.tokens += tokens;
      rows = embed_batchers[which]->submit(std::move(inputs));
    } else {
      const std::vector<std::string> texts = string_list(input, "input");
      check_count(texts.size());
      rows = embed_rows(which, texts, "", true, &tokens);
    }
    std::string out = "{\"object\":\"list\",\"data\":[";
    std::vector<float> v;
    for (size_t i = 0; i < rows.rows; ++i) {
      // The model's own vector (as `sbert embed` writes it); shortened unit vectors stay unit.
      finish_row(rows.row(i), rows.cols, dims, enc.normalizes(), enc.normalizes(), v);
      out += i ? ",{" : "{";
      out += "\"object\":\"embedding\",\"index\":" + std::to_string(i) + ",\"embedding\":";
      if (format == "base64") out += "\"" + base64_floats(v.data(), v.size()) + "\"";
      else append_row(out, v.data(), v.size());
      out += "}";
    }
    out += "],\"model\":" + dump(json(model.empty() ? models.embedders[which].name : model)) +
           ",\"usage\":{\"prompt_tokens\":" + std::to_string(tokens) + ",\"total_tokens\":" + std::to_string(tokens) +
           "}}";
    res.set_content(out, "application/json");
  }

  void openai_models(Response& res) {
    json data = json::array();
    for (const auto& e : models.embedders)
      data.push_back({{"id", e.name}, {"object", "model"}, {"created", 0}, {"owned_by", "sbert"}});
    res.set_content(dump(json{{"object", "list"}, {"data", data}}), "application/json");
  }
};

Server::Server(ServedModels models, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(models), std::move(options))) {}

Server::~Server() = default;

int Server::bind() {
  const ServerOptions& o = impl_->options;
  if (o.port < 0 || o.port > 65535) throw Error("port " + std::to_string(o.port) + " is out of range");
  if (impl_->bound_port < 0) impl_->bound_port = impl_->http->bind();
  return impl_->bound_port;
}

int Server::port() const { return impl_->bound_port; }

void Server::run() {
  if (impl_->bound_port < 0) bind();
  impl_->http->run();
}

std::string Server::answer(const std::string& bytes) {
  serve::HttpLimits limits;
  limits.max_headers = impl_->options.max_headers;
  limits.max_header_bytes = impl_->options.max_header_bytes;
  limits.max_body_bytes = impl_->options.max_body_bytes;
  serve::RequestReader reader(limits);
  reader.append(bytes.data(), bytes.size());
  std::string out;
  while (true) {
    Request req;
    Response res;
    const auto state = reader.next(req, res);
    if (state == serve::RequestReader::State::NeedMore) break;
    if (state == serve::RequestReader::State::Error) {
      out += serve::serialize(res, false);
      break;
    }
    impl_->handle(req, res);
    out += serve::serialize(res, req.keep_alive);
    if (!req.keep_alive || res.close) break;
  }
  return out;
}

void Server::shutdown() {
  // New requests get 503 from now on; what was admitted finishes (bounded), then the listener
  // closes (connections it had queued are still answered) and idle connections are closed.
  impl_->draining = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (impl_->admission.inside() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  impl_->http->stop();
}

}  // namespace sbert
