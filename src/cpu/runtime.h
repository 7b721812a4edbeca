// sbert's CPU runtime without libtorch: which options it serves and its entry points. The sbert
// binary links it and loads libtorch (libsbert_nn.so, src/task/nn_api.h) only for what it does
// not serve: CUDA, float16/bfloat16, training.
#pragma once
#include <filesystem>
#include <memory>

#include "sbert/classifier.h"
#include "sbert/encoder.h"
#include "sbert/runtime.h"

namespace sbert::cpu {

// CPU float32 inference (with or without --quantize int8), unless the environment says
// SBERT_RUNTIME=libtorch (libtorch's CPU path, for comparisons). A bad device or dtype name is
// not served either: libtorch's setup reports it.
bool serves(const RuntimeOptions& options);
// The CPU runtime's setup: threads of cpu_pool, the --quantize check, the -v line.
Runtime setup_runtime(const RuntimeOptions& options);
std::unique_ptr<SentenceEncoder> load_encoder(const std::filesystem::path& dir, const EncoderOptions& options);
std::unique_ptr<SequenceClassifier> load_classifier(const std::filesystem::path& dir, const ClassifierOptions& options);

}  // namespace sbert::cpu
