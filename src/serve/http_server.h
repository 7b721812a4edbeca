// The socket side of sbert serve: one event thread reads every connection (epoll), so a slow or
// idle client costs a buffer, not a thread; whole requests (serve/http.h, under HttpLimits) go
// to a pool of worker threads, or to a reserved thread for requests that must never wait behind
// the pool (health checks). One request per connection at a time: pipelined requests are
// answered in order. Each request must arrive whole within request_timeout_s (408 otherwise).
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "serve/http.h"

namespace sbert::serve {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                // 0: any free port
  size_t threads = 64;            // worker threads (requests handled at once)
  size_t max_connections = 1024;  // open connections; past it new ones get 503 and are closed
  HttpLimits limits;
  int read_timeout_s = 10;        // the longest gap between two bytes of a request
  int write_timeout_s = 10;       // one blocked write of a response
  int request_timeout_s = 30;     // from a request's first byte to its last
  int keep_alive_s = 5;           // an idle connection is closed after this
};

class HttpServer {
 public:
  using Handler = std::function<void(const HttpRequest&, HttpResponse&)>;
  // `reserved(req)` true: handled on the reserved thread instead of the pool.
  HttpServer(HttpServerOptions options, Handler handler, std::function<bool(const HttpRequest&)> reserved);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (throws sbert::Error when it cannot); returns the port.
  int bind();
  // Serves until stop(); returns once every connection is closed.
  void run();
  // From any thread: accepts what is already queued on the listening socket, then closes it;
  // requests that arrive whole are still answered (with "Connection: close"), idle connections
  // are closed after a short grace with a FIN (never a reset), and run() returns.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sbert::serve
