// Subcommand registry: each tools/cmd_*.cpp registers itself with a static SBERT_COMMAND(...),
// so a new subcommand is a new file and main.cpp never changes.
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace sbert::cli {

// Adds the subcommand to `app` and returns the function that runs it (exit code).
using CommandSetup = std::function<std::function<int()>(CLI::App& app)>;

struct CommandEntry {
  std::string name;
  CommandSetup setup;
};

std::vector<CommandEntry>& command_registry();

struct CommandRegistrar {
  CommandRegistrar(std::string name, CommandSetup setup) {
    command_registry().push_back({std::move(name), std::move(setup)});
  }
};

}  // namespace sbert::cli

#define SBERT_CONCAT_INNER(a, b) a##b
#define SBERT_CONCAT(a, b) SBERT_CONCAT_INNER(a, b)
#define SBERT_COMMAND(name, setup_fn) \
  static ::sbert::cli::CommandRegistrar SBERT_CONCAT(sbert_command_, __LINE__)(name, setup_fn)
