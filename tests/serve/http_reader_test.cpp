// RequestReader: the limits hold however the bytes are split (a header fed a few bytes at a
// time is still bounded in total), pipelined requests come out whole and in order at every
// split point, and the framings a proxy could read differently are refused.
#include "serve/http.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sbert::serve {
namespace {

struct Outcome {
  std::vector<HttpRequest> requests;
  int error = 0;  // status of the error answer, 0: none
};

// Feeds `bytes` in pieces of `step` bytes, taking every request out as soon as it is whole.
Outcome feed(const std::string& bytes, size_t step, HttpLimits limits = {}) {
  RequestReader r(limits);
  Outcome out;
  for (size_t at = 0; at < bytes.size() && !out.error; at += step) {
    r.append(bytes.data() + at, std::min(step, bytes.size() - at));
    while (true) {
      HttpRequest req;
      HttpResponse err;
      const auto s = r.next(req, err);
      if (s == RequestReader::State::NeedMore) break;
      if (s == RequestReader::State::Error) {
        out.error = err.status;
        break;
      }
      out.requests.push_back(std::move(req));
    }
  }
  return out;
}

TEST(RequestReader, HeaderBytesAreBoundedInTotalWhateverThePieces) {
  HttpLimits l;
  l.max_header_bytes = 4096;
  std::string head = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 60; ++i) head += "X-H" + std::to_string(i) + ": " + std::string(90, 'v') + "\r\n";
  head += "\r\n";  // ~5.8 KB in 60 fields: under the count limit, over the byte limit
  for (size_t step : {size_t{1}, size_t{7}, size_t{100}, head.size()}) {
    Outcome o = feed(head, step, l);
    EXPECT_EQ(o.error, 431) << "step " << step;
    EXPECT_TRUE(o.requests.empty());
  }
  l.max_header_bytes = 8192;
  EXPECT_EQ(feed(head, 3, l).requests.size(), 1u);
  l.max_headers = 20;
  EXPECT_EQ(feed(head, 3, l).error, 431);
}

TEST(RequestReader, ChunkedBodiesStopAtTheBodyLimit) {
  HttpLimits l;
  l.max_body_bytes = 1000;
  std::string req = "POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string chunks;
  for (int i = 0; i < 30; ++i) chunks += "64\r\n" + std::string(100, 'a') + "\r\n";
  for (size_t step : {size_t{1}, size_t{50}, size_t{4096}}) {
    EXPECT_EQ(feed(req + chunks + "0\r\n\r\n", step, l).error, 413) << step;
    // Just under: read whole.
    std::string nine;
    for (int i = 0; i < 9; ++i) nine += "64\r\n" + std::string(100, 'b') + "\r\n";
    Outcome o = feed(req + nine + "0\r\n\r\n", step, l);
    ASSERT_EQ(o.requests.size(), 1u) << step;
    EXPECT_EQ(o.requests[0].body, std::string(900, 'b'));
  }
  // A Content-Length past the limit is refused from the header alone.
  RequestReader r(l);
  const std::string big = "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n";
  r.append(big.data(), big.size());
  HttpRequest q;
  HttpResponse e;
  EXPECT_EQ(r.next(q, e), RequestReader::State::Error);
  EXPECT_EQ(e.status, 413);
  // Trailers count as header lines.
  l.max_headers = 5;
  std::string trailers = req + "3\r\nabc\r\n0\r\n";
  for (int i = 0; i < 10; ++i) trailers += "X-T" + std::to_string(i) + ": v\r\n";
  EXPECT_EQ(feed(trailers + "\r\n", 5, l).error, 431);
}

TEST(RequestReader, PipelinedRequestsComeOutInOrderAtEverySplit) {
  const std::string a = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string b = "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  const std::string c = "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
  const std::string d = "GET /info?x=1 HTTP/1.0\r\n\r\n";
  const std::string all = a + b + c + d;
  for (size_t step = 1; step <= all.size(); ++step) {
    Outcome o = feed(all, step);
    ASSERT_EQ(o.error, 0) << step;
    ASSERT_EQ(o.requests.size(), 4u) << step;
    EXPECT_EQ(o.requests[0].path, "/health");
    EXPECT_EQ(o.requests[1].body, "hello");
    EXPECT_EQ(o.requests[2].body, "ok");
    EXPECT_EQ(o.requests[3].path, "/info");
    EXPECT_EQ(o.requests[3].target, "/info?x=1");
    EXPECT_TRUE(o.requests[0].keep_alive);
    EXPECT_FALSE(o.requests[3].keep_alive);  // HTTP/1.0 without keep-alive
  }
}

TEST(RequestReader, AmbiguousFramingIs400) {
  auto status = [](const std::string& head) { return feed(head + "\r\nabc", 1000).error; };
  EXPECT_EQ(status("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n"), 400);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n"), 400);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n"), 0);  // one header, one value
  EXPECT_EQ(status("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"), 400);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n"), 400);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"), 400);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n"), 400);
  EXPECT_EQ(status("POST / HTTP/1.1\r\nContent-Length: -3\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nBad Header\r\n"), 400);
}

TEST(RequestReader, ExpectContinueIsOfferedOnceForAWantedBody) {
  RequestReader r({});
  const std::string head = "POST /embed HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  r.append(head.data(), head.size());
  HttpRequest q;
  HttpResponse e;
  EXPECT_EQ(r.next(q, e), RequestReader::State::NeedMore);
  EXPECT_TRUE(r.take_continue());
  EXPECT_FALSE(r.take_continue());
  EXPECT_TRUE(r.in_request());
  r.append("body", 4);
  EXPECT_EQ(r.next(q, e), RequestReader::State::Request);
  EXPECT_EQ(q.body, "body");
  EXPECT_FALSE(r.in_request());
}

TEST(HttpResponse, HeaderValuesCannotSplitLines) {
  HttpResponse r;
  r.set_header("X-A", "one\r\nX-Injected: two");
  r.set_content("{}", "application/json");
  const std::string s = serialize(r, true);
  EXPECT_EQ(s.find("\r\nX-Injected"), std::string::npos) << s;
  EXPECT_NE(s.find("Content-Length: 2\r\n"), std::string::npos);
  EXPECT_NE(s.find("Connection: keep-alive\r\n"), std::string::npos);
  r.close = true;
  EXPECT_NE(serialize(r, true).find("Connection: close\r\n"), std::string::npos);
}

}  // namespace
}  // namespace sbert::serve
