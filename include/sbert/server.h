// A model server: the loaded models behind HTTP routes with the request/response shapes of
// text-embeddings-inference (TEI) and the OpenAI embeddings API, with dynamic batching across
// concurrent requests. Torch-free: it drives the model interfaces (SentenceEncoder, CrossEncoder,
// SequenceClassifier); HTTP is sbert's own event loop over Boost.Beast's request parser
// (src/serve/http_server.h).
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
  size_t max_client_batch_size = 32;     // inputs per request (zero-shot: texts x labels); past it: 413
  size_t max_request_tokens = 0;         // tokens per request, any route (0: max_client_batch_size x
                                         // the model's max input length); past it: 413
  size_t max_body_bytes = 2 * 1024 * 1024;  // decoded body, any framing (chunked too); past it: 413
  size_t max_headers = 100;              // request header lines; past it: 431 and close
  size_t max_header_bytes = 64 * 1024;   // request line + headers; past it: 431 and close
  size_t max_connections = 1024;         // open connections; past it: 503 and close
  size_t http_threads = 64;              // requests handled at once (reading costs no thread)
  int read_timeout_s = 10;               // the longest pause inside a request, or in one write
  int write_timeout_s = 10;
  int request_timeout_s = 30;            // a request (headers and body) must arrive whole within this
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
  // The answers to raw HTTP/1.1 bytes as one connection would get them (pipelined requests in
  // order, up to an error or "Connection: close"), without sockets: for the fuzz target.
  std::string answer(const std::string& bytes);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sbert
