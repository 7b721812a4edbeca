#include "hub/http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <memory>
#include <mutex>

#include "sbert/error.h"
#include "sbert/text_format.h"
#include "sbert/version.h"

namespace sbert::hub::detail {

namespace fs = std::filesystem;

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlHandle {
  CURL* h;
  curl_slist* headers = nullptr;
  CurlHandle() : h(curl_easy_init()) {
    if (!h) throw Error("libcurl: cannot create a handle");
  }
  ~CurlHandle() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
  }
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Collects the headers of the last response in a chain (a new status line starts over).
struct HeaderSink {
  HttpResponse* resp;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<HeaderSink*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    sink->resp->headers.clear();
    auto sp = line.find(' ');
    if (sp != std::string::npos) sink->resp->status = std::atol(line.c_str() + sp + 1);
    return size * n;
  }
  auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = lower(line.substr(0, colon));
    std::string value = line.substr(colon + 1);
    size_t i = 0;
    while (i < value.size() && (value[i] == ' ' || value[i] == '\t')) ++i;
    sink->resp->headers[name] = value.substr(i);
  }
  return size * n;
}

size_t on_text(char* data, size_t size, size_t n, void* user) {
  auto* body = static_cast<std::string*>(user);
  if (body->size() < (64u << 20)) body->append(data, size * n);
  return size * n;
}

void setup_common(CurlHandle& c, const std::string& url, const std::string& token, long timeout) {
  curl_easy_setopt(c.h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT, timeout);
  // No data for `timeout` seconds ends the transfer (a stalled connection).
  curl_easy_setopt(c.h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c.h, CURLOPT_LOW_SPEED_TIME, timeout);
  static const std::string agent = std::string("sbert/") + SBERT_VERSION_STRING;
  curl_easy_setopt(c.h, CURLOPT_USERAGENT, agent.c_str());
  curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c.h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (!token.empty()) {
    // A custom Authorization header is not forwarded to other hosts on redirects (libcurl drops
    // it unless CURLOPT_UNRESTRICTED_AUTH), so the token never reaches the CDN.
    c.headers = curl_slist_append(c.headers, ("Authorization: Bearer " + token).c_str());
  }
  c.headers = curl_slist_append(c.headers, "Accept-Encoding: identity");
  curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
}

std::string origin_of(const std::string& url) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos) return {};
  auto slash = url.find('/', scheme + 3);
  return url.substr(0, slash);
}

struct Progress {
  bool enabled = false;
  std::string label;
  std::uint64_t offset = 0;
  std::uint64_t expected = 0;
  std::chrono::steady_clock::time_point start, last;
  bool drawn = false;
  bool finished = false;
};

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* p = static_cast<Progress*>(user);
  if (!p->enabled) return 0;
  auto now = std::chrono::steady_clock::now();
  bool done = dltotal > 0 && dlnow >= dltotal;
  if (done && p->finished) return 0;  // libcurl keeps calling after the last byte
  if (!done && now - p->last < std::chrono::milliseconds(100)) return 0;
  p->finished = done;
  p->last = now;
  std::uint64_t have = p->offset + std::uint64_t(dlnow);
  std::uint64_t total = p->expected ? p->expected : p->offset + std::uint64_t(dltotal);
  double secs = std::chrono::duration<double>(now - p->start).count();
  double rate = secs > 0 ? double(dlnow) / secs : 0;
  char line[256];
  if (total > 0) {
    int pct = int(100.0 * double(have) / double(total));
    int bar = pct / 5;
    std::snprintf(line, sizeof line, "\r%-32.32s %3d%% [%-20.*s] %s / %s  %s/s", p->label.c_str(),
                  pct, bar, "####################", human_bytes(double(have)).c_str(),
                  human_bytes(double(total)).c_str(), human_bytes(rate).c_str());
  } else {
    std::snprintf(line, sizeof line, "\r%-32.32s %s  %s/s", p->label.c_str(),
                  human_bytes(double(have)).c_str(), human_bytes(rate).c_str());
  }
  std::fputs(line, stderr);
  p->drawn = true;
  return 0;
}

struct FileSink {
  HttpResponse* resp;
  fs::path path;
  bool resuming = false;
  std::FILE* f = nullptr;
  bool failed = false;
};

size_t on_file_data(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<FileSink*>(user);
  size_t len = size * n;
  if (s->resp->status < 200 || s->resp->status >= 300) {
    if (s->resp->body.size() < 4096) s->resp->body.append(data, std::min<size_t>(len, 4096));
    return len;
  }
  if (!s->f) {
    // 206: the server honoured the Range, append; 200: the whole file again, start over.
    bool append = s->resuming && s->resp->status == 206;
    s->f = std::fopen(s->path.c_str(), append ? "ab" : "wb");
    if (!s->f) {
      s->failed = true;
      return 0;
    }
  }
  if (std::fwrite(data, 1, len, s->f) != len) {
    s->failed = true;
    return 0;
  }
  return len;
}

}  // namespace

std::string url_encode(const std::string& s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

HttpClient::HttpClient(std::string token, long timeout_seconds, bool progress)
    : token_(std::move(token)), timeout_(timeout_seconds), progress_(progress && ::isatty(2)) {
  if (const char* v = std::getenv("HF_HUB_DISABLE_PROGRESS_BARS"); v && *v && std::string(v) != "0") {
    progress_ = false;
  }
  global_init();
}

HttpResponse HttpClient::head(const std::string& start_url) {
  std::string url = start_url;
  const std::string origin = origin_of(start_url);
  for (int hop = 0; hop < 10; ++hop) {
    CurlHandle c;
    setup_common(c, url, token_, timeout_);
    curl_easy_setopt(c.h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 0L);
    HttpResponse resp;
    resp.url = url;
    HeaderSink sink{&resp};
    curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &sink);
    CURLcode rc = curl_easy_perform(c.h);
    if (rc != CURLE_OK) {
      throw Error("cannot reach " + url + ": " + curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &resp.status);
    if (resp.status >= 300 && resp.status < 400) {
      // Only a relative Location (a renamed repository) is followed, as the Python library
      // does; an absolute one points at the CDN, and this response carries the metadata.
      const char* raw = nullptr;
      std::string location_header = resp.header("location");
      if (!location_header.empty() && location_header[0] == '/' &&
          (location_header.size() < 2 || location_header[1] != '/')) {
        curl_easy_getinfo(c.h, CURLINFO_REDIRECT_URL, &raw);
        if (raw && origin_of(raw) == origin) {
          url = raw;
          continue;
        }
      }
    }
    return resp;  // the hub's answer (a redirect to a CDN carries the metadata)
  }
  throw Error("too many redirects for " + start_url);
}

HttpResponse HttpClient::get_text(const std::string& url) {
  CurlHandle c;
  setup_common(c, url, token_, timeout_);
  curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c.h, CURLOPT_MAXREDIRS, 10L);
  HttpResponse resp;
  resp.url = url;
  HeaderSink sink{&resp};
  curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &sink);
  curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_text);
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &resp.body);
  CURLcode rc = curl_easy_perform(c.h);
  if (rc != CURLE_OK) throw Error("cannot reach " + url + ": " + curl_easy_strerror(rc));
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &resp.status);
  return resp;
}

HttpResponse HttpClient::download(const std::string& url, const fs::path& file,
                                  const std::string& label, std::uint64_t expected_size) {
  std::error_code ec;
  std::uint64_t offset = fs::exists(file, ec) ? fs::file_size(file, ec) : 0;
  if (ec) offset = 0;
  CurlHandle c;
  setup_common(c, url, token_, timeout_);
  curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c.h, CURLOPT_MAXREDIRS, 10L);
  std::string range;
  if (offset > 0) {
    range = std::to_string(offset) + "-";
    curl_easy_setopt(c.h, CURLOPT_RANGE, range.c_str());
  }
  HttpResponse resp;
  resp.url = url;
  HeaderSink hs{&resp};
  curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &hs);
  FileSink sink{&resp, file, offset > 0};
  curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_file_data);
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &sink);
  Progress prog;
  prog.enabled = progress_;
  prog.label = label;
  prog.offset = offset;
  prog.expected = expected_size;
  prog.start = prog.last = std::chrono::steady_clock::now();
  if (progress_) {
    curl_easy_setopt(c.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c.h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c.h, CURLOPT_XFERINFODATA, &prog);
  }
  CURLcode rc = curl_easy_perform(c.h);
  if (sink.f) {
    if (std::fclose(sink.f) != 0) sink.failed = true;
    sink.f = nullptr;
  }
  if (prog.drawn) std::fputs("\n", stderr);
  if (sink.failed) throw Error(file.string() + ": cannot write the download (disk full?)");
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &resp.status);
  if (rc != CURLE_OK) {
    throw TransferError{"download of " + url + " broke off: " + curl_easy_strerror(rc)};
  }
  // An empty 2xx body never opened the file; make sure it exists (empty files are valid).
  if (resp.status >= 200 && resp.status < 300 && !fs::exists(file, ec)) {
    std::FILE* f = std::fopen(file.c_str(), "wb");
    if (f) std::fclose(f);
  }
  return resp;
}

}  // namespace sbert::hub::detail
