// Helpers shared by the CLI tests (tests/cli/*): running the sbert binary, quoting paths for the
// shell, JSON Lines output, and one tiny generated model per test program.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "golden_compare.h"
#include "nn/nn_test_util.h"
#include "sbert/npy.h"
#include "test_support.h"

namespace sbert::testing {

inline std::string sbert_bin() { return SBERT_BINARY; }

// s in single quotes for the shell (embedded quotes escaped).
inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}
inline std::string q(const std::filesystem::path& p) { return quote(p.string()); }

// Runs `sbert args` with an empty stdin; the exit status, stdout to *out, stderr to *err (kept
// out of the test log when err is null).
inline int run_sbert(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  std::string ignored;
  return run_command("true | " + sbert_bin() + " " + args, out, err ? err : &ignored);
}

// Runs sbert; expects success and returns stdout.
inline std::string run_ok(const std::string& args, std::string* err_out = nullptr) {
  std::string out, err;
  const int rc = run_sbert(args, &out, &err);
  EXPECT_EQ(rc, 0) << args << "\n" << err;
  if (err_out) *err_out = err;
  return out;
}

// Runs sbert; expects exit code 2 and one "sbert: error:" line containing `want`.
inline void expect_error(const std::string& args, const std::string& want) {
  std::string out, err;
  const int rc = run_sbert(args, &out, &err);
  EXPECT_EQ(rc, 2) << args << "\n" << err;
  EXPECT_NE(err.find("sbert: error: "), std::string::npos) << err;
  EXPECT_NE(err.find(want), std::string::npos) << args << "\nwanted: " << want << "\ngot: " << err;
}

// The non-empty lines of `text`, each parsed as JSON.
inline std::vector<nlohmann::json> parse_jsonl(const std::string& text) {
  std::vector<nlohmann::json> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

// Writes `texts` (strings) as JSON Lines ({"text": ...}) to dir/name, so that texts with newlines
// survive; returns the file.
inline std::filesystem::path write_jsonl_texts(const std::filesystem::path& dir, const nlohmann::json& texts,
                                               const std::string& name = "texts.jsonl") {
  std::string body;
  for (const auto& t : texts) body += nlohmann::json{{"text", t}}.dump() + "\n";
  write_file(dir / name, body);
  return dir / name;
}

// `sbert embed -q --model MODEL --format npy -o out.npy EXTRA INPUT` (out.npy beside the input),
// read back; expects success (an empty matrix when it fails).
inline Matrix embed_npy(const std::filesystem::path& model, const std::filesystem::path& input,
                        const std::string& extra) {
  const std::filesystem::path out = input.parent_path() / "out.npy";
  std::filesystem::remove(out);
  std::string err;
  const int rc = run_sbert("embed -q --model " + q(model) + " --format npy -o " + q(out) + " " + extra + " " + q(input),
                           nullptr, &err);
  EXPECT_EQ(rc, 0) << err;
  if (rc != 0) return {};
  return read_npy(out.string());
}

// nntest::fresh_model (1 layer, 2 heads, hidden 16), written once per program: enough to run
// every command in a fraction of a second.
inline const std::filesystem::path& tiny_model(const std::string& name = "cli-tiny-model") {
  static const std::filesystem::path dir = nntest::fresh_model(name);
  return dir;
}

}  // namespace sbert::testing
