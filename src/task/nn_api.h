// The boundary between the torch-free program and the model runtime (libsbert_nn.so).
//
// Everything that runs a model lives in the `nn` component, which links libtorch; loading
// libtorch costs ~0.5 s of static initialisation before main() even starts. The sbert binary
// therefore does not link `nn`: the entry points below are the only calls that create model
// objects, src/nn_loader/ defines them in the binary as forwarders that dlopen the runtime
// library on first use, and src/nn_module/ fills this table inside that library. Everything
// else crosses the boundary as virtual calls on the objects these functions return
// (SentenceEncoder, SequenceClassifier, Trainer), so no other symbol has to be resolved.
// Both sides are built from the same tree with the same compiler (the version field guards
// against a stale library).
#pragma once
#include <filesystem>
#include <memory>
#include <vector>

#include "sbert/classifier.h"
#include "sbert/encoder.h"
#include "sbert/log.h"
#include "sbert/random_model.h"
#include "sbert/runtime.h"
#include "sbert/train.h"

namespace sbert {

struct NnApi {
  static constexpr int kVersion = 2;  // 2: TokenizerOptions::max_normalized_growth (options layout)
  int version = kVersion;
  size_t size = sizeof(NnApi);
  void (*set_log_handler)(LogHandler handler);
  Runtime (*setup_runtime)(const RuntimeOptions& options);
  std::unique_ptr<SentenceEncoder> (*load_encoder)(const std::filesystem::path& dir, const EncoderOptions& options);
  std::unique_ptr<SequenceClassifier> (*load_classifier)(const std::filesystem::path& dir,
                                                          const ClassifierOptions& options);
  std::unique_ptr<Trainer> (*create_trainer)(const std::filesystem::path& dir, const TrainOptions& options);
  TrainSummary (*run_training)(Trainer& trainer, const TrainOptions& options,
                               const std::vector<TrainExample>& train, const std::vector<TrainExample>& dev,
                               const std::filesystem::path& out_dir, const TrainLoopOptions& loop);
  void (*write_random_model)(const std::filesystem::path& out, const RandomModelSpec& spec);
};

}  // namespace sbert

// Exported by libsbert_nn.so (the only symbol it exports).
extern "C" const sbert::NnApi* sbert_nn_api();
