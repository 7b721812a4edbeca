#include "cpu/runtime.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cpu/classifier.h"
#include "cpu/cpu_pool.h"
#include "cpu/embedding_model.h"
#include "cpu/packed_gemm.h"
#include "cpu/quantized_linear.h"
#include "sbert/error.h"
#include "sbert/log.h"

namespace sbert::cpu {

bool serves(const RuntimeOptions& options) {
  const char* forced = std::getenv("SBERT_RUNTIME");
  if (forced && std::string(forced) == "libtorch") return false;
  try {
    return parse_device(options.device).is_cpu() && parse_dtype(options.dtype) == DType::Float32;
  } catch (const Error&) {
    return false;
  }
}

Runtime setup_runtime(const RuntimeOptions& options) {
  Runtime r;
  r.device = parse_device(options.device);
  r.dtype = parse_dtype(options.dtype);
  if (!r.device.is_cpu() || r.dtype != DType::Float32)
    throw Error("sbert's CPU runtime runs float32 on the CPU (got --device " + options.device + ", --dtype " +
                options.dtype + ")");
  r.threads = options.threads > 0 ? options.threads
                                  : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  set_cpu_pool_threads(r.threads);
  log_verbose("cpu runtime (sbert, no libtorch): " + std::to_string(r.threads) + " thread(s), float32, GEMM " +
              packed_gemm_kernel());
  if (!options.quantize.empty() && options.quantize != "none") {
    if (options.quantize != "int8") throw Error("unknown quantization '" + options.quantize + "' (int8 or none)");
    const std::string engine = QuantizedLinear::engine();
    if (engine.empty()) throw Error("--quantize int8: no int8 matmul for this CPU");
    log_verbose("int8 Linear layers (" + engine + ", " + std::to_string(r.threads) + " thread(s))");
  }
  return r;
}

std::unique_ptr<SentenceEncoder> load_encoder(const std::filesystem::path& dir, const EncoderOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  cpu::setup_runtime(options);
  auto model = EmbeddingModel::load(dir, options);
  const auto t1 = Clock::now();
  auto encoder = with_folder_tokenizer(std::move(model), dir, options);
  const auto t2 = Clock::now();
  char line[160];
  std::snprintf(line, sizeof line, "loaded in %.3f s: weights read and packed %.3f s, tokenizer %.3f s",
                std::chrono::duration<double>(t2 - t0).count(), std::chrono::duration<double>(t1 - t0).count(),
                std::chrono::duration<double>(t2 - t1).count());
  log_verbose(line);
  return encoder;
}

std::unique_ptr<SequenceClassifier> load_classifier(const std::filesystem::path& dir, const ClassifierOptions& options) {
  cpu::setup_runtime(options);
  return load_cpu_classifier(dir, options);
}

}  // namespace sbert::cpu
