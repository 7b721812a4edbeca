// A model server: the loaded models behind HTTP routes with the request/response shapes of
// text-embeddings-inference (TEI) and the OpenAI embeddings API, with dynamic batching across
// concurrent requests. Torch-free: it drives the model interfaces (SentenceEncoder, CrossEncoder,
// SequenceClassifier); HTTP is cpp-httplib's.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sbert/classifier.h"
#include "sbert/encoder.h"

namespace sbert {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                       // 0: any free port (see Server::port())
  std::string api_key;                   // non-empty: every route but GET /health needs "Authorization: Bearer KEY"
  size_t max_batch_tokens = 16384;       // tokens (specials included) merged into one model call
  size_t max_concurrent_requests = 512;  // requests admitted at once; past it: 429
  size_t max_client_batch_size = 32;     // inputs per request; past it: 413
  size_t max_body_bytes = 2 * 1024 * 1024;
  size_t http_threads = 64;              // connections served at once (the rest wait to be accepted)
  int read_timeout_s = 10;               // one read or write on a socket
  int write_timeout_s = 10;
  int request_timeout_s = 30;            // a request must arrive whole within this (slow clients)
  int keep_alive_s = 5;
  std::function<void(const std::string&)> log_request;  // one line per request (empty: none)
};

// The models a server answers with; names are what /info, /v1/models and the OpenAI "model"
// field use. Any of them may be absent (its routes then answer 400 / 404 as TEI does).
struct ServedModels {
  struct Embedder {
    std::string name;
    std::unique_ptr<SentenceEncoder> encoder;
    std::string fingerprint;  // model_fingerprint() of its folder (search indexes check it)
  };
  std::vector<Embedder> embedders;  // the first is the default
  std::string reranker_name;
  std::unique_ptr<CrossEncoder> reranker;
  std::string classifier_name;
  std::unique_ptr<SequenceClassifier> classifier;  // /predict and /zero-shot (an NLI model)
};

class Server {
 public:
  Server(ServedModels models, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (throws sbert::Error when it cannot) and returns the port bound.
  int bind();
  int port() const;
  // Serves until shutdown(); returns when every accepted request has been answered.
  void run();
  // From any thread (e.g. a signal-watching one): stop accepting, answer 503 to new requests on
  // open connections, finish what was admitted, then make run() return.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sbert
