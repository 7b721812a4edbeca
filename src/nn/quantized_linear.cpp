#include "nn/quantized_linear.h"

#include <ATen/native/quantized/PackedParams.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <mutex>

#include "sbert/error.h"

namespace sbert::nn {

namespace {

using PackedParams = c10::intrusive_ptr<LinearPackedParamsBase>;

at::QEngine choose_engine() {
  const auto& engines = at::globalContext().supportedQEngines();
  auto has = [&](at::QEngine e) { return std::find(engines.begin(), engines.end(), e) != engines.end(); };
  if (has(at::QEngine::FBGEMM)) return at::QEngine::FBGEMM;
  if (has(at::QEngine::ONEDNN)) return at::QEngine::ONEDNN;
  return at::QEngine::NoQEngine;
}

// The engine is a process-wide setting of libtorch; set once, before the first prepack.
at::QEngine engine_in_use() {
  static std::once_flag once;
  static at::QEngine engine = at::QEngine::NoQEngine;
  std::call_once(once, [] {
    engine = choose_engine();
    if (engine != at::QEngine::NoQEngine) at::globalContext().setQEngine(engine);
  });
  return engine;
}

}  // namespace

struct QuantizedLinear::Packed {
  PackedParams params;
  bool reduce_range = false;
};

std::string QuantizedLinear::engine() {
  const at::QEngine e = engine_in_use();
  if (e == at::QEngine::FBGEMM) return "fbgemm";
  if (e == at::QEngine::NoQEngine) return "";
  return "onednn";
}

QuantizedLinear::QuantizedLinear(const at::Tensor& weight_in) : packed_(std::make_unique<Packed>()) {
  const at::QEngine e = engine_in_use();
  if (e == at::QEngine::NoQEngine)
    throw Error("--quantize int8: this libtorch has no int8 engine for this CPU (FBGEMM or oneDNN)");
  c10::InferenceMode guard;
  at::Tensor w = weight_in.to(at::kFloat).contiguous();
  const int64_t out = w.size(0);
  at::Tensor scales = (std::get<0>(w.abs().max(1)) / 127.0).clamp_min(1e-8).to(at::kDouble);
  at::Tensor zeros = at::zeros({out}, at::kLong);
  at::Tensor qw = at::quantize_per_channel(w, scales, zeros, 0, at::kQInt8);
  static auto prepack = c10::Dispatcher::singleton()
                            .findSchemaOrThrow("quantized::linear_prepack", "")
                            .typed<PackedParams(at::Tensor, c10::optional<at::Tensor>)>();
  packed_->params = prepack.call(qw, c10::nullopt);
  // FBGEMM's kernels can saturate on CPUs without VNNI unless activations use 7 bits.
  packed_->reduce_range = e == at::QEngine::FBGEMM;
}

QuantizedLinear::~QuantizedLinear() = default;
QuantizedLinear::QuantizedLinear(QuantizedLinear&&) noexcept = default;

at::Tensor QuantizedLinear::forward(const at::Tensor& x) const {
  static auto dynamic = c10::Dispatcher::singleton()
                            .findSchemaOrThrow("quantized::linear_dynamic", "")
                            .typed<at::Tensor(at::Tensor, const PackedParams&, bool)>();
  return dynamic.call(x, packed_->params, packed_->reduce_range);
}

}  // namespace sbert::nn
