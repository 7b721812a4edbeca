// HttpServer: an epoll event thread owns every connection and its RequestReader; workers only
// run handlers and write answers. Connection states: Reading (the event thread reads and parses;
// its deadlines are checked every tick), Busy (a worker holds it; the socket is out of epoll, so
// pipelined bytes wait in the kernel), Closing (a FIN was sent; what the peer still sends is read
// and dropped until its EOF or a deadline, so closing never turns into a reset that could eat
// the answer just written).
#include "serve/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <linux/filter.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "sbert/error.h"

namespace sbert::serve {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kReadPerEvent = 4 * kReadChunk;  // fairness between connections
constexpr auto kTick = std::chrono::milliseconds(100);
constexpr auto kLinger = std::chrono::seconds(2);      // Closing: wait this long for the peer's EOF
constexpr auto kStopGrace = std::chrono::milliseconds(500);  // stop(): idle connections may still send one
constexpr auto kHandshakeGrace = std::chrono::milliseconds(50);  // stop(): handshakes under way complete

// Closing a listener resets every connection whose handshake completes between the last accept()
// and close(): a client that had connected would see its first request reset. So stop() first
// makes the listener drop new SYNs (a socket filter on the TCP flags; the kernel runs it on every
// segment for the listener, data starting at the TCP header), lets the handshakes under way
// finish, accepts what is queued and only then closes. A dropped SYN is retried by the client
// after a second and then refused: nothing was accepted, nothing is lost.
bool refuse_new_handshakes(int listen_fd) {
  static sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 13),            // the TCP flags byte
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x02, 0, 1),  // SYN?
      BPF_STMT(BPF_RET | BPF_K, 0),                      // drop it
      BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),            // everything else passes whole
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  return ::setsockopt(listen_fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) == 0;
}

// Writes all of `data` on a non-blocking socket: each wait for room is bounded by timeout_s, the
// whole answer by total_s (a client reading a byte now and then cannot keep a worker).
bool write_all(int fd, const std::string& data, int timeout_s, int total_s) {
  const auto deadline = Clock::now() + std::chrono::seconds(total_s);
  size_t done = 0;
  while (done < data.size()) {
    if (Clock::now() > deadline) return false;
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      const int r = ::poll(&p, 1, timeout_s * 1000);
      if (r <= 0 || (p.revents & (POLLERR | POLLHUP))) return false;
      continue;
    }
    return false;
  }
  return true;
}

}  // namespace

struct HttpServer::Impl {
  HttpServerOptions options;
  Handler handler;
  std::function<bool(const HttpRequest&)> reserved;
  int listen_fd = -1, epoll_fd = -1, wake_fd = -1;
  bool accept_paused = false;
  std::atomic<bool> stopping{false};

  enum class State { Reading, Busy, Closing };
  struct Conn {
    int fd = -1;
    std::string addr;
    int port = 0;
    RequestReader reader;
    State state = State::Reading;
    Clock::time_point idle_since, request_start, last_byte, closing_deadline;
    bool peer_closed = false;
    explicit Conn(const HttpLimits& l) : reader(l) {}
  };
  std::unordered_map<int, std::unique_ptr<Conn>> conns;  // event thread only

  struct Job {
    Conn* conn;
    HttpRequest request;
  };
  // A worker lane: the pool, or the reserved thread.
  struct Lane {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Job> jobs;
    bool quit = false;
    std::vector<std::thread> threads;
  };
  Lane pool, reserve;

  std::mutex back_mu;
  std::vector<std::pair<Conn*, bool>> back;  // answered: (connection, close it)

  Impl(HttpServerOptions o, Handler h, std::function<bool(const HttpRequest&)> r)
      : options(std::move(o)), handler(std::move(h)), reserved(std::move(r)) {}

  ~Impl() {
    for (auto& [fd, c] : conns) ::close(fd);
    for (int fd : {listen_fd, epoll_fd, wake_fd})
      if (fd >= 0) ::close(fd);
  }

  void wake() {
    const uint64_t one = 1;
    if (::write(wake_fd, &one, sizeof one) < 0) {
    }
  }

  // ---- workers ----
  void work(Lane& lane) {
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(lane.mu);
        lane.cv.wait(lock, [&] { return lane.quit || !lane.jobs.empty(); });
        if (lane.jobs.empty()) return;
        job = std::move(lane.jobs.front());
        lane.jobs.pop_front();
      }
      HttpResponse res;
      try {
        handler(job.request, res);
      } catch (const std::exception& e) {
        res = error_response(500, std::string("internal error: ") + e.what(), "Backend");
      }
      const bool keep = job.request.keep_alive && !res.close && !stopping;
      std::string bytes = serialize(res, keep);
      if (job.request.method == "HEAD") bytes.resize(bytes.size() - res.body.size());  // head only
      const bool written = write_all(job.conn->fd, bytes, options.write_timeout_s,
                                     options.write_timeout_s + options.request_timeout_s);
      {
        std::lock_guard<std::mutex> lock(back_mu);
        back.emplace_back(job.conn, !keep || !written);
      }
      wake();
    }
  }

  void start_lane(Lane& lane, size_t n) {
    for (size_t i = 0; i < n; ++i) lane.threads.emplace_back([this, &lane] { work(lane); });
  }
  void stop_lane(Lane& lane) {
    {
      std::lock_guard<std::mutex> lock(lane.mu);
      lane.quit = true;
    }
    lane.cv.notify_all();
    for (auto& t : lane.threads) t.join();
    lane.threads.clear();
  }

  // ---- event thread ----
  void watch(Conn& c, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = c.fd;
    ::epoll_ctl(epoll_fd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, c.fd, &ev);
  }

  void close_conn(int fd) {
    auto it = conns.find(fd);
    if (it == conns.end()) return;
    if (it->second->state != State::Busy) ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns.erase(it);
  }

  // FIN now, the socket itself once the peer is done (or after kLinger).
  void begin_closing(Conn& c) {
    ::shutdown(c.fd, SHUT_WR);
    c.state = State::Closing;
    c.closing_deadline = Clock::now() + kLinger;
  }

  // A small answer written by the event thread itself (the send buffer of a Reading connection
  // is empty, so it fits), then the connection is closed: malformed or oversized requests and
  // timeouts never take a worker.
  void answer_and_close(Conn& c, const HttpResponse& res) {
    const std::string bytes = serialize(res, false);
    if (::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    }
    begin_closing(c);
  }

  void dispatch(Conn& c, HttpRequest req) {
    req.remote_addr = c.addr;
    req.remote_port = c.port;
    if (c.peer_closed || stopping) req.keep_alive = false;
    c.state = State::Busy;
    watch(c, false);
    Lane& lane = reserved && reserved(req) ? reserve : pool;
    {
      std::lock_guard<std::mutex> lock(lane.mu);
      lane.jobs.push_back(Job{&c, std::move(req)});
    }
    lane.cv.notify_one();
  }

  // Parses what is buffered: at most one request goes out (the next waits for its answer).
  // Returns false when the connection was closed.
  bool parse(Conn& c) {
    HttpRequest req;
    HttpResponse err;
    const RequestReader::State s = c.reader.next(req, err);
    if (c.reader.take_continue()) {
      static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
      if (::send(c.fd, kContinue, sizeof kContinue - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
      }
    }
    switch (s) {
      case RequestReader::State::Request:
        dispatch(c, std::move(req));
        return true;
      case RequestReader::State::Error:
        answer_and_close(c, err);
        return true;
      case RequestReader::State::NeedMore:
        if (c.peer_closed) {
          close_conn(c.fd);
          return false;
        }
        return true;
    }
    return true;
  }

  void on_readable(Conn& c) {
    char buf[kReadChunk];
    size_t total = 0;
    if (c.state == State::Closing) {  // drop what the peer still sends until its EOF
      while (true) {
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_conn(c.fd);
        return;
      }
    }
    while (total < kReadPerEvent) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        const auto now = Clock::now();
        if (!c.reader.in_request()) c.request_start = now;
        c.last_byte = now;
        c.reader.append(buf, static_cast<size_t>(n));
        total += static_cast<size_t>(n);
        // Parse as bytes come: a header flood or an oversized body is refused at its limit,
        // not after it has been buffered.
        if (!parse(c) || c.state != State::Reading) return;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      // EOF (or a reset): answer a request that is already whole, else close.
      c.peer_closed = true;
      if (n < 0 || !c.reader.in_request()) {
        close_conn(c.fd);
        return;
      }
      parse(c);
      return;
    }
  }

  void accept_all() {
    while (true) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK && !accept_paused) {
          // Out of descriptors (or memory): the listener stays readable, so leave it out of
          // epoll until the next tick instead of spinning on it.
          ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
          accept_paused = true;
        }
        return;
      }
      int yes = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
      auto c = std::make_unique<Conn>(options.limits);
      c->fd = fd;
      char addr[INET6_ADDRSTRLEN] = {0};
      if (peer.ss_family == AF_INET) {
        auto* p4 = reinterpret_cast<sockaddr_in*>(&peer);
        ::inet_ntop(AF_INET, &p4->sin_addr, addr, sizeof addr);
        c->port = ntohs(p4->sin_port);
      } else if (peer.ss_family == AF_INET6) {
        auto* p6 = reinterpret_cast<sockaddr_in6*>(&peer);
        ::inet_ntop(AF_INET6, &p6->sin6_addr, addr, sizeof addr);
        c->port = ntohs(p6->sin6_port);
      }
      c->addr = addr;
      c->idle_since = Clock::now();
      Conn& ref = *c;
      const bool full = conns.size() >= options.max_connections;
      conns.emplace(fd, std::move(c));
      watch(ref, true);
      if (full) answer_and_close(ref, error_response(503, "too many open connections", "Overloaded"));
    }
  }

  void take_back() {
    std::vector<std::pair<Conn*, bool>> done;
    {
      std::lock_guard<std::mutex> lock(back_mu);
      done.swap(back);
    }
    const auto now = Clock::now();
    for (auto [c, close] : done) {
      watch(*c, true);
      if (close) {
        begin_closing(*c);
        continue;
      }
      c->state = State::Reading;
      c->idle_since = now;
      if (c->reader.in_request()) c->request_start = c->last_byte = now;  // pipelined: the next one
      parse(*c);
    }
  }

  void tick(Clock::time_point stop_time) {
    const auto now = Clock::now();
    const auto request_limit = std::chrono::seconds(std::max(options.request_timeout_s, 1));
    const auto gap_limit = std::chrono::seconds(std::max(options.read_timeout_s, 1));
    const auto idle_limit = std::chrono::seconds(std::max(options.keep_alive_s, 1));
    std::vector<int> expired;
    for (auto& [fd, cp] : conns) {
      Conn& c = *cp;
      if (c.state == State::Closing) {
        if (now > c.closing_deadline) expired.push_back(fd);
      } else if (c.state == State::Reading) {
        if (c.reader.in_request()) {
          if (now - c.request_start > request_limit || now - c.last_byte > gap_limit) {
            HttpResponse r = error_response(408, "the request did not arrive whole within " +
                                                     std::to_string(options.request_timeout_s) + " s",
                                            "Validation");
            answer_and_close(c, r);
          }
        } else if (now - c.idle_since > idle_limit ||
                   (stopping && now - stop_time > kStopGrace && now - c.idle_since > kStopGrace)) {
          // Idle (a client that keeps sending gets its next answer, a 503 with
          // "Connection: close", first): FIN, and what still comes is read and dropped.
          begin_closing(c);
        }
      }
    }
    for (int fd : expired) close_conn(fd);
  }

  void loop() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listen_fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &ev);
    ev.data.fd = wake_fd;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
    bool listening = true, refusing = false;
    Clock::time_point stop_time{}, last_tick = Clock::now(), close_listener_at{};
    std::vector<epoll_event> events(256);
    while (true) {
      if (stopping && listening && !refusing) {
        refusing = true;
        close_listener_at = refuse_new_handshakes(listen_fd) ? Clock::now() + kHandshakeGrace : Clock::now();
      }
      if (refusing && listening && Clock::now() >= close_listener_at) {
        // Everything the kernel already accepted gets read and answered; then no more.
        accept_all();
        if (!accept_paused) ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, listen_fd, nullptr);
        ::close(listen_fd);
        listen_fd = -1;
        listening = false;
        stop_time = Clock::now();
      }
      if (!listening && conns.empty()) return;
      auto wait = kTick;
      if (refusing && listening)
        wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(close_listener_at - Clock::now()) +
                                  std::chrono::milliseconds(1));
      const int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(std::max<int64_t>(wait.count(), 0)));
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_fd) {
          accept_all();
        } else if (fd == wake_fd) {
          uint64_t v;
          if (::read(wake_fd, &v, sizeof v) < 0) {
          }
          take_back();
        } else {
          auto it = conns.find(fd);
          if (it != conns.end() && it->second->state != State::Busy) on_readable(*it->second);
        }
      }
      if (Clock::now() - last_tick >= kTick) {
        last_tick = Clock::now();
        if (listening && accept_paused) {  // after running out of descriptors
          accept_paused = false;
          epoll_event lev{};
          lev.events = EPOLLIN;
          lev.data.fd = listen_fd;
          ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, listen_fd, &lev);
        }
        tick(stop_time);
      }
    }
  }
};

HttpServer::HttpServer(HttpServerOptions options, Handler handler, std::function<bool(const HttpRequest&)> reserved)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler), std::move(reserved))) {}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  Impl& m = *impl_;
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  const std::string port = std::to_string(m.options.port);
  const std::string where = m.options.host + ":" + port;
  if (::getaddrinfo(m.options.host.empty() ? nullptr : m.options.host.c_str(), port.c_str(), &hints, &res) != 0)
    throw Error("cannot listen on " + where + " (unknown address)");
  int fd = -1;
  for (addrinfo* a = res; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, SOMAXCONN) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(res);
  if (fd < 0) throw Error("cannot listen on " + where + " (address in use or not available)");
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len);
  const int bound = local.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port)
                                                : ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  m.listen_fd = fd;
  m.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  m.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m.epoll_fd < 0 || m.wake_fd < 0) throw Error("cannot set up the server's event loop");
  return bound;
}

void HttpServer::run() {
  Impl& m = *impl_;
  if (m.listen_fd < 0) throw Error("HttpServer::run before bind");
  m.start_lane(m.pool, std::max<size_t>(m.options.threads, 1));
  m.start_lane(m.reserve, 1);
  m.loop();
  m.stop_lane(m.pool);
  m.stop_lane(m.reserve);
}

void HttpServer::stop() {
  impl_->stopping = true;
  if (impl_->wake_fd >= 0) impl_->wake();
}

}  // namespace sbert::serve
