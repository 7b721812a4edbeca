// Training: an autograd forward of the BERT-family encoder over leaf parameters named as in the
// checkpoint (dropout as Hugging Face places it), the sentence-transformers losses, AdamW as
// torch.optim.AdamW computes it, the linear warmup/decay schedule of transformers, and the
// sentence-transformers / Hugging Face folder layouts for the result.
//
// The inference encoder (transformer.cpp) is untouched: it keeps its pre-fused, grad-free
// weights; this file holds the trainable copy and writes it back as a checkpoint that the
// inference code loads.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <sstream>

#include <ATen/autocast_mode.h>

#include "cpu/architecture.h"
#include "cpu/sentence_encoder.h"
#include "nn/rotary_decoder.h"
#include "nn/pooling.h"
#include "nn/st_modules.h"
#include "nn/transformer.h"
#include "nn/weight_store.h"
#include "sbert/error.h"
#include "sbert/log.h"
#include "sbert/model_folder.h"
#include "sbert/tokenizer.h"
#include "sbert/train.h"

namespace sbert {
namespace fs = std::filesystem;

namespace {

struct Batch {
  at::Tensor ids, mask, types;
};

Batch make_batch(const std::vector<Encoding>& encs, int64_t pad, bool use_types) {
  const int64_t B = static_cast<int64_t>(encs.size());
  int64_t L = 1;
  for (const auto& e : encs) L = std::max<int64_t>(L, static_cast<int64_t>(e.ids.size()));
  auto opt = at::TensorOptions().dtype(at::kLong);
  Batch b;
  b.ids = at::full({B, L}, pad, opt);
  b.mask = at::zeros({B, L}, opt);
  b.types = at::zeros({B, L}, opt);
  int64_t* ids = b.ids.data_ptr<int64_t>();
  int64_t* mask = b.mask.data_ptr<int64_t>();
  int64_t* types = b.types.data_ptr<int64_t>();
  for (int64_t r = 0; r < B; ++r) {
    const Encoding& e = encs[static_cast<size_t>(r)];
    for (size_t t = 0; t < e.ids.size(); ++t) {
      ids[r * L + static_cast<int64_t>(t)] = e.ids[t];
      mask[r * L + static_cast<int64_t>(t)] = 1;
      if (use_types && t < e.type_ids.size()) types[r * L + static_cast<int64_t>(t)] = e.type_ids[t];
    }
  }
  if (!use_types) b.types = at::Tensor();
  return b;
}

// Pearson's r and the tie-aware Spearman rho (as scipy; same definitions as sbert/stats.h, which
// lives in the similarity component that nn does not link).
double pearson_r(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) mx += x[i], my += y[i];
  mx /= n;
  my /= n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : std::nan("");
}

std::vector<double> ranks_of(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = (static_cast<double>(i + j) / 2.0) + 1.0;
    i = j + 1;
  }
  return r;
}

double spearman_rho(const std::vector<double>& x, const std::vector<double>& y) {
  return pearson_r(ranks_of(x), ranks_of(y));
}

double config_double(const nlohmann::json& j, const char* key, double fallback) {
  if (key && j.contains(key) && j[key].is_number()) return j[key].get<double>();
  return fallback;
}

std::string json_dump_file(const nlohmann::json& j) { return j.dump(2) + "\n"; }

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  if (!out) throw Error(p.string() + ": cannot open for writing");
  out << text;
  if (!out) throw Error(p.string() + ": write failed");
}

bool is_weight_file(const std::string& n) {
  return n == "model.safetensors" || n == "model.safetensors.index.json" || n == "pytorch_model.bin" ||
         n == "pytorch_model.bin.index.json" || (n.rfind("model-", 0) == 0 && n.find(".safetensors") != std::string::npos) ||
         (n.rfind("pytorch_model-", 0) == 0);
}

bool ends_with(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// The tokenizer (and other small) files of a transformer folder: every top-level file except the
// weights (any framework), config.json, the sentence-transformers files and the model card.
void copy_tokenizer_files(const fs::path& from, const fs::path& to) {
  for (const auto& entry : fs::directory_iterator(from)) {
    if (!entry.is_regular_file()) continue;
    const std::string n = entry.path().filename().string();
    if (n.empty() || n[0] == '.' || is_weight_file(n) || n == "config.json" || n == "modules.json" ||
        n == "sentence_bert_config.json" || n == "config_sentence_transformers.json")
      continue;
    bool skip = false;
    for (const char* ext : {".bin", ".safetensors", ".h5", ".msgpack", ".ot", ".onnx", ".pt", ".pth", ".md", ".ckpt"})
      skip = skip || ends_with(n, ext);
    if (!skip) fs::copy_file(entry.path(), to / n, fs::copy_options::overwrite_existing);
  }
}

// Sets tokenizer_config.json's model_max_length (creates the file if there is none).
void record_model_max_length(const fs::path& file, size_t max_length) {
  nlohmann::json tc = nlohmann::json::object();
  if (fs::exists(file)) {
    tc = model::read_json(file);
    if (!tc.is_object()) throw Error(file.string() + ": expected a JSON object");
  }
  tc["model_max_length"] = max_length;
  write_text(file, json_dump_file(tc));
}

// --dtype bfloat16 as torch.autocast("cpu", dtype=torch.bfloat16) does it: while alive, the
// matmul-like ops (linear, bmm, baddbmm, ...) run in bfloat16 on bfloat16 copies of the float32
// parameters (cached for the region), the rest in float32; gradients reach the float32 weights.
class Bf16Autocast {
 public:
  Bf16Autocast(bool on, at::Device device) : on_(on), cuda_(device.is_cuda()) {
    if (!on_) return;
    was_enabled_ = cuda_ ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
    was_dtype_ = cuda_ ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
    set(true, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~Bf16Autocast() {
    if (!on_) return;
    // The cast cache holds copies of this step's weights: drop it when the outermost region ends.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set(was_enabled_, was_dtype_);
  }
  Bf16Autocast(const Bf16Autocast&) = delete;
  Bf16Autocast& operator=(const Bf16Autocast&) = delete;

 private:
  void set(bool enabled, at::ScalarType dtype) const {
    if (cuda_) {
      at::autocast::set_enabled(enabled);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      at::autocast::set_cpu_enabled(enabled);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
  }
  bool on_, cuda_, was_enabled_ = false;
  at::ScalarType was_dtype_ = at::kBFloat16;
};

class TrainerImpl final : public Trainer {
 public:
  TrainerImpl(const fs::path& model_dir, const TrainOptions& o) : o_(o) {
    if (!fs::is_directory(model_dir)) throw Error(model_dir.string() + ": model folder not found");
    if (o.dtype != "float32" && o.dtype != "fp32" && o.dtype != "bfloat16" && o.dtype != "bf16")
      throw Error("unknown training dtype '" + o.dtype + "' (float32, bfloat16)");
    bf16_ = o.dtype == "bfloat16" || o.dtype == "bf16";
    if (bf16_ && parse_device(o.device).is_cpu() && !nn::cpu_has_bf16())
      log_verbose("note: this CPU has no bfloat16 instructions (AVX512_BF16 / AMX-BF16): bfloat16 "
                  "training is emulated here, ~20x slower than float32 (measured on an AVX2 EPYC)");
    if (!(o.lr > 0) || !std::isfinite(o.lr)) throw Error("learning rate must be positive");
    if (o.batch_size == 0) throw Error("batch size must be positive");
    if (o.weight_decay < 0) throw Error("weight decay must not be negative");
    if (o.warmup_ratio < 0 || o.warmup_ratio >= 1) throw Error("warmup ratio must be in [0, 1)");
    if (o.schedule != "linear" && o.schedule != "constant")
      throw Error("unknown schedule '" + o.schedule + "' (linear, constant)");
    if (o.dropout && (*o.dropout < 0 || *o.dropout >= 1)) throw Error("dropout must be in [0, 1)");
    device_ = nn::to_torch(parse_device(o.device), o.device);
    if (device_.is_cpu()) nn::configure_cpu_threads(o.threads, at::kFloat, /*inference=*/false);
    at::manual_seed(o.seed);
    bi_ = o.objective == TrainObjective::Bi;

    layout_ = nn::read_model_layout(model_dir, device_);
    tdir_ = layout_.transformer_dir;
    cfg_ = nn::TransformerConfig::load(tdir_ / "config.json");
    arch_ = cfg_.arch;
    if (!arch_->bert_blocks() && !nn::rotary_decoder_blocks(*arch_))
      throw Error(tdir_.string() + "/config.json: sbert train does not train architecture '" + arch_->name +
                  "' yet (its autograd forward has the BERT family's and the rotary decoders' blocks only)");
    if (!arch_->bert_blocks() && !bi_)
      throw Error(tdir_.string() + "/config.json: sbert train cross needs a sequence-classification head; "
                  "architecture '" + arch_->name + "' has none in sbert");
    bool has_weights = false;
    for (const char* n : {"model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                          "pytorch_model.bin.index.json"})
      has_weights = has_weights || fs::exists(tdir_ / n);
    if (!has_weights)
      throw Error(tdir_.string() + ": no model weights (model.safetensors or pytorch_model.bin)");
    auto store = nn::open_model_weights(tdir_);
    prefix_ = nn::find_encoder_prefix(*store, *arch_);
    if (!prefix_.empty()) {
      size_t dot = prefix_.rfind('.', prefix_.size() - 2);
      root_ = dot == std::string::npos ? "" : prefix_.substr(0, dot + 1);
    }
    for (const std::string& n : store->names()) {
      at::Tensor t = store->get(n).to(at::kFloat).clone().contiguous();
      if (!t.is_floating_point()) continue;
      add_param(n, t);
    }
    TokenizerOptions topt;
    if (layout_.do_lower_case && *layout_.do_lower_case) topt.lowercase = true;
    tok_ = load_tokenizer(tdir_, topt);
    use_types_ = arch_->head.token_type_ids && arch_->tensors.token_type_embeddings && cfg_.type_vocab_size > 1;

    // Dropout: the config's unless overridden (under the description's keys).
    const cpu::ConfigKeys& keys = cfg_.arch->config;
    hidden_p_ = o.dropout ? *o.dropout : config_double(cfg_.raw, keys.hidden_dropout, 0.1);
    // (transformers' Qwen3 / Gemma 3 configs default attention_dropout to 0.)
    attn_p_ = o.dropout ? *o.dropout : config_double(cfg_.raw, keys.attention_dropout, arch_->bert_blocks() ? 0.1 : 0.0);
    classifier_p_ = o.dropout ? *o.dropout
                              : config_double(cfg_.raw, keys.classifier_dropout,
                                              keys.classifier_dropout_default >= 0 ? keys.classifier_dropout_default
                                                                                   : hidden_p_);

    const size_t limit = static_cast<size_t>(cfg_.max_input_length());
    if (o.max_length > limit)
      throw Error("max length " + std::to_string(o.max_length) + " exceeds the model's " +
                  std::to_string(limit) + " positions");
    max_length_ = o.max_length > 0 ? o.max_length
                                   : std::min(layout_.max_seq_length > 0 ? layout_.max_seq_length : 512, limit);

    // Check the encoder's tensors are all there.
    std::vector<std::string> missing;
    for (const std::string& n : encoder_names())
      if (!index_.count(prefix_ + n)) missing.push_back(prefix_ + n);
    if (!missing.empty()) {
      std::string list;
      for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
      throw Error(tdir_.string() + ": the checkpoint lacks " + std::to_string(missing.size()) +
                  " encoder tensor(s): " + list);
    }
    const int64_t H = cfg_.hidden_size;
    if (bi_) {
      modes_ = layout_.pooling_modes;
      if (modes_.empty()) modes_ = {nn::PoolingMode::Mean};
      for (auto m : modes_)
        if (m == nn::PoolingMode::Pooler || m == nn::PoolingMode::Last2Mean)
          throw Error("training with pooling '" + nn::pooling_mode_name(m) + "' is not supported yet");
      dim_ = H * static_cast<int64_t>(modes_.size());
      for (const auto& p : layout_.post)
        if (p.kind == nn::PostModule::Dense) dim_ = layout_.dense[p.dense_index].out_features;
      // Dense modules train with the encoder, as in sentence-transformers; named by their folder
      // ("2_Dense/linear.weight") and saved back there.
      for (auto& d : layout_.dense_modules) {
        const std::string dir = fs::relative(d.dir, layout_.root).generic_string() + "/";
        d.weight = add_param(dir + "linear.weight", d.weight.cpu());
        if (d.bias_tensor.defined()) d.bias_tensor = add_param(dir + "linear.bias", d.bias_tensor.cpu());
      }
      if (o.loss == TrainLoss::Softmax) {
        if (o.num_labels < 2) throw Error("softmax loss needs at least 2 labels");
        // nn.Linear(3 * dim, num_labels) with torch's default initialisation.
        const double bound = 1.0 / std::sqrt(3.0 * static_cast<double>(dim_));
        softmax_w_ = add_param("__softmax__.classifier.weight",
                               at::empty({static_cast<int64_t>(o.num_labels), 3 * dim_}).uniform_(-bound, bound));
        softmax_b_ = add_param("__softmax__.classifier.bias",
                               at::empty({static_cast<int64_t>(o.num_labels)}).uniform_(-bound, bound));
      }
    } else {
      setup_cross_head();
    }
    for (size_t i = 0; i < params_.size(); ++i) {
      m_.push_back(at::zeros_like(params_[i]));
      v_.push_back(at::zeros_like(params_[i]));
    }
  }

  // ---- Trainer ----
  double compute_gradients(const std::vector<TrainExample>& batch) override {
    for (auto& p : params_) p.mutable_grad() = at::Tensor();
    at::Tensor loss = forward_loss(batch, true);
    loss.backward();
    return loss.item<double>();
  }

  StepInfo step(const std::vector<TrainExample>& batch) override {
    StepInfo info;
    info.loss = compute_gradients(batch);
    at::NoGradGuard ng;
    // clip_grad_norm_: the 2-norm of all gradients together, scaled by max/(norm + 1e-6) when
    // that is below 1.
    std::vector<at::Tensor> norms;
    for (auto& p : params_)
      if (p.grad().defined()) norms.push_back(p.grad().norm(2));
    double total = norms.empty() ? 0.0 : at::stack(norms).norm(2).item<double>();
    info.grad_norm = total;
    if (o_.max_grad_norm > 0) {
      const double coef = o_.max_grad_norm / (total + 1e-6);
      if (coef < 1.0)
        for (auto& p : params_)
          if (p.grad().defined()) p.mutable_grad().mul_(coef);
    }
    const double lr = o_.lr * lr_factor(step_);
    ++step_;
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const double bc1 = 1.0 - std::pow(b1, static_cast<double>(step_));
    const double bc2 = 1.0 - std::pow(b2, static_cast<double>(step_));
    const double step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
    for (size_t i = 0; i < params_.size(); ++i) {
      at::Tensor& p = params_[i];
      if (!p.grad().defined()) continue;
      const at::Tensor& g = p.grad();
      if (decay_[i] && o_.weight_decay > 0) p.mul_(1.0 - lr * o_.weight_decay);
      m_[i].lerp_(g, 1.0 - b1);
      v_[i].mul_(b2).addcmul_(g, g, 1.0 - b2);
      at::Tensor denom = (v_[i].sqrt() / bc2_sqrt).add_(eps);
      p.addcdiv_(m_[i], denom, -step_size);
    }
    info.step = step_;
    info.lr = lr;
    return info;
  }

  void set_total_steps(size_t total) override { total_ = total; }

  std::vector<NamedTensor> parameters() const override {
    std::vector<NamedTensor> out;
    for (size_t i = 0; i < params_.size(); ++i)
      if (names_[i].rfind("__", 0) != 0) out.push_back(to_named(saved_name(names_[i]), params_[i]));
    return out;
  }
  std::vector<NamedTensor> gradients() const override {
    std::vector<NamedTensor> out;
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i].grad().defined()) out.push_back(to_named(names_[i], params_[i].grad()));
    return out;
  }
  size_t parameter_count() const override {
    size_t n = 0;
    for (const auto& p : params_) n += static_cast<size_t>(p.numel());
    return n;
  }
  size_t steps_done() const override { return step_; }
  double loss(const std::vector<TrainExample>& batch) override {
    at::NoGradGuard ng;
    return forward_loss(batch, false).item<double>();
  }
  void perturb(const std::string& name, size_t index, double delta) override {
    auto it = index_.find(name);
    if (it == index_.end()) throw Error("no parameter '" + name + "'");
    at::NoGradGuard ng;
    at::Tensor flat = params_[it->second].view({-1});
    if (static_cast<int64_t>(index) >= flat.numel()) throw Error("index out of range for '" + name + "'");
    flat[static_cast<int64_t>(index)].add_(delta);
  }

  EvalResult evaluate(const std::vector<TrainExample>& dev) override {
    EvalResult r;
    r.rows = dev.size();
    if (dev.size() < 2) throw Error("the dev set needs at least 2 rows");
    at::NoGradGuard ng;
    std::vector<double> pred, gold;
    size_t correct = 0;
    double loss_sum = 0;
    const size_t bs = std::max<size_t>(o_.batch_size, 1);
    for (size_t s = 0; s < dev.size(); s += bs) {
      std::vector<TrainExample> chunk(dev.begin() + static_cast<long>(s),
                                      dev.begin() + static_cast<long>(std::min(dev.size(), s + bs)));
      if (bi_) {
        at::Tensor u = embed_tensor(texts_of(chunk, 0), false), v = embed_tensor(texts_of(chunk, 1), false);
        if (o_.loss == TrainLoss::Softmax) {
          at::Tensor logits = at::linear(at::cat({u, v, (u - v).abs()}, 1), softmax_w_, softmax_b_);
          at::Tensor am = logits.argmax(1);
          for (size_t i = 0; i < chunk.size(); ++i)
            correct += am[static_cast<int64_t>(i)].item<int64_t>() == chunk[i].label;
        } else {
          at::Tensor cos = at::cosine_similarity(u, v, 1, 1e-8);
          for (size_t i = 0; i < chunk.size(); ++i) {
            pred.push_back(cos[static_cast<int64_t>(i)].item<double>());
            gold.push_back(chunk[i].score);
          }
        }
      } else {
        at::Tensor logits = cross_logits(chunk, false);
        if (num_labels_ == 1) {
          for (size_t i = 0; i < chunk.size(); ++i) {
            pred.push_back(logits[static_cast<int64_t>(i)][0].item<double>());
            gold.push_back(chunk[i].score);
          }
        } else {
          at::Tensor am = logits.argmax(1);
          for (size_t i = 0; i < chunk.size(); ++i)
            correct += am[static_cast<int64_t>(i)].item<int64_t>() == chunk[i].label;
        }
      }
      if (o_.loss != TrainLoss::MNRL) loss_sum += forward_loss(chunk, false).item<double>() * chunk.size();
    }
    r.loss = loss_sum / static_cast<double>(dev.size());
    if (pred.empty()) {
      r.accuracy = static_cast<double>(correct) / static_cast<double>(dev.size());
    } else {
      r.spearman = spearman_rho(pred, gold);
      r.pearson = pearson_r(pred, gold);
    }
    return r;
  }

  Matrix embed(const std::vector<std::string>& texts) override {
    if (!bi_) throw Error("embed: not a bi-encoder");
    at::NoGradGuard ng;
    Matrix out(texts.size(), static_cast<size_t>(dim_));
    for (size_t s = 0; s < texts.size(); s += o_.batch_size) {
      std::vector<std::string> chunk(texts.begin() + static_cast<long>(s),
                                     texts.begin() + static_cast<long>(std::min(texts.size(), s + o_.batch_size)));
      at::Tensor e = embed_tensor(chunk, false).cpu().contiguous();
      std::memcpy(out.row(s), e.data_ptr<float>(), sizeof(float) * static_cast<size_t>(e.numel()));
    }
    return out;
  }

  Matrix logits(const std::vector<std::pair<std::string, std::string>>& pairs) override {
    if (bi_) throw Error("logits: not a cross-encoder");
    at::NoGradGuard ng;
    std::vector<TrainExample> ex;
    for (const auto& [a, b] : pairs) {
      TrainExample e;
      e.a = a;
      e.b = b;
      ex.push_back(e);
    }
    at::Tensor l = cross_logits(ex, false).cpu().contiguous();
    Matrix out(pairs.size(), static_cast<size_t>(num_labels_));
    std::memcpy(out.data.data(), l.data_ptr<float>(), sizeof(float) * out.data.size());
    return out;
  }

  void save(const fs::path& out_dir, const std::string& card) const override;

  void save_state(const fs::path& dir) const {
    fs::create_directories(dir);
    std::vector<NamedTensor> t;
    for (size_t i = 0; i < params_.size(); ++i) {
      const std::string n = saved_name(names_[i]);
      t.push_back(to_named("m." + n, m_[i]));
      t.push_back(to_named("v." + n, v_[i]));
      if (names_[i].rfind("__", 0) == 0) t.push_back(to_named("p." + n, params_[i]));
    }
    write_safetensors(dir / "optimizer.safetensors", t);
    write_text(dir / "state.json", json_dump_file({{"step", step_}, {"total_steps", total_}}));
  }

  bool load_state(const fs::path& model_dir) override {
    const fs::path dir = model_dir / ".trainer_state";
    if (!fs::exists(dir / "state.json") || !fs::exists(dir / "optimizer.safetensors")) return false;
    nlohmann::json st = model::read_json(dir / "state.json");
    auto store = nn::open_safetensors(dir / "optimizer.safetensors");
    at::NoGradGuard ng;
    for (size_t i = 0; i < params_.size(); ++i) {
      const std::string n = saved_name(names_[i]);
      if (!store->contains("m." + n) || !store->contains("v." + n))
        throw Error((dir / "optimizer.safetensors").string() + ": no optimizer state for '" + n +
                    "' (resuming with other settings?)");
      at::Tensor m = store->get("m." + n).to(at::kFloat), v = store->get("v." + n).to(at::kFloat);
      if (m.sizes() != params_[i].sizes() || v.sizes() != params_[i].sizes())
        throw Error((dir / "optimizer.safetensors").string() + ": state of '" + n + "' has the wrong shape");
      m_[i].copy_(m);
      v_[i].copy_(v);
      if (names_[i].rfind("__", 0) == 0) {
        if (!store->contains("p." + n)) throw Error((dir / "optimizer.safetensors").string() + ": no '" + n + "'");
        params_[i].copy_(store->get("p." + n).to(at::kFloat));
      }
    }
    if (!st.contains("step") || !st["step"].is_number_unsigned())
      throw Error((dir / "state.json").string() + ": field 'step' missing");
    step_ = st["step"].get<size_t>();
    return true;
  }

 private:
  // ---- parameters ----
  // Takes a CPU tensor (initialised on the CPU's generator, so a new head is the same on any
  // device) and keeps it on the training device.
  at::Tensor add_param(const std::string& name, at::Tensor t) {
    t = t.to(device_);
    t.set_requires_grad(true);
    index_[name] = params_.size();
    names_.push_back(name);
    params_.push_back(t);
    // As sentence-transformers (through transformers' Trainer, get_decay_parameter_names): no
    // decay on biases and norms, by the lower-cased name: "bias", "layernorm", "rmsnorm", a
    // "norm" component, "_norm" at a component's end (BERT's LayerNorm, DistilBERT's
    // sa_layer_norm, Qwen's input_layernorm / q_norm / norm).
    std::string lower = name;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto component_end = [&](size_t at) { return at == lower.size() || lower[at] == '.'; };
    bool no_decay = lower.find("bias") != std::string::npos || lower.find("layernorm") != std::string::npos ||
                    lower.find("rmsnorm") != std::string::npos;
    for (size_t at = lower.find("norm"); !no_decay && at != std::string::npos; at = lower.find("norm", at + 1))
      no_decay = component_end(at + 4) && (at == 0 || lower[at - 1] == '.' || lower[at - 1] == '_');
    decay_.push_back(!no_decay);
    return t;
  }
  const at::Tensor& P(const std::string& logical) const {
    auto it = index_.find(prefix_ + logical);
    if (it == index_.end()) throw Error("missing parameter " + prefix_ + logical);
    return params_[it->second];
  }
  const at::Tensor* find(const std::string& full) const {
    auto it = index_.find(full);
    return it == index_.end() ? nullptr : &params_[it->second];
  }
  std::string saved_name(const std::string& n) const { return rename_.count(n) ? rename_.at(n) : n; }
  static NamedTensor to_named(const std::string& name, const at::Tensor& t) {
    NamedTensor nt;
    nt.name = name;
    at::Tensor c = t.detach().to(at::kFloat).cpu().contiguous();
    nt.shape = c.sizes().vec();
    nt.values.assign(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    return nt;
  }

  // The checkpoint names (after prefix_) of the encoder's tensors, from the architecture table.
  std::string layer_name(int64_t l, const char* module) const {
    return arch_->tensors.layer_prefix + std::to_string(l) + "." + module;
  }
  bool has_projection() const {
    return arch_->tensors.embeddings_project && cfg_.embedding_size != cfg_.hidden_size;
  }
  bool has_token_types() const { return arch_->tensors.token_type_embeddings && cfg_.type_vocab_size > 0; }
  std::vector<std::string> encoder_names() const {
    if (!arch_->bert_blocks()) {
      std::vector<std::string> n;
      for (const auto& [name, shape] : nn::rotary_decoder_parameters(cfg_)) n.push_back(name);
      return n;
    }
    const cpu::TensorNames& t = arch_->tensors;
    std::vector<std::string> n = {std::string(t.word_embeddings) + ".weight",
                                  std::string(t.position_embeddings) + ".weight",
                                  std::string(t.embeddings_norm) + ".weight", std::string(t.embeddings_norm) + ".bias"};
    if (has_token_types()) n.push_back(std::string(t.token_type_embeddings) + ".weight");
    if (has_projection()) {
      n.push_back(std::string(t.embeddings_project) + ".weight");
      n.push_back(std::string(t.embeddings_project) + ".bias");
    }
    for (int64_t l = 0; l < cfg_.num_layers; ++l)
      for (const char* m : {t.query, t.key, t.value, t.attention_out, t.attention_norm, t.mlp_up, t.mlp_down,
                            t.mlp_norm}) {
        n.push_back(layer_name(l, m) + ".weight");
        n.push_back(layer_name(l, m) + ".bias");
      }
    return n;
  }
  // weight and bias of one module
  std::pair<const at::Tensor&, const at::Tensor&> WB(const std::string& module) const {
    return {P(module + ".weight"), P(module + ".bias")};
  }

  void setup_cross_head() {
    const int64_t H = cfg_.hidden_size;
    const cpu::HeadNames& head = arch_->head;
    const std::string first = head.first ? head.first : "", final = head.final;
    const bool has_head = index_.count(root_ + final + ".weight") > 0;
    if (has_head) {
      num_labels_ = params_[index_[root_ + final + ".weight"]].size(0);
      if (o_.num_labels > 0 && static_cast<int64_t>(o_.num_labels) != num_labels_)
        throw Error(tdir_.string() + ": the classification head has " + std::to_string(num_labels_) +
                    " labels, not " + std::to_string(o_.num_labels));
    } else {
      // A new head on a plain encoder: names as transformers saves a *ForSequenceClassification
      // model (encoder under "<model_type>.").
      new_head_ = true;
      num_labels_ = o_.num_labels > 0 ? static_cast<int64_t>(o_.num_labels)
                                      : (o_.loss == TrainLoss::BCE ? 1 : 0);
      if (num_labels_ <= 0) throw Error("a new classification head needs the number of labels");
      const std::string base = std::string(arch_->name) + ".";
      if (prefix_.empty()) {
        for (const auto& n : names_) rename_[n] = base + n;
        root_ = "";
      }
      const double init_std = config_double(cfg_.raw, "initializer_range", 0.02);
      auto normal = [&](std::vector<int64_t> shape) { return at::empty(shape).normal_(0, init_std); };
      if (head.kind == cpu::HeadKind::PoolerLinear && !find(prefix_ + "pooler.dense.weight")) {
        add_param(prefix_ + "pooler.dense.weight", normal({H, H}));
        add_param(prefix_ + "pooler.dense.bias", at::zeros({H}));
        if (prefix_.empty()) {
          rename_[prefix_ + "pooler.dense.weight"] = base + "pooler.dense.weight";
          rename_[prefix_ + "pooler.dense.bias"] = base + "pooler.dense.bias";
        }
      }
      if (!first.empty()) {
        add_param(root_ + first + ".weight", normal({H, H}));
        add_param(root_ + first + ".bias", at::zeros({H}));
      }
      add_param(root_ + final + ".weight", normal({num_labels_, H}));
      add_param(root_ + final + ".bias", at::zeros({num_labels_}));
    }
    if (o_.loss == TrainLoss::BCE && num_labels_ != 1)
      throw Error("the bce loss needs a head with 1 label (this one has " + std::to_string(num_labels_) + ")");
    if (o_.loss == TrainLoss::CE && num_labels_ < 2)
      throw Error("the ce loss needs a head with at least 2 labels");
    head_first_ = first;
    head_final_ = final;
  }

  // ---- forward ----
  Batch batch_of(const std::vector<Encoding>& encs) const {
    Batch b = make_batch(encs, tok_->pad_id(), use_types_);
    if (!device_.is_cpu()) {
      b.ids = b.ids.to(device_);
      b.mask = b.mask.to(device_);
      if (b.types.defined()) b.types = b.types.to(device_);
    }
    return b;
  }

  at::Tensor encoder_forward(const Batch& b, bool train) const {
    if (!arch_->bert_blocks())  // Qwen3, Gemma 3: the inference forward over the leaf parameters
      return nn::rotary_decoder_forward(
                 cfg_, [this](const std::string& name) -> const at::Tensor& { return P(name); }, b.ids, b.mask,
                 false, attn_p_, train)
          .back();
    const auto& c = cfg_;
    const int64_t B = b.ids.size(0), L = b.ids.size(1), H = c.hidden_size, nh = c.num_heads, d = H / nh;
    at::Tensor positions;
    if (c.arch->positions == cpu::PositionKind::AbsoluteAfterPadding) {
      at::Tensor not_pad = b.ids.ne(c.pad_token_id).to(at::kLong);
      positions = at::cumsum(not_pad, 1) * not_pad + c.pad_token_id;
    } else {
      positions = at::arange(L, b.ids.options()).unsqueeze(0).expand({B, L});
    }
    const cpu::TensorNames& t = arch_->tensors;
    const std::string w = ".weight";
    at::Tensor x = at::embedding(P(t.word_embeddings + w), b.ids, c.pad_token_id);
    if (has_token_types()) {
      at::Tensor types = b.types.defined() ? b.types : at::zeros_like(b.ids);
      x = x + at::embedding(P(t.token_type_embeddings + w), types);
    }
    x = x + at::embedding(P(t.position_embeddings + w), positions,
                          c.arch->positions == cpu::PositionKind::AbsoluteAfterPadding ? c.pad_token_id : -1);
    const int64_t E = x.size(-1);
    x = at::layer_norm(x, {E}, P(t.embeddings_norm + w), P(std::string(t.embeddings_norm) + ".bias"),
                       c.layer_norm_eps);
    x = at::dropout(x, hidden_p_, train);
    if (has_projection()) {
      auto [pw, pb] = WB(t.embeddings_project);
      x = at::linear(x, pw, pb);
    }
    at::Tensor bias = (1 - b.mask).to(at::kFloat).mul(-3.4028234663852886e38)
                          .view({B, 1, 1, L}).expand({B, nh, 1, L}).reshape({B * nh, 1, L});
    const double scale = 1.0 / std::sqrt(static_cast<double>(d));
    // DistilBERT has no dropout after the attention's output projection (transformers'
    // MultiHeadSelfAttention); BERT, RoBERTa and ELECTRA do (BertSelfOutput).
    const double attn_out_p = c.arch->attention_output_dropout ? hidden_p_ : 0.0;
    for (int64_t l = 0; l < c.num_layers; ++l) {
      auto [qw, qb] = WB(layer_name(l, t.query));
      auto [kw, kb] = WB(layer_name(l, t.key));
      auto [vw, vb] = WB(layer_name(l, t.value));
      at::Tensor qkv = at::linear(x, at::cat({qw, kw, vw}, 0), at::cat({qb, kb, vb}, 0));
      at::Tensor parts = qkv.view({B, L, 3, nh, d}).permute({2, 0, 3, 1, 4});
      at::Tensor q = parts[0].reshape({B * nh, L, d});
      at::Tensor k = parts[1].reshape({B * nh, L, d});
      at::Tensor v = parts[2].reshape({B * nh, L, d});
      at::Tensor probs = at::softmax(at::baddbmm(bias, q, k.transpose(1, 2), 1.0, scale), -1);
      probs = at::dropout(probs, attn_p_, train);
      at::Tensor ctx = at::bmm(probs, v).view({B, nh, L, d}).permute({0, 2, 1, 3}).reshape({B, L, H});
      auto [ow, ob] = WB(layer_name(l, t.attention_out));
      at::Tensor attn = at::dropout(at::linear(ctx, ow, ob), attn_out_p, train);
      auto [n1w, n1b] = WB(layer_name(l, t.attention_norm));
      at::Tensor h1 = at::layer_norm(attn + x, {H}, n1w, n1b, c.layer_norm_eps);
      auto [uw, ub] = WB(layer_name(l, t.mlp_up));
      auto [dw, db] = WB(layer_name(l, t.mlp_down));
      at::Tensor ff = at::dropout(at::linear(activation(at::linear(h1, uw, ub)), dw, db), hidden_p_, train);
      auto [n2w, n2b] = WB(layer_name(l, t.mlp_norm));
      x = at::layer_norm(ff + h1, {H}, n2w, n2b, c.layer_norm_eps);
    }
    return x;
  }

  at::Tensor activation(const at::Tensor& x) const {
    const std::string& a = cfg_.activation;
    if (a == "gelu") return at::gelu(x);
    if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return at::gelu(x, "tanh");
    if (a == "relu") return at::relu(x);
    if (a == "silu" || a == "swish") return at::silu(x);
    if (a == "quick_gelu") return x * at::sigmoid(x * 1.702);
    throw Error("unsupported activation '" + a + "'");
  }

  static std::vector<std::string> texts_of(const std::vector<TrainExample>& b, int which) {
    std::vector<std::string> t;
    for (const auto& e : b) t.push_back(which == 0 ? e.a : which == 1 ? e.b : e.negative);
    return t;
  }

  at::Tensor embed_tensor(const std::vector<std::string>& texts, bool train) const {
    Bf16Autocast autocast(bf16_, device_);
    std::vector<Encoding> encs;
    // Stripped as sentence-transformers' Transformer.tokenize does (and sbert's inference).
    for (const auto& t : texts) encs.push_back(tok_->encode(cpu::strip_like_python(t), true, max_length_));
    Batch b = batch_of(encs);
    at::Tensor h = encoder_forward(b, train);
    std::vector<at::Tensor> parts;
    for (auto m : modes_) parts.push_back(nn::pool(h, b.mask, m));
    at::Tensor x = parts.size() == 1 ? parts[0] : at::cat(parts, 1);
    for (const auto& p : layout_.post) {
      if (p.kind == nn::PostModule::Dense) x = layout_.dense_modules[p.dense_index].apply(x);
      else {
        x = x.to(at::kFloat);
        x = x / x.norm(2, {1}, true).clamp_min(1e-12);
      }
    }
    return x.to(at::kFloat);
  }

  at::Tensor cross_logits(const std::vector<TrainExample>& batch, bool train) const {
    Bf16Autocast autocast(bf16_, device_);
    std::vector<Encoding> encs;
    for (const auto& e : batch) encs.push_back(tok_->encode_pair(e.a, e.b, max_length_, Truncation::LongestFirst));
    Batch b = batch_of(encs);
    at::Tensor h = encoder_forward(b, train);
    at::Tensor x = h.select(1, 0);
    // The heads of transformers' *ForSequenceClassification, dropout included.
    switch (arch_->head.kind) {
      case cpu::HeadKind::PoolerLinear:
        x = at::tanh(at::linear(x, P("pooler.dense.weight"), P("pooler.dense.bias")));
        break;
      case cpu::HeadKind::PreClassifierRelu:
        x = at::relu(at::linear(x, *find(root_ + head_first_ + ".weight"), *find(root_ + head_first_ + ".bias")));
        break;
      case cpu::HeadKind::DenseTanh:
      case cpu::HeadKind::DenseGelu:
        x = at::dropout(x, classifier_p_, train);
        x = at::linear(x, *find(root_ + head_first_ + ".weight"), *find(root_ + head_first_ + ".bias"));
        x = arch_->head.kind == cpu::HeadKind::DenseTanh ? at::tanh(x) : at::gelu(x);
        break;
    }
    x = at::dropout(x, classifier_p_, train);
    return at::linear(x, *find(root_ + head_final_ + ".weight"), *find(root_ + head_final_ + ".bias")).to(at::kFloat);
  }

  at::Tensor forward_loss(const std::vector<TrainExample>& batch, bool train) const {
    const int64_t B = static_cast<int64_t>(batch.size());
    std::vector<float> scores;
    std::vector<int64_t> labels;
    for (const auto& e : batch) {
      scores.push_back(e.score);
      labels.push_back(e.label);
    }
    at::Tensor score_t = at::tensor(scores).to(device_);
    at::Tensor label_t = at::tensor(labels).to(device_);
    auto check_labels = [&](int64_t n) {
      for (int64_t l : labels)
        if (l < 0 || l >= n)
          throw Error("label " + std::to_string(l) + " outside the " + std::to_string(n) + " classes");
    };
    if (!bi_) {
      at::Tensor logits = cross_logits(batch, train);
      if (o_.loss == TrainLoss::BCE) return at::binary_cross_entropy_with_logits(logits.view({-1}), score_t);
      check_labels(num_labels_);
      return at::cross_entropy_loss(logits, label_t);
    }
    at::Tensor u = embed_tensor(texts_of(batch, 0), train);
    at::Tensor v = embed_tensor(texts_of(batch, 1), train);
    switch (o_.loss) {
      case TrainLoss::Cosine:
        return at::mse_loss(at::cosine_similarity(u, v, 1, 1e-8), score_t);
      case TrainLoss::CoSENT: {
        at::Tensor s = at::cosine_similarity(u, v, 1, 1e-8) * o_.scale;
        at::Tensor diff = s.unsqueeze(1) - s.unsqueeze(0);
        at::Tensor lower = (score_t.unsqueeze(1) < score_t.unsqueeze(0)).to(at::kFloat);
        diff = diff - (1 - lower) * 1e12;
        return at::logsumexp(at::cat({at::zeros({1}, diff.options()), diff.reshape({-1})}, 0), c10::IntArrayRef{0});
      }
      case TrainLoss::MNRL: {
        at::Tensor cands = v;
        bool has_neg = false;
        for (const auto& e : batch) has_neg = has_neg || !e.negative.empty();
        if (has_neg) cands = at::cat({v, embed_tensor(texts_of(batch, 2), train)}, 0);
        at::Tensor a_n = u / u.norm(2, {1}, true).clamp_min(1e-12);
        at::Tensor c_n = cands / cands.norm(2, {1}, true).clamp_min(1e-12);
        at::Tensor sim = at::mm(a_n, c_n.t()) * o_.scale;
        return at::cross_entropy_loss(sim, at::arange(B, label_t.options()));
      }
      case TrainLoss::Softmax: {
        check_labels(softmax_w_.size(0));
        at::Tensor logits = at::linear(at::cat({u, v, (u - v).abs()}, 1), softmax_w_, softmax_b_);
        return at::cross_entropy_loss(logits, label_t);
      }
      default: break;
    }
    throw Error("loss not available for a bi-encoder");
  }

  double lr_factor(size_t step) const {
    if (o_.schedule == "constant") return 1.0;
    const size_t total = std::max<size_t>(total_, 1);
    const size_t warmup = static_cast<size_t>(std::ceil(static_cast<double>(total) * o_.warmup_ratio));
    if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<size_t>(1, warmup));
    return std::max(0.0, static_cast<double>(total - std::min(step, total)) /
                             static_cast<double>(std::max<size_t>(1, total - warmup)));
  }

  TrainOptions o_;
  bool bi_ = true;
  nn::ModelLayout layout_;
  fs::path tdir_;
  nn::TransformerConfig cfg_;
  std::string prefix_, root_;
  std::unique_ptr<Tokenizer> tok_;
  bool use_types_ = false;
  double hidden_p_ = 0.1, attn_p_ = 0.1, classifier_p_ = 0.1;
  size_t max_length_ = 0;
  std::vector<std::string> names_;
  std::vector<at::Tensor> params_, m_, v_;
  std::vector<bool> decay_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> rename_;
  std::vector<nn::PoolingMode> modes_;
  int64_t dim_ = 0;
  at::Tensor softmax_w_, softmax_b_;
  const cpu::Architecture* arch_ = nullptr;
  bool bf16_ = false;             // --dtype bfloat16: the forward under autocast, float32 master weights
  at::Device device_ = at::kCPU;  // --device: parameters, optimizer state and batches live here
  bool new_head_ = false;
  int64_t num_labels_ = 0;
  std::string head_first_, head_final_;
  size_t step_ = 0, total_ = 0;
};

void TrainerImpl::save(const fs::path& out_given, const std::string& card) const {
  // Everything goes to a fresh folder beside out_dir, renamed into place at the end.
  const fs::path out_dir = train_output_folder(out_given);  // model/ -> model; refuses "." and ".."
  fs::path parent = out_dir.parent_path().empty() ? fs::path(".") : out_dir.parent_path();
  const fs::path tmp = train_staging_path(out_dir, "tmp", ::getpid());
  try {
    fs::create_directories(parent);
    fs::remove_all(tmp);
    fs::create_directories(tmp);
  } catch (const fs::filesystem_error& e) {
    throw Error(out_dir.string() + ": cannot create the folder to save into: " + e.code().message());
  }
  // The encoder's tensors go to its model.safetensors, each Dense module's ("<dir>/linear.*")
  // to <dir>/model.safetensors.
  std::vector<NamedTensor> encoder_tensors;
  std::map<std::string, std::vector<NamedTensor>> dense_tensors;
  for (NamedTensor& t : parameters()) {
    const size_t slash = t.name.rfind('/');
    if (slash == std::string::npos) {
      encoder_tensors.push_back(std::move(t));
    } else {
      const std::string dir = t.name.substr(0, slash);
      t.name = t.name.substr(slash + 1);
      dense_tensors[dir].push_back(std::move(t));
    }
  }
  try {
    fs::path tdst = tmp;
    nlohmann::json config = cfg_.raw;
    if (bi_) {
      const fs::path rel = fs::relative(tdir_, layout_.root);
      if (!rel.empty() && rel != ".") tdst = tmp / rel;
      fs::create_directories(tdst);
      if (layout_.sentence_transformers) {
        // Copy the module folders and sentence-transformers files (all but the weights).
        for (const auto& entry : fs::recursive_directory_iterator(layout_.root)) {
          const fs::path r = fs::relative(entry.path(), layout_.root);
          if (r.string().rfind(".", 0) == 0) continue;  // .trainer_state, .git, ...
          if (entry.is_directory()) {
            fs::create_directories(tmp / r);
            continue;
          }
          const std::string fname = entry.path().filename().string();
          if (entry.path().parent_path() == tdir_ && (is_weight_file(fname) || fname == "README.md")) continue;
          if (is_weight_file(fname) && dense_tensors.count(fs::relative(entry.path().parent_path(), layout_.root).generic_string()))
            continue;  // a Dense module's weights: written below from the trained parameters
          if (fname == "README.md" && entry.path().parent_path() == layout_.root) continue;
          fs::copy_file(entry.path(), tmp / r, fs::copy_options::overwrite_existing);
        }
        for (const auto& p : layout_.post)
          if (p.kind == nn::PostModule::Normalize) fs::create_directories(tmp / "2_Normalize");
      } else {
        copy_tokenizer_files(tdir_, tdst);
        // A plain Hugging Face folder becomes a sentence-transformers one with mean pooling, as
        // sentence-transformers does when it loads one.
        model::StLayout st;
        st.pooling.modes = {"mean"};
        st.pooling.word_embedding_dimension = cfg_.hidden_size;
        st.max_seq_length = max_length_;
        model::write_st_layout(tmp, st);
      }
      if (!fs::exists(tmp / "config_sentence_transformers.json"))
        write_text(tmp / "config_sentence_transformers.json",
                   json_dump_file({{"__version__", {{"sentence_transformers", "3.0.0"}, {"sbert", "0.1.0"}}},
                                   {"prompts", nlohmann::json::object()},
                                   {"default_prompt_name", nullptr},
                                   {"similarity_fn_name", "cosine"}}));
    } else {
      copy_tokenizer_files(tdir_, tdst);
      // The length the training truncated pairs to (e.g. the base bi-encoder's max_seq_length)
      // goes with the model, as sentence-transformers' CrossEncoder saves its max_length: its
      // inference then truncates as its training evaluation did.
      record_model_max_length(tdst / "tokenizer_config.json", max_length_);
      if (new_head_) {
        config["architectures"] = {
            std::string(cpu::model_type_entry(*cfg_.arch, cfg_.model_type).classification_class)};
      }
      nlohmann::json id2label = nlohmann::json::object(), label2id = nlohmann::json::object();
      for (int64_t i = 0; i < num_labels_; ++i) {
        std::string name = static_cast<size_t>(i) < o_.label_names.size() ? o_.label_names[static_cast<size_t>(i)]
                                                                           : "LABEL_" + std::to_string(i);
        if (new_head_ || !o_.label_names.empty() || !config.contains("id2label")) {
          id2label[std::to_string(i)] = name;
          label2id[name] = i;
        }
      }
      if (!id2label.empty()) {
        config["id2label"] = id2label;
        config["label2id"] = label2id;
      }
      if (num_labels_ == 1) config["sentence_transformers"] = {{"activation_fn", "torch.nn.modules.activation.Sigmoid"}};
    }
    write_text(tdst / "config.json", json_dump_file(config));
    write_safetensors(tdst / "model.safetensors", encoder_tensors);
    for (const auto& [dir, tensors] : dense_tensors) write_safetensors(tmp / dir / "model.safetensors", tensors);
    if (!card.empty()) write_text(tmp / "README.md", card);
    save_state(tmp / ".trainer_state");
  } catch (const fs::filesystem_error& e) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw Error(out_dir.string() + ": saving the model failed: " + e.code().message() + " (" + e.path1().string() + ")");
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
  // (A kill between the two renames leaves out_dir missing and both folders beside it; the next
  // run's prepare_train_output completes the swap.)
  std::error_code ec;
  fs::path old;
  if (fs::exists(fs::symlink_status(out_dir, ec))) {
    old = train_staging_path(out_dir, "old", ::getpid());
    fs::remove_all(old, ec);
    fs::rename(out_dir, old, ec);
    if (ec) {
      const std::string why = ec.message();
      fs::remove_all(tmp, ec);
      throw Error(out_dir.string() + ": cannot move the previous folder aside to save the model: " + why);
    }
  }
  fs::rename(tmp, out_dir, ec);
  if (ec) {
    const std::string why = ec.message();
    if (!old.empty()) fs::rename(old, out_dir, ec);  // put the previous folder back
    fs::remove_all(tmp, ec);
    throw Error(out_dir.string() + ": cannot put the saved model in place: " + why);
  }
  if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace

std::unique_ptr<Trainer> Trainer::create(const fs::path& model_dir, const TrainOptions& options) {
  try {
    return std::make_unique<TrainerImpl>(model_dir, options);
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw Error("training setup failed: " + what.substr(0, what.find('\n')));
  }
}

TrainSummary run_training(Trainer& trainer, const TrainOptions& o, const std::vector<TrainExample>& train,
                          const std::vector<TrainExample>& dev, const fs::path& out_dir,
                          const TrainLoopOptions& loop) {
  if (train.empty()) throw Error("no training rows");
  if (!dev.empty() && dev.size() < 2) throw Error("the dev set needs at least 2 rows (it has 1)");
  TrainSummary sum;
  const size_t bs = o.batch_size;
  const size_t per_epoch = (train.size() + bs - 1) / bs;
  const size_t total = o.max_steps > 0 ? o.max_steps : per_epoch * std::max<size_t>(o.epochs, 1);
  trainer.set_total_steps(total);
  auto card = [&]() { return loop.model_card ? loop.model_card(sum.evals) : std::string(); };
  bool saved_best = false;
  auto do_eval = [&](const StepInfo& info) {
    if (dev.empty()) return;
    EvalResult r = trainer.evaluate(dev);
    sum.evals.emplace_back(info.step, r);
    if (loop.on_eval) loop.on_eval(info, r);
    if (loop.save_best && info.step > 0 && (!saved_best || r.primary() > sum.best)) {
      sum.best = r.primary();
      saved_best = true;
      trainer.save(out_dir, card());
    }
  };
  const size_t resume_from = trainer.steps_done();
  StepInfo start;
  if (resume_from == 0) do_eval(start);
  std::vector<size_t> order(train.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(o.seed);
  size_t step = 0;
  StepInfo last;
  for (size_t epoch = 0; step < total; ++epoch) {
    if (o.shuffle) std::shuffle(order.begin(), order.end(), rng);
    bool trained_this_epoch = false;
    for (size_t s = 0; s < train.size() && step < total; s += bs) {
      if (step < resume_from) {  // already trained before the resume
        ++step;
        continue;
      }
      trained_this_epoch = true;
      if (loop.stop && loop.stop()) {
        sum.interrupted = true;
        break;
      }
      std::vector<TrainExample> batch;
      for (size_t i = s; i < std::min(train.size(), s + bs); ++i) batch.push_back(train[order[i]]);
      try {
        last = trainer.step(batch);
      } catch (const c10::Error& e) {
        std::string what = e.what_without_backtrace();
        throw Error("training step " + std::to_string(step + 1) + " failed: " + what.substr(0, what.find('\n')));
      }
      last.epoch = epoch;
      ++step;
      if (!std::isfinite(last.loss))
        throw Error("the loss became " + std::to_string(last.loss) + " at step " + std::to_string(step) +
                    " (learning rate too high?)");
      if (loop.on_step) loop.on_step(last);
      if (loop.eval_steps > 0 && step % loop.eval_steps == 0 && step < total) do_eval(last);
      if (loop.save_steps > 0 && step % loop.save_steps == 0 && step < total && !loop.save_best)
        trainer.save(out_dir, card());  // atomic: the folder is always a whole model + state
    }
    if (sum.interrupted) break;
    if (trained_this_epoch) do_eval(last);
  }
  sum.steps = step;
  if (!loop.save_best || !saved_best) trainer.save(out_dir, card());
  return sum;
}

}  // namespace sbert
