// Internal to src/serve: the state of a running sbert::Server (Server::Impl) and the JSON
// request helpers its routes share. The routes of each API live in their own file:
// routes_tei.cpp (text-embeddings-inference and sbert's /logits, /zero-shot), routes_openai.cpp;
// server.cpp holds the route table, the dispatcher every request goes through (API key,
// 404/405, draining, admission, metrics) and the shared embedding helpers.
#pragma once
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/json_parse.h"
#include "sbert/server.h"
#include "serve/batcher.h"
#include "serve/http.h"
#include "serve/http_server.h"

namespace sbert::serve {

using json = nlohmann::json;
using Request = HttpRequest;
using Response = HttpResponse;

// A failed request: HTTP status, message, TEI error_type.
struct HttpError {
  int status;
  std::string message;
  std::string type = "Validation";
};

inline std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

inline void send_error(Response& res, int status, const std::string& message, const std::string& type) {
  res.status = status;
  res.set_content(dump(json{{"error", message}, {"error_type", type}}), "application/json");
}

// Shortest round-trip text of a float32 (what TEI writes), "null" never: inputs are checked finite.
inline void append_float(std::string& out, float v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

inline void append_row(std::string& out, const float* row, size_t n) {
  out += '[';
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    append_float(out, row[i]);
  }
  out += ']';
}

inline std::string base64_floats(const float* row, size_t n) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(row);  // x86-64 / aarch64: little-endian
  const size_t len = n * sizeof(float);
  std::string out(4 * ((len + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes, static_cast<int>(len));
  out.resize(static_cast<size_t>(written));
  return out;
}

inline json parse_body(const Request& req) {
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
inline T field(const json& body, const char* name, T fallback) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw HttpError{422, std::string("field '") + name + "' has the wrong type"};
  }
}

inline size_t size_field(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return 0;
  if (!it->is_number_unsigned() || it->get<uint64_t>() == 0 || it->get<uint64_t>() > (1u << 20))
    throw HttpError{422, std::string("field '") + name + "' must be a positive integer"};
  return static_cast<size_t>(it->get<uint64_t>());
}

inline std::vector<std::string> string_list(const json& v, const char* name) {
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

inline const json& required(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) throw HttpError{422, std::string("missing field '") + name + "'"};
  return *it;
}

// Prometheus text format: a label value escapes backslash, double quote and newline.
inline std::string label_value(const std::string& v) {
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

}  // namespace sbert::serve

namespace sbert {

struct Server::Impl {
  using json = nlohmann::json;
  using Request = serve::HttpRequest;
  using Response = serve::HttpResponse;

  ServedModels models;
  ServerOptions options;
  std::unique_ptr<serve::HttpServer> http;
  int bound_port = -1;
  std::atomic<bool> draining{false};
  serve::Admission admission;
  std::vector<std::unique_ptr<serve::Batcher>> embed_batchers;
  std::unique_ptr<serve::Batcher> rerank_worker, classify_worker;
  serve::Metrics metrics;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

  // One table for every route: the dispatcher below applies the key, 404/405, draining,
  // admission and metrics to all of them the same way.
  using Handler = std::function<void(const Request&, Response&)>;
  struct Route {
    std::string method, path;
    bool admitted;  // model work: goes through admission control (429 when full)
    Handler handler;
  };
  std::vector<Route> table;

  Impl(ServedModels m, ServerOptions o);

  // ---- routing (server.cpp) ----
  void add(const std::string& method, const std::string& path, bool admitted, Handler h);
  void handle(const Request& req, Response& res);
  void dispatch(const Request& req, Response& res, const Route* route, bool known, const std::string& allow);
  void routes();
  size_t pick_embedder(const std::string& name) const;
  void check_count(size_t n) const;
  size_t token_budget(size_t max_length) const;
  void check_tokens(size_t n, size_t max_length) const;
  std::vector<Encoding> model_inputs(const SentenceEncoder& enc, const std::vector<std::string>& texts,
                                     const std::string& prompt, bool truncate, size_t* truncated) const;
  Matrix embed_rows(size_t which, const std::vector<std::string>& texts, const std::string& prompt,
                    bool truncate, size_t* tokens, size_t* truncated = nullptr);
  std::vector<Encoding> token_id_inputs(const SentenceEncoder& enc, const json& input) const;
  static void finish_row(const float* row, size_t cols, size_t dims, bool normalize, bool model_normalizes,
                         std::vector<float>& out);
  void info(Response& res);
  void prometheus(Response& res);

  // ---- TEI and sbert's own routes (routes_tei.cpp) ----
  void tei_embed(const Request& req, Response& res);
  void tei_similarity(const Request& req, Response& res);
  void tei_tokenize(const Request& req, Response& res);
  void tei_rerank(const Request& req, Response& res);
  void tei_predict(const Request& req, Response& res);
  void logits(const Request& req, Response& res);
  void zero_shot(const Request& req, Response& res);

  // ---- OpenAI (routes_openai.cpp) ----
  void openai_embeddings(const Request& req, Response& res);
  void openai_models(Response& res);
};

}  // namespace sbert
