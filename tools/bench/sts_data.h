// The STS benchmark files in ../shared/data (STS-B: tab-separated, no header; KorSTS: with a
// header), read through sbert's record reader. Shared by the benchmarks and the tests.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "sbert/error.h"
#include "sbert/text_input.h"

namespace sbert::bench {

// (sentence1, sentence2) of every row: columns 5 and 6; rows with fewer columns are skipped.
inline std::vector<std::pair<std::string, std::string>> sts_pairs(const std::string& path, bool header) {
  ReaderOptions o;
  o.format = InputFormat::Tsv;
  o.header = header;
  RecordReader reader({path}, o);
  std::vector<std::pair<std::string, std::string>> out;
  Record r;
  while (reader.next(r))
    if (r.fields.size() >= 7) out.emplace_back(r.fields[5], r.fields[6]);
  if (out.empty()) throw Error(path + ": no sentence pairs");
  return out;
}

// Both sentences of every row, in order (2,758 for the STS-B and KorSTS test sets).
inline std::vector<std::string> sts_sentences(const std::string& path, bool header) {
  std::vector<std::string> out;
  for (auto& [a, b] : sts_pairs(path, header)) {
    out.push_back(std::move(a));
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace sbert::bench
