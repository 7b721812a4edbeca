// `sbert serve` end to end: a server process on 127.0.0.1 at a free port, its routes checked
// against the CLI's own numbers, batching across concurrent clients, every error status, a
// slow client, a client that disconnects mid-request, a 10 MB body and SIGTERM under load.
// Every wait is bounded.
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <chrono>
#include <cmath>
#include <thread>

#include "sbert/random_model.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using sbert::testing::read_file;
using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

const fs::path& tiny_model() {
  static const fs::path dir = [] {
    fs::path d = temp_dir("serve-model") / "tiny";
    sbert::RandomModelSpec s;
    s.hidden = 32, s.layers = 2, s.heads = 4, s.intermediate = 64, s.max_seq_length = 32;
    sbert::write_random_model(d, s);
    return d;
  }();
  return dir;
}

// A `sbert serve` child process; stopped with SIGTERM (then SIGKILL after 30 s) when destroyed.
class ServerProcess {
 public:
  explicit ServerProcess(const std::vector<std::string>& args) {
    dir_ = temp_dir("serve-run");
    port_file_ = dir_ / "port";
    std::vector<std::string> argv{SBERT_BINARY, "serve", "--port", "0", "--port-file", port_file_.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    const std::string log = (dir_ / "stderr.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      (void)f;
      std::vector<char*> c;
      for (auto& a : argv) c.push_back(const_cast<char*>(a.c_str()));
      c.push_back(nullptr);
      ::execv(c[0], c.data());
      ::_exit(127);
    }
    for (int i = 0; i < 600 && port_ == 0; ++i) {  // up to 60 s to load and bind
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::error_code ec;
      if (fs::exists(port_file_, ec)) port_ = std::stoi(read_file(port_file_));
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
    }
  }
  ~ServerProcess() {
    if (pid_ > 0) stop();
  }
  int port() const { return port_; }
  std::string log() const { return read_file(dir_ / "stderr.log"); }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    c.set_connection_timeout(10, 0);
    return c;
  }
  // SIGTERM, then the exit status (-1 when it had to be killed).
  int stop() {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }

 private:
  fs::path dir_, port_file_;
  pid_t pid_ = -1;
  int port_ = 0;
};

std::vector<std::vector<float>> cli_embed(const fs::path& model, const std::vector<std::string>& texts) {
  fs::path dir = temp_dir("serve-cli");
  std::string body;
  for (const auto& t : texts) body += json{{"text", t}}.dump() + "\n";
  write_file(dir / "in.jsonl", body);
  std::string out, err;
  EXPECT_EQ(run_command(std::string(SBERT_BINARY) + " embed -q --model " + model.string() + " " +
                            (dir / "in.jsonl").string(),
                        &out, &err),
            0)
      << err;
  std::vector<std::vector<float>> rows;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) rows.push_back(json::parse(line)["embedding"].get<std::vector<float>>());
  return rows;
}

double max_diff(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    EXPECT_EQ(a[i].size(), b[i].size());
    for (size_t k = 0; k < std::min(a[i].size(), b[i].size()); ++k)
      worst = std::max(worst, std::abs(double(a[i][k]) - b[i][k]));
  }
  return worst;
}

std::vector<std::string> sentences() {
  return {"A man is playing a guitar.", "A woman is slicing an onion.", "", "Two dogs run on the beach.",
          "The quick brown fox jumps over the lazy dog again and again.", "short", "한국어 문장입니다.",
          "A girl is styling her hair."};
}

httplib::Result post(httplib::Client& c, const std::string& path, const json& body) {
  return c.Post(path.c_str(), body.dump(), "application/json");
}

void expect_error(const httplib::Result& r, int status, const std::string& fragment = "") {
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, status) << r->body;
  json j = json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r->body;
  EXPECT_TRUE(j["error"].is_string()) << r->body;
  EXPECT_TRUE(j["error_type"].is_string()) << r->body;
  if (!fragment.empty()) EXPECT_NE(r->body.find(fragment), std::string::npos) << r->body;
}

// Raw TCP to the server (for clients httplib will not imitate).
int connect_raw(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{0, 200000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// What came back on a raw connection: the bytes, and whether the server closed it.
struct RawReply {
  std::string bytes;
  bool closed = false;
};

// Sends `request` on a fresh connection (a send the server refuses midway is fine), then reads
// until the server closes it or `seconds` pass.
RawReply raw_exchange(int port, const std::string& request, int seconds = 10) {
  RawReply r;
  int fd = connect_raw(port);
  if (fd < 0) return r;
  for (size_t done = 0; done < request.size();) {
    const ssize_t n = ::send(fd, request.data() + done, request.size() - done, MSG_NOSIGNAL);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  char buf[65536];
  while (std::chrono::steady_clock::now() < end) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) r.bytes.append(buf, static_cast<size_t>(n));
    else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      r.closed = true;
      break;
    }
  }
  ::close(fd);
  return r;
}

struct RawResponse {
  int status = 0;
  std::string headers, body;
};

// The whole responses in `raw`, in order (a cut-off last one is left out).
std::vector<RawResponse> responses(const std::string& raw) {
  std::vector<RawResponse> out;
  size_t at = 0;
  while (at < raw.size()) {
    const size_t head_end = raw.find("\r\n\r\n", at);
    if (head_end == std::string::npos || raw.compare(at, 9, "HTTP/1.1 ") != 0) break;
    RawResponse r;
    r.status = std::atoi(raw.c_str() + at + 9);
    r.headers = raw.substr(at, head_end - at);
    std::string lower = r.headers;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t cl = lower.find("content-length: ");
    const size_t len = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 16));
    if (head_end + 4 + len > raw.size()) break;
    r.body = raw.substr(head_end + 4, len);
    out.push_back(std::move(r));
    at = head_end + 4 + len;
  }
  return out;
}

std::string post_text(const std::string& path, const std::string& body, const std::string& extra = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

class Serve : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({"--model", tiny_model().string(), "--max-client-batch-size", "16"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_GT(server_->port(), 0) << server_->log(); }
  static ServerProcess* server_;
};
ServerProcess* Serve::server_ = nullptr;

TEST_F(Serve, EmbedRoutesGiveTheCliNumbers) {
  const auto texts = sentences();
  const auto want = cli_embed(tiny_model(), texts);
  auto c = server_->client();
  for (const char* route : {"/embed", "/"}) {
    auto r = post(c, route, {{"inputs", texts}, {"truncate", true}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_LE(max_diff(json::parse(r->body).get<std::vector<std::vector<float>>>(), want), 1e-6) << route;
  }
  auto one = post(c, "/embed", {{"inputs", texts[0]}});
  ASSERT_TRUE(one);
  ASSERT_EQ(one->status, 200);
  EXPECT_LE(max_diff(json::parse(one->body).get<std::vector<std::vector<float>>>(), {want[0]}), 1e-6);
  // dimensions: the first N, back to unit length.
  auto short_r = post(c, "/embed", {{"inputs", texts[0]}, {"dimensions", 8}});
  ASSERT_TRUE(short_r);
  auto v = json::parse(short_r->body)[0].get<std::vector<float>>();
  ASSERT_EQ(v.size(), 8u);
  double n = 0;
  for (float x : v) n += double(x) * x;
  EXPECT_NEAR(n, 1.0, 1e-5);
}

TEST_F(Serve, OpenAiEmbeddingsFloatAndBase64) {
  const auto texts = sentences();
  const auto want = cli_embed(tiny_model(), texts);
  auto c = server_->client();
  auto r = post(c, "/v1/embeddings", {{"input", texts}, {"model", "anything"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  EXPECT_EQ(j["object"], "list");
  std::vector<std::vector<float>> got;
  for (size_t i = 0; i < j["data"].size(); ++i) {
    EXPECT_EQ(j["data"][i]["index"], i);
    EXPECT_EQ(j["data"][i]["object"], "embedding");
    got.push_back(j["data"][i]["embedding"].get<std::vector<float>>());
  }
  EXPECT_LE(max_diff(got, want), 1e-6);
  EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), int(texts.size()));
  EXPECT_EQ(j["usage"]["total_tokens"], j["usage"]["prompt_tokens"]);

  auto b = post(c, "/v1/embeddings", {{"input", texts[1]}, {"encoding_format", "base64"}});
  ASSERT_TRUE(b);
  ASSERT_EQ(b->status, 200) << b->body;
  const std::string enc = json::parse(b->body)["data"][0]["embedding"].get<std::string>();
  // Decode base64 by hand (the test's own decoder) into little-endian float32.
  auto value = [](char ch) -> int {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    return ch == '+' ? 62 : ch == '/' ? 63 : -1;
  };
  std::string bytes;
  for (size_t i = 0; i + 3 < enc.size(); i += 4) {
    int v0 = value(enc[i]), v1 = value(enc[i + 1]), v2 = value(enc[i + 2]), v3 = value(enc[i + 3]);
    bytes += char((v0 << 2) | (v1 >> 4));
    if (v2 >= 0) bytes += char(((v1 & 15) << 4) | (v2 >> 2));
    if (v3 >= 0) bytes += char(((v2 & 3) << 6) | v3);
  }
  ASSERT_EQ(bytes.size(), want[1].size() * 4);
  std::vector<float> decoded(want[1].size());
  std::memcpy(decoded.data(), bytes.data(), bytes.size());
  EXPECT_LE(max_diff({decoded}, {want[1]}), 1e-6);

  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], tiny_model().string());
}

TEST_F(Serve, ConcurrentClientsAreBatchedWithTheSameVectors) {
  const auto texts = sentences();
  const auto want = cli_embed(tiny_model(), texts);
  std::atomic<int> bad{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      auto c = server_->client();
      for (int r = 0; r < 12; ++r) {
        const size_t i = (t + r) % texts.size();
        auto res = post(c, "/embed", {{"inputs", texts[i]}, {"truncate", true}});
        if (!res || res->status != 200) {
          ++bad;
          continue;
        }
        auto v = json::parse(res->body).get<std::vector<std::vector<float>>>();
        if (v.size() != 1 || max_diff(v, {want[i]}) > 1e-6) ++bad;
      }
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(bad.load(), 0);
  auto m = server_->client().Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_NE(m->body.find("sbert_batches_total"), std::string::npos);
  EXPECT_NE(m->body.find("sbert_requests_total{route=\"/embed\",status=\"200\"}"), std::string::npos);
}

TEST_F(Serve, SimilarityTokenizeInfoHealth) {
  auto c = server_->client();
  const auto texts = sentences();
  const auto want = cli_embed(tiny_model(), texts);
  auto r = post(c, "/similarity", {{"inputs", {{"source_sentence", texts[0]}, {"sentences", {texts[1], texts[3]}}}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto sims = json::parse(r->body).get<std::vector<float>>();
  ASSERT_EQ(sims.size(), 2u);
  auto cosine = [](const std::vector<float>& a, const std::vector<float>& b) {
    double d = 0, na = 0, nb = 0;
    for (size_t k = 0; k < a.size(); ++k) d += double(a[k]) * b[k], na += double(a[k]) * a[k], nb += double(b[k]) * b[k];
    return d / std::sqrt(na * nb);
  };
  EXPECT_NEAR(sims[0], cosine(want[0], want[1]), 1e-6);
  EXPECT_NEAR(sims[1], cosine(want[0], want[3]), 1e-6);

  auto t = post(c, "/tokenize", {{"inputs", "hello world"}});
  ASSERT_TRUE(t);
  ASSERT_EQ(t->status, 200) << t->body;
  json toks = json::parse(t->body)[0];
  ASSERT_GE(toks.size(), 3u);
  EXPECT_TRUE(toks.front()["special"].get<bool>());
  EXPECT_TRUE(toks.back()["special"].get<bool>());
  EXPECT_EQ(toks[1]["start"], 0);

  auto info = c.Get("/info");
  ASSERT_TRUE(info);
  json ij = json::parse(info->body);
  EXPECT_EQ(ij["model_id"], tiny_model().string());
  EXPECT_EQ(ij["max_client_batch_size"], 16);
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST_F(Serve, BadRequestsGetJsonErrorsWithTheRightStatus) {
  auto c = server_->client();
  expect_error(c.Post("/embed", "{not json", "application/json"), 400, "invalid JSON");
  expect_error(c.Post("/embed", "", "application/json"), 400);
  expect_error(c.Post("/embed", "[1,2]", "application/json"), 422);
  expect_error(post(c, "/embed", {{"inputs", 5}}), 422, "inputs");
  expect_error(post(c, "/embed", {{"nothing", 1}}), 422, "missing field 'inputs'");
  expect_error(post(c, "/embed", {{"inputs", json::array()}}), 400, "empty");
  expect_error(post(c, "/embed", {{"inputs", std::vector<std::string>(17, "x")}}), 413, "batch size 17");
  expect_error(post(c, "/embed", {{"inputs", "x"}, {"normalize", "yes"}}), 422, "normalize");
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "word ";
  expect_error(post(c, "/embed", {{"inputs", long_text}}), 413, "less than 32 tokens");
  auto ok = post(c, "/embed", {{"inputs", long_text}, {"truncate", true}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  // Invalid UTF-8 inside a JSON string.
  expect_error(c.Post("/embed", std::string("{\"inputs\": \"caf\xC3\x28\"}"), "application/json"), 400);
  expect_error(c.Post("/nowhere", "{}", "application/json"), 404);
  expect_error(c.Get("/embed"), 405);
  expect_error(post(c, "/v1/embeddings", {{"input", "x"}, {"encoding_format", "hex"}}), 422);
  expect_error(post(c, "/v1/embeddings", {{"input", {1, 2, 99999999}}}), 422, "token ids");
  // No cross-encoder, no classifier in this server.
  expect_error(post(c, "/rerank", {{"query", "q"}, {"texts", {"a"}}}), 404);
  // A 10 MB body (the limit is 2 MB).
  std::string big = "{\"inputs\": \"" + std::string(10 * 1024 * 1024, 'a') + "\"}";
  auto r = c.Post("/embed", big, "application/json");
  if (r) EXPECT_EQ(r->status, 413) << r->body.substr(0, 200);  // or the server closed the upload early
  auto after = c.Get("/health");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
}

TEST_F(Serve, ClientsThatVanishOrCrawlDoNotHoldTheServer) {
  // Disconnect in the middle of a body.
  int fd = connect_raw(server_->port());
  ASSERT_GE(fd, 0);
  std::string head = "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"inp";
  ASSERT_GT(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), 0);
  ::close(fd);
  auto c = server_->client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
}

TEST(ServeSlowClient, ASlowLorisIsCutOffAndOthersAreServed) {
  ServerProcess server({"--model", tiny_model().string(), "--request-timeout", "2", "--http-threads", "2"});
  ASSERT_GT(server.port(), 0) << server.log();
  // Two crawling clients would hold both connection threads; each sends a header byte every
  // 0.3 s (every read succeeds, so only the whole-request limit can stop them).
  std::atomic<int> cut{0};
  std::vector<std::thread> crawlers;
  for (int k = 0; k < 2; ++k)
    crawlers.emplace_back([&] {
      int fd = connect_raw(server.port());
      if (fd < 0) return;
      const std::string line = "GET /health HTTP/1.1\r\nX-Slow: " + std::string(200, 'a');
      auto start = std::chrono::steady_clock::now();
      for (char ch : line) {
        if (::send(fd, &ch, 1, MSG_NOSIGNAL) <= 0) break;
        char buf[16];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) break;  // closed by the server
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (std::chrono::steady_clock::now() - start > std::chrono::seconds(20)) {
          ::close(fd);
          return;
        }
      }
      ++cut;
      ::close(fd);
    });
  std::this_thread::sleep_for(std::chrono::seconds(1));
  for (auto& t : crawlers) t.join();
  EXPECT_EQ(cut.load(), 2) << "a crawling client was not cut off within 20 s";
  auto c = server.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST(ServeAuth, ApiKeyIsRequiredButHealthIsOpen) {
  ServerProcess server({"--model", tiny_model().string(), "--api-key", "s3cret"});
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  expect_error(post(c, "/embed", {{"inputs", "x"}}), 401);
  httplib::Headers wrong{{"Authorization", "Bearer nope"}};
  expect_error(c.Post("/embed", wrong, json{{"inputs", "x"}}.dump(), "application/json"), 401);
  httplib::Headers right{{"Authorization", "Bearer s3cret"}};
  auto ok = c.Post("/embed", right, json{{"inputs", "x"}}.dump(), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeOverload, PastTheQueueLimitAnswers429OrServes) {
  ServerProcess server({"--model", tiny_model().string(), "--max-concurrent-requests", "1"});
  ASSERT_GT(server.port(), 0) << server.log();
  const auto texts = sentences();
  const auto want = cli_embed(tiny_model(), texts);
  std::atomic<int> ok{0}, overloaded{0}, other{0};
  std::mutex mu;
  std::string first_other;
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t)
    clients.emplace_back([&] {
      auto c = server.client();
      for (int r = 0; r < 5; ++r) {
        auto res = post(c, "/embed", {{"inputs", texts}, {"truncate", true}});
        if (res && res->status == 200 &&
            max_diff(json::parse(res->body).get<std::vector<std::vector<float>>>(), want) <= 1e-6) {
          ++ok;
        } else if (res && res->status == 429 && json::parse(res->body, nullptr, false).value("error_type", "") == "Overloaded") {
          ++overloaded;
        } else {
          ++other;
          std::lock_guard<std::mutex> lock(mu);
          if (first_other.empty())
            first_other = res ? std::to_string(res->status) + " " + res->body.substr(0, 200)
                              : "transport error " + httplib::to_string(res.error());
        }
      }
    });
  for (auto& c : clients) c.join();
  EXPECT_EQ(other.load(), 0) << first_other << "\n" << server.log();
  EXPECT_GT(ok.load(), 0) << "429: " << overloaded.load();
  EXPECT_EQ(ok + overloaded, 80);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeShutdown, SigtermUnderLoadAnswersWhatWasAdmittedAndExitsZero) {
  auto server = std::make_unique<ServerProcess>(std::vector<std::string>{"--model", tiny_model().string()});
  ASSERT_GT(server->port(), 0) << server->log();
  const auto texts = sentences();
  const auto want = cli_embed(tiny_model(), texts);
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, refused{0}, wrong{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 6; ++t)
    clients.emplace_back([&] {
      auto c = server->client();
      while (!stop) {
        auto res = post(c, "/embed", {{"inputs", texts}, {"truncate", true}});
        if (!res) {  // the listener is gone: nothing was accepted
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        if (res->status == 200) {
          if (max_diff(json::parse(res->body).get<std::vector<std::vector<float>>>(), want) > 1e-6) ++wrong;
          else ++served;
        } else if (res->status == 503 && json::parse(res->body)["error_type"] == "Unhealthy") {
          ++refused;
        } else {
          ++wrong;
        }
      }
    });
  for (int i = 0; i < 100 && served < 10; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(server->stop(), 0) << server->log();
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_GE(served.load(), 10);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_NE(server->log().find("stopped"), std::string::npos);
}

TEST(ServeErrors, NoModelOrBadPortIsAOneLineError) {
  std::string err;
  EXPECT_EQ(run_command(std::string(SBERT_BINARY) + " serve", nullptr, &err), 2);
  EXPECT_NE(err.find("nothing to serve"), std::string::npos) << err;
  EXPECT_EQ(run_command(std::string(SBERT_BINARY) + " serve --model " + tiny_model().string() + " --port 70000",
                        nullptr, &err),
            2);
}

TEST(ServeModels, RerankPredictZeroShotAgainstTheCli) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path ce = shared / "fixtures/models/cross-encoder-bert";
  const fs::path nli = shared / "fixtures/models/nli-bert";
  ServerProcess server({"--model", tiny_model().string(), "--cross-encoder", ce.string(), "--nli", nli.string()});
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  const std::vector<std::string> docs{"A man is eating food.", "A man is riding a horse.", "A woman plays violin."};
  auto r = post(c, "/rerank", {{"query", "A man is eating pasta."}, {"texts", docs}, {"return_text", true}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json got = json::parse(r->body);
  // The CLI's ranking of the same texts.
  fs::path dir = temp_dir("serve-rerank");
  write_file(dir / "docs.txt", docs[0] + "\n" + docs[1] + "\n" + docs[2] + "\n");
  std::string out, err;
  ASSERT_EQ(run_command(std::string(SBERT_BINARY) + " rerank -q --model " + ce.string() +
                            " --query 'A man is eating pasta.' " + (dir / "docs.txt").string(),
                        &out, &err),
            0)
      << err;
  std::istringstream lines(out);
  size_t k = 0;
  for (std::string line; std::getline(lines, line); ++k) {
    json row = json::parse(line);
    ASSERT_LT(k, got.size());
    EXPECT_EQ(got[k]["index"], row["index"]);
    EXPECT_NEAR(got[k]["score"].get<double>(), row["score"].get<double>(), 1e-6);
    EXPECT_EQ(got[k]["text"], docs[row["index"].get<size_t>()]);
  }
  EXPECT_EQ(k, docs.size());

  auto p = post(c, "/predict", {{"inputs", {"A man is eating.", "Nobody is eating."}}});
  ASSERT_TRUE(p);
  ASSERT_EQ(p->status, 200) << p->body;
  json pj = json::parse(p->body);
  double total = 0;
  for (const auto& x : pj) total += x["score"].get<double>();
  EXPECT_NEAR(total, 1.0, 1e-5);
  EXPECT_GE(pj[0]["score"].get<double>(), pj[pj.size() - 1]["score"].get<double>());

  // texts x labels pairs are the batch: 1 x 33 > 32 is refused before any model work.
  expect_error(post(c, "/zero-shot", {{"inputs", "I love this phone"}, {"labels", std::vector<std::string>(33, "x")}}),
               413, "pairs");
  auto z = post(c, "/zero-shot", {{"inputs", "I love this phone"}, {"labels", {"tech", "food", "sports"}}});
  ASSERT_TRUE(z);
  ASSERT_EQ(z->status, 200) << z->body;
  json zj = json::parse(z->body)[0];
  EXPECT_EQ(zj["labels"].size(), 3u);
  double zs = 0;
  for (const auto& s : zj["scores"]) zs += s.get<double>();
  EXPECT_NEAR(zs, 1.0, 1e-5);
  // The CLI's scores for the same text and labels.
  write_file(dir / "z.txt", "I love this phone\n");
  ASSERT_EQ(run_command(std::string(SBERT_BINARY) + " nli-zeroshot -q --model " + nli.string() +
                            " --labels tech,food,sports " + (dir / "z.txt").string(),
                        &out, &err),
            0)
      << err;
  json zc = json::parse(out.substr(0, out.find('\n')));
  ASSERT_TRUE(zc.contains("labels")) << out;
  EXPECT_EQ(zc["labels"], zj["labels"]);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_NEAR(zc["scores"][i].get<double>(), zj["scores"][i].get<double>(), 1e-6);
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace

namespace {

// Runs `sbert ARGS` and returns stdout (the exit status must be 0).
std::string sbert_out(const std::string& args) {
  std::string out, err;
  EXPECT_EQ(run_command(std::string(SBERT_BINARY) + " " + args, &out, &err), 0) << args << "\n" << err;
  return out;
}

TEST(ServeClient, EmbedAndSimilarityOutputsAreByteIdentical) {
  ServerProcess server({"--model", tiny_model().string()});
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  fs::path dir = temp_dir("serve-client");
  write_file(dir / "t.txt", "A man is eating.\nA woman plays the violin.\n\nTwo dogs run on the beach.\nshort\n");
  write_file(dir / "p.csv", "a,b\nA man eats.,Someone eats.\nA dog runs.,A cat sleeps.\n\"multi\nline\",x\n");
  const std::string m = "--model " + tiny_model().string();
  const std::string t = (dir / "t.txt").string(), p = (dir / "p.csv").string();
  for (const std::string fmt : {"jsonl", "csv", "tsv"})
    EXPECT_EQ(sbert_out("embed -q " + m + " --format " + fmt + " " + t),
              sbert_out("embed -q --server " + url + " --format " + fmt + " " + t))
        << fmt;
  EXPECT_EQ(sbert_out("embed -q " + m + " --prompt 'query: ' " + t),
            sbert_out("embed -q --server " + url + " --prompt 'query: ' " + t));
  EXPECT_EQ(sbert_out("similarity -q " + m + " --a-column a --b-column b " + p),
            sbert_out("similarity -q --server " + url + " --a-column a --b-column b " + p));
  // Options that shape the model are the server's.
  std::string err;
  EXPECT_EQ(run_command(std::string(SBERT_BINARY) + " embed -q --server " + url + " --pooling cls " + t, nullptr, &err), 2);
  EXPECT_NE(err.find("cannot be used with --server"), std::string::npos) << err;
  EXPECT_EQ(server.stop(), 0);
  // Nobody listening any more: a one-line error naming the server.
  EXPECT_EQ(run_command(std::string(SBERT_BINARY) + " embed -q --server " + url + " " + t, nullptr, &err), 2);
  EXPECT_NE(err.find("--server " + url), std::string::npos) << err;
}

TEST(ServeClient, RerankNliAndZeroShotOutputsAreByteIdentical) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path ce = shared / "fixtures/models/cross-encoder-bert";
  const fs::path nli = shared / "fixtures/models/nli-bert";
  ServerProcess server({"--cross-encoder", ce.string(), "--nli", nli.string()});
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  fs::path dir = temp_dir("serve-client-cls");
  write_file(dir / "t.txt", "A man is eating.\nA woman plays the violin.\nTwo dogs run on the beach.\n");
  write_file(dir / "p.csv", "premise,hypothesis\nA man eats.,Someone eats.\nA dog runs.,A cat sleeps.\n");
  const std::string t = (dir / "t.txt").string(), p = (dir / "p.csv").string();
  EXPECT_EQ(sbert_out("rerank -q --model " + ce.string() + " --query 'A man eats.' " + t),
            sbert_out("rerank -q --server " + url + " --query 'A man eats.' " + t));
  EXPECT_EQ(sbert_out("nli-zeroshot -q --model " + nli.string() + " --labels food,sport,music " + t),
            sbert_out("nli-zeroshot -q --server " + url + " --labels food,sport,music " + t));
  const std::string cols = " --premise-column premise --hypothesis-column hypothesis ";
  EXPECT_EQ(sbert_out("nli -q --model " + nli.string() + cols + p), sbert_out("nli -q --server " + url + cols + p));
  EXPECT_EQ(sbert_out("similarity -q --cross-encoder " + ce.string() + " --a-column premise --b-column hypothesis " + p),
            sbert_out("similarity -q --server " + url + " --cross-encoder x --a-column premise --b-column hypothesis " + p));
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace

namespace {

// A real client no one here wrote: the official `openai` npm package (tests/clients, installed
// by .ci/run with npm ci), else curl.
TEST(ServeThirdPartyClient, OpenAiNodeClientOrCurlGetsTheCliVectors) {
  const fs::path clients = sbert::testing::source_dir() / "tests/clients";
  const bool have_node = run_command("command -v node >/dev/null 2>&1") == 0 &&
                         fs::exists(clients / "node_modules/openai/package.json");
  const bool have_curl = run_command("command -v curl >/dev/null 2>&1") == 0;
  if (!have_node && !have_curl)
    GTEST_SKIP() << "neither node with tests/clients/node_modules/openai (npm ci --prefix tests/clients) nor curl";
  ServerProcess server({"--model", tiny_model().string()});
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  const std::vector<std::string> texts{"A man is playing a guitar.", "한국어 문장입니다."};
  const auto want = cli_embed(tiny_model(), texts);
  std::string out, err;
  if (have_node) {
    ASSERT_EQ(run_command("node " + (clients / "openai_embeddings.mjs").string() + " " + url + " '" + texts[0] +
                              "' '" + texts[1] + "'",
                          &out, &err),
              0)
        << err;
    json j = json::parse(out);
    for (const char* k : {"float", "base64", "default"})
      EXPECT_LE(max_diff(j[k].get<std::vector<std::vector<float>>>(), want), 1e-6) << k;
    EXPECT_GT(j["usage"]["prompt_tokens"].get<int>(), 2);
    EXPECT_EQ(j["model"], "sbert");
  } else {
    fs::path body = temp_dir("serve-curl") / "body.json";
    write_file(body, json{{"input", texts}, {"model", "sbert"}}.dump());
    ASSERT_EQ(run_command("curl -sS -H 'Content-Type: application/json' --data-binary @" + body.string() + " " + url +
                              "/v1/embeddings",
                          &out, &err),
              0)
        << err;
    json j = json::parse(out);
    std::vector<std::vector<float>> got;
    for (const auto& d : j["data"]) got.push_back(d["embedding"].get<std::vector<float>>());
    EXPECT_LE(max_diff(got, want), 1e-6);
    RecordProperty("client", "curl (node or the openai package absent)");
  }
  EXPECT_EQ(server.stop(), 0);
}

}  // namespace

namespace {

TEST(ServeClient, SearchQueryThroughTheServerIsByteIdentical) {
  fs::path dir = temp_dir("serve-search");
  write_file(dir / "corpus.txt", "A man is eating food.\nA man is riding a horse.\nA woman plays the violin.\n"
                                 "Two dogs run on the beach.\nA cat sleeps on the sofa.\n");
  write_file(dir / "q.txt", "someone eats\nan animal\n");
  const std::string idx = (dir / "idx").string();
  sbert_out("search build -q --index " + idx + " --model " + tiny_model().string() + " " + (dir / "corpus.txt").string());
  ServerProcess server({"--model", tiny_model().string()});
  ASSERT_GT(server.port(), 0) << server.log();
  const std::string url = "http://127.0.0.1:" + std::to_string(server.port());
  const std::string q = " -k 3 -i " + (dir / "q.txt").string();
  EXPECT_EQ(sbert_out("search query -q --index " + idx + q), sbert_out("search query -q --server " + url + " --index " + idx + q));
  EXPECT_EQ(server.stop(), 0);
  // A server with another model is refused (the index records the model's fingerprint).
  fs::path other = temp_dir("serve-search-other") / "m";
  sbert::RandomModelSpec s;
  s.seed = 7;
  sbert::write_random_model(other, s);
  ServerProcess wrong({"--model", other.string()});
  ASSERT_GT(wrong.port(), 0) << wrong.log();
  std::string err;
  EXPECT_EQ(run_command(std::string(SBERT_BINARY) + " search query -q --server http://127.0.0.1:" +
                            std::to_string(wrong.port()) + " --index " + idx + q,
                        nullptr, &err),
            2);
  EXPECT_NE(err.find("model"), std::string::npos) << err;
  EXPECT_EQ(wrong.stop(), 0);
}

}  // namespace

// Issue 32: hostile clients. Each test sends what a probe sent and checks the answer.
namespace {

TEST_F(Serve, AHeaderFloodIs431AndTheConnectionCloses) {
  std::string many = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 5000; ++i) many += "X-Flood-" + std::to_string(i) + ": " + std::string(100, 'v') + "\r\n";
  RawReply r = raw_exchange(server_->port(), many + "\r\n");
  auto got = responses(r.bytes);
  ASSERT_EQ(got.size(), 1u) << r.bytes.substr(0, 200);
  EXPECT_EQ(got[0].status, 431);
  EXPECT_TRUE(r.closed);
  // Few headers but too many bytes (20 x 4 KB > 64 KB), and too many small ones (150 > 100).
  std::string big = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 20; ++i) big += "X-Big-" + std::to_string(i) + ": " + std::string(4000, 'v') + "\r\n";
  got = responses(raw_exchange(server_->port(), big + "\r\n").bytes);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 431);
  std::string count = "GET /health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 150; ++i) count += "X-N-" + std::to_string(i) + ": v\r\n";
  got = responses(raw_exchange(server_->port(), count + "\r\n").bytes);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 431);
  // Within the limits: answered.
  std::string fine = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  for (int i = 0; i < 50; ++i) fine += "X-Ok-" + std::to_string(i) + ": v\r\n";
  got = responses(raw_exchange(server_->port(), fine + "\r\n").bytes);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 200);
}

TEST_F(Serve, PipelinedRequestsAreAllAnsweredInOrder) {
  const std::string body = json{{"inputs", "hello"}}.dump();
  const std::string three = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + post_text("/embed", body) +
                            "GET /info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  RawReply r = raw_exchange(server_->port(), three);
  auto got = responses(r.bytes);
  ASSERT_EQ(got.size(), 3u) << r.bytes;
  EXPECT_EQ(got[0].status, 200);
  EXPECT_EQ(got[0].body, "");
  EXPECT_EQ(got[1].status, 200);
  EXPECT_EQ(json::parse(got[1].body).size(), 1u) << got[1].body;
  EXPECT_EQ(got[2].status, 200);
  EXPECT_EQ(json::parse(got[2].body)["model_id"], tiny_model().string());
  EXPECT_TRUE(r.closed);
  // Ten at once, all answered.
  std::string ten;
  for (int i = 0; i < 9; ++i) ten += post_text("/embed", json{{"inputs", "text " + std::to_string(i)}}.dump());
  ten += "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  got = responses(raw_exchange(server_->port(), ten).bytes);
  ASSERT_EQ(got.size(), 10u);
  for (const auto& g : got) EXPECT_EQ(g.status, 200) << g.body;
}

TEST_F(Serve, SmugglingFramesAndOverflowingNumbersAre400) {
  const int port = server_->port();
  auto status_of = [&](const std::string& request) {
    auto got = responses(raw_exchange(port, request).bytes);
    return got.empty() ? -1 : got[0].status;
  };
  const std::string ok = json{{"inputs", "a"}}.dump();
  expect_error(server_->client().Post("/embed", "{\"inputs\": \"a\", \"x\": 1e99999}", "application/json"), 400);
  EXPECT_EQ(status_of(post_text("/embed", ok, "Connection: close\r\n")), 200);
  EXPECT_EQ(status_of(post_text("/embed", ok, "Content-Length: " + std::to_string(ok.size()) + "\r\n")), 400)
      << "two equal Content-Length headers";
  EXPECT_EQ(status_of(post_text("/embed", ok, "Content-Length: 3\r\n")), 400) << "two Content-Length headers";
  EXPECT_EQ(status_of(post_text("/embed", ok, "Transfer-Encoding: chunked\r\n")), 400) << "Content-Length + TE";
  const std::string chunked = "POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: " +
                              std::to_string(ok.size()) + "\r\n\r\n" + ok;
  EXPECT_EQ(status_of(chunked), 400) << "TE + Content-Length";
  EXPECT_EQ(status_of("POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + ok), 400);
  // A well-formed chunked body is read.
  char size[16];
  std::snprintf(size, sizeof size, "%zx", ok.size());
  EXPECT_EQ(status_of("POST /embed HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" +
                      std::string(size) + "\r\n" + ok + "\r\n0\r\n\r\n"),
            200);
}

TEST_F(Serve, MetricsAreLabelledByRouteAndCannotBeForged) {
  const int port = server_->port();
  auto get = [&](const std::string& target) {
    return raw_exchange(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  };
  get("/a%0Afake_metric%7Bx%3D%221%22%7D%201");
  get("/b%22%7D%201%0Afake_metric%201");
  auto series = [&] {
    auto m = server_->client().Get("/metrics");
    EXPECT_TRUE(m);
    size_t n = 0;
    std::istringstream lines(m ? m->body : "");
    for (std::string line; std::getline(lines, line);) {
      EXPECT_NE(line.rfind("fake_metric", 0), 0u) << line;
      // /metrics's own series appears once its first answer is counted (after it was sent): not
      // what this test is about.
      if (line.rfind("sbert_requests_total{", 0) == 0 && line.find("route=\"/metrics\"") == std::string::npos) ++n;
    }
    EXPECT_NE(m->body.find("sbert_requests_total{route=\"other\",status=\"404\"}"), std::string::npos) << m->body;
    return n;
  };
  const size_t before = series();
  for (int i = 0; i < 40; ++i) get("/unknown-" + std::to_string(i));
  EXPECT_EQ(series(), before) << "each unknown path added a series";
}

TEST_F(Serve, TokenizeHasTheRequestTokenBudget) {
  auto c = server_->client();
  std::string words;
  for (int i = 0; i < 600; ++i) words += "word ";  // 600 tokens > 16 inputs x 32 tokens
  expect_error(post(c, "/tokenize", {{"inputs", words}}), 413, "tokens");
  auto ok = post(c, "/tokenize", {{"inputs", "a few words"}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST(ServeLimits, AChunkedBodyPastTheLimitIs413BeforeItEnds) {
  ServerProcess server({"--model", tiny_model().string(), "--max-body-bytes", "65536"});
  ASSERT_GT(server.port(), 0) << server.log();
  int fd = connect_raw(server.port());
  ASSERT_GE(fd, 0);
  const std::string head = "POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_GT(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), 0);
  const std::string chunk = "2000\r\n" + std::string(0x2000, 'a') + "\r\n";
  const size_t total = 16 * 1024 * 1024;
  size_t sent = 0;
  std::string reply;
  char buf[4096];
  while (sent < total) {
    if (::send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL) <= 0) break;
    sent += 0x2000;
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) reply.append(buf, static_cast<size_t>(n));
    if (reply.find("\r\n\r\n") != std::string::npos) break;
  }
  for (int i = 0; i < 25 && reply.find("\r\n\r\n") == std::string::npos; ++i) {  // up to 5 s
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) reply.append(buf, static_cast<size_t>(n));
    if (n == 0) break;
  }
  ::close(fd);
  auto got = responses(reply);
  ASSERT_EQ(got.size(), 1u) << reply.substr(0, 300);
  EXPECT_EQ(got[0].status, 413) << got[0].body;
  EXPECT_LT(sent, total) << "the whole body was read before the answer";
  auto h = server.client().Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeLimits, SlowBodiesAreCutOffAndHealthAnswersMeanwhile) {
  // Long enough that only the whole-request limit (not a per-read one) can end the crawl.
  ServerProcess server({"--model", tiny_model().string(), "--request-timeout", "2", "--http-threads", "2"});
  ASSERT_GT(server.port(), 0) << server.log();
  std::atomic<int> cut{0}, timed_out{0};
  std::vector<std::thread> crawlers;
  for (int k = 0; k < 6; ++k)
    crawlers.emplace_back([&] {
      int fd = connect_raw(server.port());
      if (fd < 0) return;
      const std::string head = "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n";
      ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
      std::string reply;
      const auto start = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) {
        if (::send(fd, "a", 1, MSG_NOSIGNAL) <= 0) break;
        char buf[512];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);  // waits up to 0.2 s
        if (n > 0) reply.append(buf, static_cast<size_t>(n));
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) break;
      }
      ::close(fd);
      if (std::chrono::steady_clock::now() - start < std::chrono::seconds(20)) ++cut;
      if (reply.rfind("HTTP/1.1 408", 0) == 0) ++timed_out;
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto c = server.client();
  c.set_read_timeout(5, 0);
  auto h = c.Get("/health");
  EXPECT_TRUE(h) << "health did not answer while slow clients were connected";
  if (h) EXPECT_EQ(h->status, 200);
  for (auto& t : crawlers) t.join();
  EXPECT_EQ(cut.load(), 6) << "a slow body was not cut off within 20 s";
  EXPECT_EQ(timed_out.load(), 6) << "a slow body was cut off without a 408";
  EXPECT_EQ(server.stop(), 0) << server.log();
}

TEST(ServeAuth, UnknownRoutesNeedTheKeyToo) {
  ServerProcess server({"--model", tiny_model().string(), "--api-key", "s3cret"});
  ASSERT_GT(server.port(), 0) << server.log();
  auto c = server.client();
  expect_error(c.Get("/nowhere"), 401);
  expect_error(c.Post("/nowhere", "{}", "application/json"), 401);
  expect_error(c.Get("/embed"), 401);  // a wrong method does not reveal the route either
  expect_error(c.Get("/metrics"), 401);
  httplib::Headers right{{"Authorization", "Bearer s3cret"}};
  expect_error(c.Get("/nowhere", right), 404);
  auto m = c.Get("/metrics", right);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_EQ(server.stop(), 0);
}

TEST(ServeShutdown, SigtermUnderLoadGivesEveryConnectionAnAnswerOrA503) {
  auto server = std::make_unique<ServerProcess>(std::vector<std::string>{"--model", tiny_model().string()});
  ASSERT_GT(server->port(), 0) << server->log();
  const int port = server->port();
  const std::string request = post_text("/embed", json{{"inputs", sentences()}, {"truncate", true}}.dump());
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, refused{0}, unreachable{0}, lost{0};
  std::mutex mu;
  std::string first_lost;
  std::vector<std::thread> clients;
  for (int t = 0; t < 32; ++t)
    clients.emplace_back([&] {
      while (!stop) {
        int fd = connect_raw(port);
        if (fd < 0) {  // nobody listening: nothing was accepted, a clean refusal
          ++unreachable;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        timeval tv{10, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        // Keep-alive requests on one connection until it is closed.
        for (int k = 0; k < 4 && !stop; ++k) {
          if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != ssize_t(request.size())) {
            ++lost;  // accepted, then not even the request could be sent
            break;
          }
          std::string raw;
          char buf[65536];
          std::vector<RawResponse> got;
          while (got.empty()) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            raw.append(buf, static_cast<size_t>(n));
            got = responses(raw);
          }
          if (got.empty()) {  // a reset, or closed without an answer
            ++lost;
            std::lock_guard<std::mutex> lock(mu);
            if (first_lost.empty())
              first_lost = "request " + std::to_string(k) + " of its connection: errno " + std::to_string(errno) +
                           ", got: " + raw.substr(0, 100);
            break;
          }
          if (got[0].status == 200) ++served;
          else if (got[0].status == 503) ++refused;
          else {
            ++lost;
            break;
          }
          if (got[0].headers.find("Connection: close") != std::string::npos) break;
        }
        ::close(fd);
      }
    });
  for (int i = 0; i < 200 && served < 50; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(server->stop(), 0) << server->log();
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_GE(served.load(), 50);
  EXPECT_EQ(lost.load(), 0) << first_lost;
}

}  // namespace

namespace {

TEST(ServeLimits, PastMaxConnectionsANewConnectionGets503) {
  ServerProcess server({"--model", tiny_model().string(), "--max-connections", "2"});
  ASSERT_GT(server.port(), 0) << server.log();
  int a = connect_raw(server.port()), b = connect_raw(server.port());
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // both accepted (no bytes yet)
  auto got = responses(raw_exchange(server.port(), "GET /health HTTP/1.1\r\nHost: x\r\n\r\n").bytes);
  ::close(a);
  ::close(b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 503);
  // Room again: served.
  for (int i = 0; i < 50; ++i) {
    got = responses(raw_exchange(server.port(), "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").bytes);
    if (!got.empty() && got[0].status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 200);
  EXPECT_EQ(server.stop(), 0);
}

TEST_F(Serve, ExpectContinueGetsA100ThenTheAnswer) {
  int fd = connect_raw(server_->port());
  ASSERT_GE(fd, 0);
  const std::string body = json{{"inputs", "hello"}}.dump();
  const std::string head = "POST /embed HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nConnection: close\r\n"
                           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_GT(::send(fd, head.data(), head.size(), MSG_NOSIGNAL), 0);
  std::string got;
  char buf[4096];
  for (int i = 0; i < 25 && got.find("\r\n\r\n") == std::string::npos; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_GT(::send(fd, body.data(), body.size(), MSG_NOSIGNAL), 0);
  std::string rest;
  for (int i = 0; i < 50; ++i) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) rest.append(buf, static_cast<size_t>(n));
    if (n == 0) break;
  }
  ::close(fd);
  auto r = responses(rest);
  ASSERT_EQ(r.size(), 1u) << rest;
  EXPECT_EQ(r[0].status, 200);
}

}  // namespace
