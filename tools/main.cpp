// sbert: sentence embeddings and similarity at the shell. Subcommands live in tools/cmd_*.cpp.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iostream>

#include "cli_common.h"
#include "command.h"
#include "sbert/error.h"
#include "sbert/version.h"

namespace sbert::cli {
std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

namespace {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// "unknown command 'embedd' (did you mean 'embed'?)"
std::string unknown_command(const std::string& given) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& e : command_registry()) {
    size_t d = edit_distance(given, e.name);
    if (d < best_d) best_d = d, best = e.name;
  }
  std::string msg = "unknown command '" + given + "'";
  if (!best.empty() && best_d <= std::max<size_t>(2, given.size() / 3)) msg += " (did you mean '" + best + "'?)";
  return msg + "; run 'sbert --help' for the list";
}

// CLI11's messages can span lines; sbert errors are one line.
std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

}  // namespace
}  // namespace sbert::cli

int main(int argc, char** argv) {
  using namespace sbert::cli;
  // A closed pipe (`sbert embed big.txt | head -1`) surfaces as EPIPE from writes; the output
  // layer turns that into a quiet exit instead of a signal death mid-write.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"sbert: sentence embeddings, similarity, zero-shot labels, clustering and search"};
  app.name("sbert");
  app.formatter(std::make_shared<HelpFormatter>());  // before the subcommands: they copy it
  app.set_version_flag("--version", std::string("sbert ") + SBERT_VERSION_STRING);
  app.require_subcommand(1);
  app.fallthrough();  // -q / -v are accepted after the subcommand too
  bool quiet = false, verbose_flag = false;
  app.add_flag("-q,--quiet", quiet, "No progress or log lines on stderr (results asked for still print)");
  app.add_flag("-v,--verbose", verbose_flag, "More detail on stderr (runtime set-up: BLAS kernel, threads)");

  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, std::function<int()>>> runners;
  for (auto& entry : registry) {
    size_t before = app.get_subcommands({}).size();
    auto run = entry.setup(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) runners.emplace_back(subs.back(), std::move(run));
  }

  // The first word that is not an option names the command.
  for (int i = 1; i < argc; ++i) {
    std::string w = argv[i];
    if (w.empty() || w[0] == '-') continue;
    bool known = std::any_of(registry.begin(), registry.end(), [&](const auto& e) { return e.name == w; });
    if (!known) {
      std::cerr << "sbert: error: " << unknown_command(w) << "\n";
      return 2;
    }
    break;
  }
  // CLI11 2.1 reads "-1" into an unsigned option as 2^64-1: refuse negatives everywhere.
  std::function<void(CLI::App*)> no_negative_unsigned = [&](CLI::App* a) {
    for (CLI::Option* o : a->get_options())
      if (o->get_type_name().rfind("UINT", 0) == 0) o->check(CLI::NonNegativeNumber);
    for (CLI::App* s : a->get_subcommands({})) no_negative_unsigned(s);
  };
  no_negative_unsigned(&app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // The hint names the deepest subcommand given (`sbert search remove --help`).
    std::string where;
    for (CLI::App* a = &app;;) {
      CLI::App* next = nullptr;
      for (CLI::App* s : a->get_subcommands({}))
        if (s->parsed()) next = s;
      if (!next) break;
      where += " " + next->get_name();
      a = next;
    }
    std::cerr << "sbert: error: " << one_line(e.what()) << " (see 'sbert" << where << " --help')\n";
    return 2;
  }
  set_verbosity(quiet ? Verbosity::Quiet : verbose_flag ? Verbosity::Verbose : Verbosity::Normal);

  try {
    for (auto& [sub, run] : runners) {
      if (sub->parsed()) return run();
    }
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << "sbert: error: " << one_line(e.what()) << "\n";
    return 2;
  }
  return 2;
}
