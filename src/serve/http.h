// HTTP/1.1 for sbert serve: the request and response a route sees, and RequestReader, which
// turns the bytes of one connection into whole requests under fixed limits (header count and
// bytes, body bytes for every framing). Parsing is Boost.Beast's request_parser; the socket
// side is serve/http_server.h. Torch-free and socket-free, so the fuzz target drives it directly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sbert::serve {

struct HttpRequest {
  std::string method, target, path;  // path: target up to '?'
  std::vector<std::pair<std::string, std::string>> headers;  // in arrival order
  std::string body;
  std::string remote_addr;
  int remote_port = 0;
  bool keep_alive = true;  // HTTP/1.1 without "Connection: close" (or 1.0 with keep-alive)
  // The first value of a header (case-insensitive name), "" when absent.
  std::string get_header_value(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body, content_type;
  bool close = false;  // send "Connection: close" and close after writing
  void set_header(const std::string& name, const std::string& value) { headers.emplace_back(name, value); }
  void set_content(std::string text, const std::string& type) {
    body = std::move(text);
    content_type = type;
  }
};

// A JSON error body in TEI's shape: {"error": message, "error_type": type}.
HttpResponse error_response(int status, const std::string& message, const std::string& type);
// Status line, headers and body, ready for the socket.
std::string serialize(const HttpResponse& res, bool keep_alive);
const char* reason_phrase(int status);

struct HttpLimits {
  size_t max_headers = 100;              // header lines (trailers included); past it 431
  size_t max_header_bytes = 64 * 1024;   // request line + headers; past it 431
  size_t max_body_bytes = 2 * 1024 * 1024;  // decoded body, any framing; past it 413
};

// One connection's request stream: append() what the socket gave, then next() until it says
// NeedMore. Requests come out in arrival order (pipelining); after an Error the connection must
// be answered with `error` and closed. Memory is bounded by the limits plus what was appended
// since the last next().
class RequestReader {
 public:
  explicit RequestReader(HttpLimits limits);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  enum class State { NeedMore, Request, Error };
  void append(const char* data, size_t n);
  State next(HttpRequest& out, HttpResponse& error);
  // Bytes of an unfinished request are buffered or parsed (the request timer runs).
  bool in_request() const;
  // The head of a request with "Expect: 100-continue" was read and its body is wanted (once).
  bool take_continue();
  size_t buffered() const { return buffer_.size() - offset_; }

 private:
  struct Parser;
  HttpLimits limits_;
  std::string buffer_;
  size_t offset_ = 0;  // bytes of buffer_ already given to the parser
  std::unique_ptr<Parser> parser_;
  bool continue_pending_ = false;
  bool failed_ = false;
};

}  // namespace sbert::serve
