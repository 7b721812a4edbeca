// RequestReader over Boost.Beast's request_parser (header_limit / body_limit hold for every
// framing: Content-Length, chunked, chunk trailers), plus the checks Beast leaves to its
// caller: the header count, a second Content-Length (even an equal one), Transfer-Encoding
// beside Content-Length or other than "chunked" (request smuggling behind proxies).
#include "serve/http.h"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>
#include <optional>

namespace sbert::serve {
namespace http = boost::beast::http;

namespace {

bool iequals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

std::string trimmed(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// Header values written by the routes are ours, but a CR or LF must never split a line.
std::string header_safe(const std::string& v) {
  std::string out = v;
  for (char& c : out)
    if (c == '\r' || c == '\n') c = ' ';
  return out;
}

}  // namespace

std::string HttpRequest::get_header_value(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return "";
}

HttpResponse error_response(int status, const std::string& message, const std::string& type) {
  HttpResponse r;
  r.status = status;
  r.set_content(nlohmann::json{{"error", message}, {"error_type", type}}.dump(-1, ' ', false,
                                                                              nlohmann::json::error_handler_t::replace),
                "application/json");
  return r;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string serialize(const HttpResponse& res, bool keep_alive) {
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason_phrase(res.status) + "\r\n";
  if (!res.content_type.empty()) out += "Content-Type: " + header_safe(res.content_type) + "\r\n";
  out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
  out += keep_alive && !res.close ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& [k, v] : res.headers) out += header_safe(k) + ": " + header_safe(v) + "\r\n";
  out += "\r\n";
  out += res.body;
  return out;
}

struct RequestReader::Parser {
  http::request_parser<http::string_body> p;
  bool header_checked = false;
  // Beast 1.74 consumes header fields one by one as they arrive and applies header_limit to
  // the unconsumed bytes of each put() only, so a header fed in pieces is unbounded there: the
  // total is counted here. After the header, the raw bytes (chunk framing, trailers) are too.
  size_t header_bytes = 0, after_header = 0;
};

RequestReader::RequestReader(HttpLimits limits) : limits_(limits) {}
RequestReader::~RequestReader() = default;

void RequestReader::append(const char* data, size_t n) {
  if (offset_ > 0 && offset_ == buffer_.size()) buffer_.clear(), offset_ = 0;
  buffer_.append(data, n);
}

bool RequestReader::in_request() const { return buffered() > 0 || (parser_ && parser_->p.got_some()); }

bool RequestReader::take_continue() {
  const bool c = continue_pending_;
  continue_pending_ = false;
  return c;
}

RequestReader::State RequestReader::next(HttpRequest& out, HttpResponse& error) {
  auto fail = [&](int status, const std::string& message, const std::string& type) {
    failed_ = true;
    parser_.reset();
    error = error_response(status, message, type);
    error.close = true;
    return State::Error;
  };
  if (failed_) return fail(400, "the connection is closing", "Validation");
  while (buffered() > 0) {
    if (!parser_) {
      parser_ = std::make_unique<Parser>();
      parser_->p.header_limit(static_cast<std::uint32_t>(std::min<size_t>(limits_.max_header_bytes, UINT32_MAX)));
      parser_->p.body_limit(static_cast<std::uint64_t>(limits_.max_body_bytes));
      parser_->p.eager(false);  // stop after the header: it is checked before any body is read
    }
    Parser& ps = *parser_;
    boost::beast::error_code ec;
    const size_t used = ps.p.put(boost::asio::const_buffer(buffer_.data() + offset_, buffered()), ec);
    offset_ += used;
    if (!ps.header_checked) {
      ps.header_bytes += used;
      if (ps.header_bytes + (ps.p.is_header_done() ? 0 : buffered()) > limits_.max_header_bytes)
        ec = http::error::header_limit;
    } else {
      ps.after_header += used;
      // Room for chunk framing and trailers around a body at its limit.
      if (ps.after_header > 2 * limits_.max_body_bytes + limits_.max_header_bytes) ec = http::error::body_limit;
    }
    if (ec == http::error::need_more) break;
    if (ec == http::error::header_limit)
      return fail(431, "the request headers are larger than " + std::to_string(limits_.max_header_bytes) + " bytes",
                  "Validation");
    if (ec == http::error::body_limit)
      return fail(413, "the request body is too large (more than " + std::to_string(limits_.max_body_bytes) +
                           " bytes)",
                  "Validation");
    if (ec) return fail(400, "malformed HTTP request: " + ec.message(), "Validation");
    if (ps.p.is_header_done() && !ps.header_checked) {
      ps.header_checked = true;
      size_t count = 0, lengths = 0;
      bool te = false;
      std::string te_value, expect;
      for (const auto& f : ps.p.get()) {
        ++count;
        const std::string name(f.name_string());
        if (iequals(name, "Content-Length")) ++lengths;
        if (iequals(name, "Transfer-Encoding")) te = true, te_value = trimmed(std::string(f.value()));
        if (iequals(name, "Expect")) expect = trimmed(std::string(f.value()));
      }
      if (count > limits_.max_headers)
        return fail(431, "more than " + std::to_string(limits_.max_headers) + " request headers", "Validation");
      if (lengths > 1) return fail(400, "more than one Content-Length header", "Validation");
      if (te && lengths > 0) return fail(400, "both Content-Length and Transfer-Encoding", "Validation");
      if (te && !iequals(te_value, "chunked"))
        return fail(400, "unsupported Transfer-Encoding '" + te_value + "' (only chunked)", "Validation");
      if (iequals(expect, "100-continue") && !ps.p.is_done()) continue_pending_ = true;
      ps.p.eager(true);
    }
    if (ps.p.is_done()) {
      size_t fields = 0;  // chunk trailers count too
      for (auto it = ps.p.get().begin(); it != ps.p.get().end(); ++it) ++fields;
      if (fields > limits_.max_headers)
        return fail(431, "more than " + std::to_string(limits_.max_headers) + " request headers", "Validation");
      auto& m = ps.p.get();
      out = HttpRequest{};
      out.method = std::string(m.method_string());
      out.target = std::string(m.target());
      out.path = out.target.substr(0, out.target.find('?'));
      for (const auto& f : m) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      out.keep_alive = ps.p.keep_alive();
      out.body = std::move(m.body());
      parser_.reset();
      continue_pending_ = false;
      if (offset_ == buffer_.size()) buffer_.clear(), offset_ = 0;
      return State::Request;
    }
    if (used == 0) break;
  }
  // Keep only the unparsed tail (a header arrives whole before Beast consumes any of it).
  if (offset_ > 0) buffer_.erase(0, offset_), offset_ = 0;
  return State::NeedMore;
}

}  // namespace sbert::serve
