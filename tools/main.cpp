// sbert: sentence embeddings and similarity at the shell. Subcommands live in tools/cmd_*.cpp.
#include <csignal>
#include <cstdio>
#include <functional>
#include <iostream>

#include "command.h"
#include "sbert/error.h"
#include "sbert/version.h"

namespace sbert::cli {
std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> registry;
  return registry;
}
}  // namespace sbert::cli

int main(int argc, char** argv) {
  // A closed pipe (`sbert embed big.txt | head -1`) surfaces as EPIPE from writes; the output
  // layer turns that into a quiet exit instead of a signal death mid-write.
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"sbert: sentence embeddings, similarity, zero-shot labels, clustering and search"};
  app.name("sbert");
  app.set_version_flag("--version", std::string("sbert ") + SBERT_VERSION_STRING);
  app.require_subcommand(1);

  auto& registry = sbert::cli::command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::vector<std::pair<CLI::App*, std::function<int()>>> runners;
  for (auto& entry : registry) {
    size_t before = app.get_subcommands({}).size();
    auto run = entry.setup(app);
    auto subs = app.get_subcommands({});
    if (subs.size() > before) runners.emplace_back(subs.back(), std::move(run));
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
    app.exit(e);
    return 2;
  }

  try {
    for (auto& [sub, run] : runners) {
      if (sub->parsed()) return run();
    }
  } catch (const sbert::Error& e) {
    std::fflush(stdout);
    std::cerr << "sbert: error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::cerr << "sbert: error: " << e.what() << "\n";
    return 2;
  }
  return 2;
}
