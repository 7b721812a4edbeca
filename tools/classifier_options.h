// ModelOptions -> ClassifierOptions for the subcommands over sequence-classification models
// (nli, nli-zeroshot, rerank).
#pragma once
#include "cli_common.h"
#include "sbert/classifier.h"
#include "sbert/error.h"

namespace sbert::cli {

inline ClassifierOptions classifier_options(const ModelOptions& m) {
  ClassifierOptions o;
  static_cast<RuntimeOptions&>(o) = m.runtime_options();
  return o;
}

// These commands have no sensible default model: the embedding default has no classifier head.
inline void require_model(const ModelOptions& m, const char* what) {
  if (m.model.empty())
    throw Error(std::string("--model is required: give ") + what);
}

}  // namespace sbert::cli
