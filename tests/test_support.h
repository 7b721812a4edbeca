// Helpers shared by the tests: where ../shared is, and golden-file loading.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sbert/error.h"

namespace sbert::testing {

// $SBERT_SHARED, else ../shared beside the source tree; nullopt when absent.
std::optional<std::filesystem::path> shared_dir();
// The source tree root.
std::filesystem::path source_dir();
// Reads and parses a JSON file (fails the test on error).
nlohmann::json load_json(const std::filesystem::path& path);
// A fresh empty temporary directory, removed by the OS eventually.
std::filesystem::path temp_dir(const std::string& name);
// A fresh temp_dir(name) holding a writable copy of the folder `src`, without the paths (relative
// to src) in `leave_out` — e.g. a fixture without its tokenizer.json.
std::filesystem::path copy_folder(const std::filesystem::path& src, const std::string& name,
                                  const std::vector<std::string>& leave_out = {});
// Runs a shell command, returns its exit status and captures stdout (stderr to *err if given).
int run_command(const std::string& cmd, std::string* out = nullptr, std::string* err = nullptr);
std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

// The message of the sbert::Error that f() throws, or "<no sbert::Error>" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const sbert::Error& e) {
    return e.what();
  }
  return "<no sbert::Error>";
}

}  // namespace sbert::testing

// Skips the current test with a clear message when ../shared is not available.
#define SBERT_REQUIRE_SHARED(var)                                                          \
  auto var##_opt = ::sbert::testing::shared_dir();                                        \
  if (!var##_opt) GTEST_SKIP() << "SBERT_SHARED not found (set SBERT_SHARED=/path/to/shared)"; \
  const std::filesystem::path var = *var##_opt
