// sbert serve: load models once and answer HTTP requests (text-embeddings-inference and OpenAI
// routes, dynamic batching) until SIGTERM/SIGINT; see sbert/server.h.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>

#include <cstdlib>
#include <fstream>
#include <thread>

#include "classifier_options.h"
#include "cli_common.h"
#include "command.h"
#include "sbert/error.h"
#include "sbert/output_file.h"
#include "sbert/search_index.h"
#include "sbert/server.h"

namespace sbert::cli {
namespace {

struct ServeArgs {
  ModelOptions model;  // runtime options shared by every model
  std::vector<std::string> embedders;
  std::string cross_encoder, nli, port_file;
  ServerOptions server;
};

int g_stop_pipe[2] = {-1, -1};

extern "C" void on_stop_signal(int sig) {
  static volatile sig_atomic_t seen = 0;
  if (seen++ > 0) ::_exit(128 + sig);  // a second signal: stop now
  const unsigned char s = static_cast<unsigned char>(sig);
  if (::write(g_stop_pipe[1], &s, 1) < 0) {
  }
}

// "NAME=MODEL" or "MODEL" (named after itself).
std::pair<std::string, std::string> named(const std::string& spec) {
  const auto eq = spec.find('=');
  if (eq == std::string::npos) return {spec, spec};
  if (eq == 0 || eq + 1 == spec.size()) throw Error("--model '" + spec + "': expected NAME=MODEL");
  return {spec.substr(0, eq), spec.substr(eq + 1)};
}

int run_serve(ServeArgs& a) {
  if (a.embedders.empty() && a.cross_encoder.empty() && a.nli.empty())
    throw Error("nothing to serve: give --model (embeddings), --cross-encoder and/or --nli");
  if (a.server.api_key.empty())
    if (const char* k = std::getenv("SBERT_API_KEY"); k && *k) a.server.api_key = k;

  // NAME=MODEL -> (name, the runtime options with that model).
  auto model_options = [&](const std::string& spec) {
    auto [name, path] = named(spec);
    ModelOptions m = a.model;
    m.model = path;
    return std::make_pair(name, m);
  };
  ServedModels models;
  for (const std::string& spec : a.embedders) {
    auto [name, m] = model_options(spec);
    for (const auto& e : models.embedders)
      if (e.name == name) throw Error("--model: the name '" + name + "' is given twice");
    log("loading " + name);
    const auto folder = m.resolve();
    models.embedders.push_back({name, SentenceEncoder::load(folder, m.encoder_options()), model_fingerprint(folder)});
  }
  if (!a.cross_encoder.empty()) {
    auto [name, m] = model_options(a.cross_encoder);
    log("loading cross-encoder " + name);
    models.reranker_name = name;
    models.reranker = CrossEncoder::load(m.resolve(), classifier_options(m));
  }
  if (!a.nli.empty()) {
    auto [name, m] = model_options(a.nli);
    log("loading classifier " + name);
    models.classifier_name = name;
    models.classifier = SequenceClassifier::load(m.resolve(), classifier_options(m));
  }
  if (verbosity() == Verbosity::Verbose) a.server.log_request = [](const std::string& line) { verbose(line); };

  // Connections cost a descriptor each: use the hard limit (often 1024 soft, far more hard).
  if (rlimit nofile{}; ::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  Server server(std::move(models), a.server);
  const int port = server.bind();
  if (!a.port_file.empty()) {
    AtomicOutput f(a.port_file);
    f.write(std::to_string(port) + "\n");
    f.commit();
  }
  log("listening on http://" + a.server.host + ":" + std::to_string(port));
  // SIGTERM / SIGINT: the handler only writes the signal number to a pipe; a watcher thread
  // reads it and drains the server (installed after the port file, whose writer has its own).
  if (::pipe(g_stop_pipe) != 0) throw Error("cannot create the signal pipe");
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  std::thread watcher([&] {
    unsigned char sig = 0;
    while (::read(g_stop_pipe[0], &sig, 1) < 0 && errno == EINTR) {
    }
    if (sig == 0) return;  // woken by run() returning on its own
    log(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": finishing admitted requests");
    server.shutdown();
  });
  server.run();
  const unsigned char wake = 0;
  if (::write(g_stop_pipe[1], &wake, 1) < 0) {
  }
  watcher.join();
  log("stopped");
  return 0;
}

std::function<int()> setup_serve(CLI::App& app) {
  auto a = std::make_shared<ServeArgs>();
  auto* sub = app.add_subcommand(
      "serve", "Serve models over HTTP (text-embeddings-inference and OpenAI routes) with dynamic batching");
  sub->add_option("-m,--model", a->embedders,
                  "Embedding model folder or Hugging Face name, NAME=MODEL to name it (repeatable; the first is "
                  "the default)");
  sub->add_option("--cross-encoder", a->cross_encoder, "Cross-encoder for POST /rerank ([NAME=]MODEL)");
  sub->add_option("--nli", a->nli, "NLI / sequence classifier for /predict and /zero-shot ([NAME=]MODEL)");
  a->model.add_runtime_to(sub);
  ServerOptions& s = a->server;
  sub->add_option("--host", s.host, "Address to listen on")->capture_default_str();
  sub->add_option("--port", s.port, "Port (0: any free port; see --port-file)")->capture_default_str()
      ->check(CLI::Range(0, 65535));
  sub->add_option("--port-file", a->port_file, "Write the port listened on to this file");
  sub->add_option("--api-key", s.api_key, "Require 'Authorization: Bearer KEY' (default: $SBERT_API_KEY)");
  sub->add_option("--max-batch-tokens", s.max_batch_tokens, "Tokens merged into one model call")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--max-concurrent-requests", s.max_concurrent_requests,
                  "Requests admitted at once; past it the answer is 429")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--max-client-batch-size", s.max_client_batch_size, "Inputs per request; past it 413")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--max-request-tokens", s.max_request_tokens,
                  "Tokens per request on every route, /tokenize included; past it 413 (0: max-client-batch-size x "
                  "the model's max input length)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  sub->add_option("--max-body-bytes", s.max_body_bytes, "Largest request body, chunked or not; past it 413")
      ->capture_default_str()->check(CLI::PositiveNumber);
  sub->add_option("--max-headers", s.max_headers, "Request header lines; past it 431 and the connection closes")
      ->capture_default_str()->check(CLI::Range(1, 100000));
  sub->add_option("--max-header-bytes", s.max_header_bytes,
                  "Bytes of request line + headers; past it 431 and the connection closes")
      ->capture_default_str()->check(CLI::Range(256, 64 * 1024 * 1024));
  sub->add_option("--max-connections", s.max_connections, "Open connections; past it new ones get 503")
      ->capture_default_str()->check(CLI::Range(1, 1000000));
  sub->add_option("--http-threads", s.http_threads,
                  "Requests handled at once (reading requests takes no thread; /health has its own)")
      ->capture_default_str()->check(CLI::Range(2, 4096));
  sub->add_option("--request-timeout", s.request_timeout_s,
                  "Seconds a request (headers and body) may take to arrive whole; past it 408 and close")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  sub->add_option("--read-timeout", s.read_timeout_s,
                  "Seconds a request may pause between bytes, and one write of an answer may wait")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  sub->add_option("--keep-alive", s.keep_alive_s, "Seconds an idle connection is kept open")
      ->capture_default_str()->check(CLI::Range(1, 3600));
  return [a] {
    a->server.write_timeout_s = a->server.read_timeout_s;
    return run_serve(*a);
  };
}

SBERT_COMMAND("serve", setup_serve);

}  // namespace
}  // namespace sbert::cli
