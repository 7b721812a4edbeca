// A small libcurl client for the hub protocol: metadata requests that keep the hub's headers
// (X-Repo-Commit, X-Linked-Etag) across relative redirects, and resumable downloads to a file.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace sbert::hub::detail {

struct HttpResponse {
  long status = 0;
  std::string url;                            // the URL that answered
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                           // text requests and error bodies (truncated)
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// Transfer failures that a retry with Range may fix (connection cut, timeout).
struct TransferError {
  std::string message;
};

class HttpClient {
 public:
  HttpClient(std::string token, long timeout_seconds, bool progress);

  // HEAD that follows redirects within the same host only (a rename on the hub), so the returned
  // headers are the hub's own even when the content lives on a CDN. Throws sbert::Error on a
  // transport failure.
  HttpResponse head(const std::string& url);
  // GET of a small text document, following redirects. Throws sbert::Error on transport failure.
  HttpResponse get_text(const std::string& url);
  // GET into `file`, resuming at its current size with a Range request when it is non-empty.
  // A 200 answer to a Range request restarts the file. Returns the final response (status, headers;
  // body only when the status is not 2xx). Throws TransferError when the transfer breaks off.
  HttpResponse download(const std::string& url, const std::filesystem::path& file,
                        const std::string& label, std::uint64_t expected_size);

 private:
  std::string token_;
  long timeout_;
  bool progress_;
};

// Percent-encodes one path segment (or a revision with '/' encoded as %2F).
std::string url_encode(const std::string& s, bool keep_slash);

}  // namespace sbert::hub::detail
