#include "nn/st_modules.h"

#include "nn/weight_store.h"
#include "sbert/json_parse.h"
#include "sbert/error.h"

namespace sbert::nn {
namespace fs = std::filesystem;

at::Tensor DenseModule::apply(const at::Tensor& x) const {
  at::Tensor y = at::linear(x, weight, bias_tensor);
  if (activation == "tanh") return at::tanh(y);
  if (activation == "relu") return at::relu(y);
  if (activation == "sigmoid") return at::sigmoid(y);
  if (activation == "gelu") return at::gelu(y);
  return y;
}

namespace {

DenseModule load_dense(const model::DenseSpec& spec, at::Device device) {
  DenseModule d;
  static_cast<model::DenseSpec&>(d) = spec;
  auto store = open_model_weights(spec.dir);
  const std::string where =
      store->contains("linear.weight") ? store->source("linear.weight") : spec.dir.string();
  WeightLoader w(*store, "", at::TensorOptions().dtype(at::kFloat).device(device), where);
  d.weight = w.take("linear.weight", {d.out_features, d.in_features});
  if (d.bias) d.bias_tensor = w.take("linear.bias", {d.out_features});
  w.finish();
  // Own the data: the store (and its memory map) goes away with this function.
  d.weight = d.weight.clone();
  if (d.bias_tensor.defined()) d.bias_tensor = d.bias_tensor.clone();
  return d;
}

}  // namespace

ModelLayout read_model_layout(const fs::path& dir, at::Device device) {
  ModelLayout layout;
  static_cast<model::ModelFolder&>(layout) = model::read_model_folder(dir);
  for (const std::string& m : layout.pooling.modes) {
    try {
      layout.pooling_modes.push_back(parse_pooling_mode(m));
    } catch (const Error& e) {
      throw Error(layout.pooling.file.string() + ": " + e.what());
    }
  }
  for (const model::DenseSpec& d : layout.dense) layout.dense_modules.push_back(load_dense(d, device));
  for (const model::ModuleEntry* m : layout.post_modules()) {
    if (m->kind == model::ModuleKind::Dense) layout.post.push_back({PostModule::Dense, m->dense_index});
    else layout.post.push_back({PostModule::Normalize, 0});
  }
  return layout;
}

}  // namespace sbert::nn
