// Tokenizer throughput on one core: bench_tokenize MODEL_DIR FILE... [--columns 5,6] [--header]
// Each FILE is tab-separated; the texts are the given columns (0-based indices, or names with
// --header), or whole lines without --columns. Prints one JSON object.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "sbert/error.h"
#include "sbert/tokenizer.h"

namespace {

std::vector<std::string> split(const std::string& s, char d) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, d)) out.push_back(cur);
  if (!s.empty() && s.back() == d) out.emplace_back();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tokenizer throughput (one core)"};
  std::string model, tokenizer_file, columns;
  std::vector<std::string> files;
  bool header = false;
  double min_seconds = 2.0;
  app.add_option("model", model, "Model folder")->required();
  app.add_option("files", files, "Tab-separated text files")->required();
  app.add_option("--columns", columns, "Comma-separated column indices (or names with --header)");
  app.add_flag("--header", header, "The first line names the columns");
  app.add_option("--tokenizer-file", tokenizer_file, "Tokenizer file instead of the folder's choice");
  app.add_option("--min-seconds", min_seconds, "Repeat the corpus until this much time has passed");
  CLI11_PARSE(app, argc, argv);
  try {
    std::vector<std::string> texts;
    for (const auto& f : files) {
      std::ifstream in(f);
      if (!in) throw sbert::Error(f + ": cannot open");
      std::string line;
      std::vector<size_t> idx;
      bool first = true;
      while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto fields = split(line, '\t');
        if (first && header) {
          for (const auto& c : split(columns, ',')) {
            auto it = std::find(fields.begin(), fields.end(), c);
            if (it == fields.end()) throw sbert::Error(f + ": no column '" + c + "'");
            idx.push_back(static_cast<size_t>(it - fields.begin()));
          }
          first = false;
          continue;
        }
        if (first) {
          for (const auto& c : split(columns, ',')) idx.push_back(std::stoul(c));
          first = false;
        }
        if (idx.empty()) {
          texts.push_back(line);
          continue;
        }
        for (size_t i : idx)
          if (i < fields.size()) texts.push_back(fields[i]);
      }
    }
    sbert::TokenizerOptions o;
    o.tokenizer_file = tokenizer_file;
    auto tok = sbert::load_tokenizer(model, o);
    size_t tokens = 0, done = 0, passes = 0;
    const auto start = std::chrono::steady_clock::now();
    double secs = 0;
    do {
      for (const auto& t : texts) tokens += tok->encode(t).size();
      done += texts.size();
      ++passes;
      secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (secs < min_seconds);
    std::printf(
        "{\"model\": \"%s\", \"tokenizer\": \"%s\", \"texts\": %zu, \"passes\": %zu, \"tokens\": %zu, "
        "\"seconds\": %.3f, \"tokens_per_s\": %.0f, \"texts_per_s\": %.0f}\n",
        model.c_str(), tok->describe().c_str(), texts.size(), passes, tokens, secs, tokens / secs, done / secs);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenize: error: %s\n", e.what());
    return 2;
  }
  return 0;
}
