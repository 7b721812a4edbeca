// sbert::Server: the route table and the one dispatcher every request goes through (API key,
// 404/405, draining, admission, metrics), the embedding helpers the routes share, /info and
// /metrics, over serve::HttpServer (serve/http_server.h: request limits, timeouts, pipelining,
// graceful stop) and dynamic batching per embedding model (serve/batcher.h). The routes of each
// API: routes_tei.cpp, routes_openai.cpp.
#include <sstream>
#include <thread>

#include "sbert/version.h"
#include "serve/server_impl.h"

namespace sbert {
using namespace serve;  // the request helpers of server_impl.h

Server::Impl::Impl(ServedModels m, ServerOptions o)
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

void Server::Impl::add(const std::string& method, const std::string& path, bool admitted, Handler h) {
  table.push_back({method, path, admitted, std::move(h)});
}

void Server::Impl::handle(const Request& req, Response& res) {
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

void Server::Impl::dispatch(const Request& req, Response& res, const Route* route, bool known, const std::string& allow) {
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

void Server::Impl::routes() {
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

size_t Server::Impl::pick_embedder(const std::string& name) const {
  if (models.embedders.empty()) throw HttpError{400, "this server has no embedding model"};
  if (name.empty() || models.embedders.size() == 1) return 0;
  for (size_t i = 0; i < models.embedders.size(); ++i)
    if (models.embedders[i].name == name) return i;
  std::string names;
  for (const auto& e : models.embedders) names += (names.empty() ? "" : ", ") + e.name;
  throw HttpError{404, "model '" + name + "' is not served (models: " + names + ")", "NotFound"};
}

void Server::Impl::check_count(size_t n) const {
  if (n == 0) throw HttpError{400, "inputs cannot be empty", "Empty"};
  if (n > options.max_client_batch_size)
    throw HttpError{413, "batch size " + std::to_string(n) + " > maximum allowed batch size " +
                             std::to_string(options.max_client_batch_size)};
}

// The per-request token budget, the same on every route: by default what the largest
// embedding request can hold (max_client_batch_size inputs of the model's max length).
size_t Server::Impl::token_budget(size_t max_length) const {
  return options.max_request_tokens ? options.max_request_tokens : options.max_client_batch_size * max_length;
}

void Server::Impl::check_tokens(size_t n, size_t max_length) const {
  if (n > token_budget(max_length))
    throw HttpError{413, "the request has " + std::to_string(n) + " tokens, more than the " +
                             std::to_string(token_budget(max_length)) + " allowed per request"};
}

// Model inputs of texts as encode() makes them; without truncate, a text over the limit is 413.
std::vector<Encoding> Server::Impl::model_inputs(const SentenceEncoder& enc, const std::vector<std::string>& texts,
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
Matrix Server::Impl::embed_rows(size_t which, const std::vector<std::string>& texts, const std::string& prompt,
                  bool truncate, size_t* tokens, size_t* truncated) {
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

std::vector<Encoding> Server::Impl::token_id_inputs(const SentenceEncoder& enc, const json& input) const {
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
void Server::Impl::finish_row(const float* row, size_t cols, size_t dims, bool normalize, bool model_normalizes,
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

void Server::Impl::info(Response& res) {
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

void Server::Impl::prometheus(Response& res) {
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
