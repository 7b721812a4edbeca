// The model entry points of the sbert binary (see src/task/nn_api.h): each loads the model
// runtime library libsbert_nn.so on first use and forwards to it, so a command that runs no
// model never loads libtorch. The library is looked up as $SBERT_NN_LIBRARY, then beside the
// executable, then where the build put it.
#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <system_error>

#include "sbert/error.h"
#include "sbert/log.h"
#include "cpu/runtime.h"
#include "task/nn_api.h"

#ifndef SBERT_NN_MODULE_PATH
#define SBERT_NN_MODULE_PATH ""
#endif

namespace sbert {
namespace {

namespace fs = std::filesystem;
constexpr const char* kLibraryName = "libsbert_nn.so";

std::vector<std::string> candidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("SBERT_NN_LIBRARY"); env && *env) {
    out.emplace_back(env);
    return out;  // an explicit choice is the only one tried
  }
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) out.push_back((self.parent_path() / kLibraryName).string());
  if (*SBERT_NN_MODULE_PATH) out.emplace_back(SBERT_NN_MODULE_PATH);
  return out;
}

const NnApi& load_api() {
  static const NnApi* api = nullptr;
  static std::once_flag once;
  static std::string failure;
  std::call_once(once, [] {
    std::string tried;
    for (const std::string& path : candidates()) {
      std::error_code ec;
      if (!fs::exists(path, ec)) {
        tried += (tried.empty() ? "" : "; ") + path + ": not found";
        continue;
      }
      const auto start = std::chrono::steady_clock::now();
      void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!handle) {
        const char* why = ::dlerror();
        tried += (tried.empty() ? "" : "; ") + std::string(why ? why : path + ": cannot be loaded");
        continue;
      }
      auto entry = reinterpret_cast<const NnApi* (*)()>(::dlsym(handle, "sbert_nn_api"));
      const NnApi* a = entry ? entry() : nullptr;
      if (!a || a->version != NnApi::kVersion || a->size != sizeof(NnApi)) {
        tried += (tried.empty() ? "" : "; ") + path + ": not the model runtime of this sbert build";
        continue;
      }
      // Most of a short run's start-up: Debian's libtorch brings ~290 shared libraries.
      char took[48];
      std::snprintf(took, sizeof took, " (loaded in %.2f s)",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      log_verbose("model runtime: " + path + took);
      api = a;
      return;
    }
    failure = "the model runtime library " + std::string(kLibraryName) + " could not be loaded (" + tried +
              "); reinstall sbert or set SBERT_NN_LIBRARY to its path";
  });
  if (!api) throw Error(failure);
  // The library keeps its own copy of the logging state: hand it the program's handler.
  static std::once_flag logging;
  std::call_once(logging, [] {
    if (verbose_logging()) api->set_log_handler([](const std::string& m) { log_verbose(m); });
  });
  return *api;
}

}  // namespace

// CPU float32 / int8 inference runs in the binary (sbert's CPU runtime, src/cpu/runtime.h);
// everything else loads libtorch.
Runtime setup_runtime(const RuntimeOptions& options) {
  if (cpu::serves(options)) return cpu::setup_runtime(options);
  return load_api().setup_runtime(options);
}

std::unique_ptr<SentenceEncoder> SentenceEncoder::load(const fs::path& model_dir, const EncoderOptions& options) {
  if (cpu::serves(options)) return cpu::load_encoder(model_dir, options);
  return load_api().load_encoder(model_dir, options);
}

std::unique_ptr<SequenceClassifier> SequenceClassifier::load(const fs::path& model_dir,
                                                             const ClassifierOptions& options) {
  if (cpu::serves(options)) return cpu::load_classifier(model_dir, options);
  return load_api().load_classifier(model_dir, options);
}

std::unique_ptr<Trainer> Trainer::create(const fs::path& model_dir, const TrainOptions& options) {
  return load_api().create_trainer(model_dir, options);
}

TrainSummary run_training(Trainer& trainer, const TrainOptions& options, const std::vector<TrainExample>& train,
                          const std::vector<TrainExample>& dev, const fs::path& out_dir,
                          const TrainLoopOptions& loop) {
  return load_api().run_training(trainer, options, train, dev, out_dir, loop);
}

void write_random_model(const fs::path& out, const RandomModelSpec& spec) {
  load_api().write_random_model(out, spec);
}

}  // namespace sbert
