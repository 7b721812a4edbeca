// Training Sentence-BERT models: bi-encoders (CosineSimilarityLoss, CoSENTLoss,
// MultipleNegativesRankingLoss, SoftmaxLoss) and cross-encoders (BCEWithLogitsLoss,
// CrossEntropyLoss), with AdamW and a linear warmup/decay schedule, as sentence-transformers and
// PyTorch define them. The result is a model folder that sentence-transformers / transformers
// (and sbert itself) load unchanged. No libtorch types here.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sbert/matrix.h"
#include "sbert/safetensors_writer.h"

namespace sbert {

enum class TrainObjective { Bi, Cross };
enum class TrainLoss { Cosine, CoSENT, MNRL, Softmax, BCE, CE };

// "cosine" | "cosent" | "mnrl" | "softmax" | "bce" | "ce"; throws sbert::Error otherwise or when
// the loss does not belong to the objective.
TrainLoss parse_train_loss(const std::string& name, TrainObjective objective);
std::string train_loss_name(TrainLoss loss);

// One training row: a pair with a score (cosine, cosent, bce), a pair with a class (softmax, ce),
// or (anchor, positive[, negative]) for mnrl.
struct TrainExample {
  std::string a, b, negative;
  float score = 0;
  int64_t label = -1;
};

// How a data file maps onto TrainExample.
struct TrainDataSpec {
  std::string format = "auto";          // auto | csv | tsv | jsonl
  bool header = true;                   // csv/tsv
  std::string a, b, label, negative;    // column (name or 0-based index) / JSONL key
  double score_scale = 1.0;             // score = value / score_scale, must land in [0, 1]
  std::vector<std::string> label_names; // class labels by name (index = class id)
  bool needs_label = true;              // false for mnrl
  bool classes = false;                 // label is a class (softmax, ce) instead of a score
};

// Reads every row; one-line sbert::Error naming FILE:LINE and the field on a bad row (label
// outside the scale, unknown label name, missing column) and on an empty file.
std::vector<TrainExample> read_train_examples(const std::string& path, const TrainDataSpec& spec);

// ---- the output folder (torch-free; src/task/train_output.cpp) ----
// Trainer::save writes a whole model into PARENT/.NAME.tmp-PID, moves the previous folder aside
// to PARENT/.NAME.old-PID, renames the new one into place and removes the old one.
// `kind`: "tmp" or "old".
std::filesystem::path train_staging_path(const std::filesystem::path& out_dir, const char* kind, long pid);
// `out` without a trailing separator (-o model/ is model); throws sbert::Error for a path with no
// folder name of its own (".", "..", "/").
std::filesystem::path train_output_folder(const std::filesystem::path& out);

struct TrainInput {
  std::string option;  // "--train", "--dev", "--model", "--log"
  std::filesystem::path path;
};
// Before a run: refuses (one-line sbert::Error) an output folder that is the current directory or
// holds it (-o .), a symbolic link (dangling or not: the save would replace the link, not the
// folder it names), something that is not a folder, or a folder that contains one of `inputs`
// (--overwrite would delete the training data). Then cleans up after earlier runs killed during a
// save: their .NAME.tmp-PID / .NAME.old-PID folders (PID no longer running) are removed, and a
// save killed between its two renames is completed (the new folder renamed into place). Returns
// one line per thing done, for the log.
std::vector<std::string> prepare_train_output(const std::filesystem::path& out, const std::vector<TrainInput>& inputs);

struct TrainOptions {
  TrainObjective objective = TrainObjective::Bi;
  TrainLoss loss = TrainLoss::Cosine;
  double lr = 2e-5;
  double weight_decay = 0.01;
  double warmup_ratio = 0.1;
  std::string schedule = "linear";  // linear | constant
  double max_grad_norm = 1.0;       // <= 0: no clipping
  size_t epochs = 1;
  size_t max_steps = 0;             // 0: epochs * batches per epoch
  size_t batch_size = 16;
  size_t max_length = 0;            // 0: the model's (sentence_bert_config / tokenizer_config)
  uint64_t seed = 42;
  std::optional<double> dropout;    // unset: the config's hidden/attention dropout
  bool shuffle = true;
  double scale = 20.0;              // mnrl / cosent scale
  size_t num_labels = 0;            // cross / softmax: classes (0: from the data / head)
  std::vector<std::string> label_names;
  std::string dtype = "float32";    // bfloat16: autocast-style bf16 compute, float32 master weights
  std::string device = "cpu";       // cpu | cuda | cuda:N (a libtorch built with CUDA)
  int threads = 0;
};

struct EvalResult {
  size_t rows = 0;
  double spearman = 0, pearson = 0;  // score objectives
  double accuracy = -1;              // class objectives (-1: not applicable)
  double loss = 0;
  // The main figure: spearman for score objectives, accuracy for class objectives.
  double primary() const { return accuracy >= 0 ? accuracy : spearman; }
};

struct StepInfo {
  size_t step = 0;  // 1-based optimizer step
  size_t epoch = 0; // 0-based
  double loss = 0, grad_norm = 0, lr = 0;
};

class Trainer {
 public:
  // Loads the starting model: a sentence-transformers folder, a plain Hugging Face folder (mean
  // pooling added) or, for cross-encoders, a plain encoder (a new head of num_labels outputs
  // initialised from seed). Throws sbert::Error.
  static std::unique_ptr<Trainer> create(const std::filesystem::path& model_dir,
                                         const TrainOptions& options);
  virtual ~Trainer() = default;

  // Forward (training mode: dropout as configured) + backward of one batch, no update: the loss;
  // gradients() then holds the raw gradients.
  virtual double compute_gradients(const std::vector<TrainExample>& batch) = 0;
  // One optimizer step on a batch (forward, backward, clip, AdamW, schedule).
  virtual StepInfo step(const std::vector<TrainExample>& batch) = 0;
  // Sets the total number of optimizer steps the schedule spans (warmup from warmup_ratio).
  virtual void set_total_steps(size_t total) = 0;

  // Every parameter / its last gradient (float32), named as in the checkpoint read (gradients)
  // and as in the checkpoint written (parameters: a new cross-encoder head on a plain encoder
  // puts the encoder under "<model_type>."). Parameters without a gradient (unused by the
  // loss) are left out of gradients(); the softmax loss's classifier is in gradients() as
  // "__softmax__.classifier.*" but not saved.
  virtual std::vector<NamedTensor> parameters() const = 0;
  virtual std::vector<NamedTensor> gradients() const = 0;
  virtual size_t parameter_count() const = 0;
  // The loss of a batch without dropout or gradients, and a nudge of one parameter element
  // (names as gradients() gives them): for finite-difference checks.
  virtual double loss(const std::vector<TrainExample>& batch) = 0;
  virtual void perturb(const std::string& name, size_t index, double delta) = 0;

  // Evaluation (no dropout, no gradients).
  virtual EvalResult evaluate(const std::vector<TrainExample>& dev) = 0;
  // Bi-encoder: sentence embeddings as the saved folder computes them.
  virtual Matrix embed(const std::vector<std::string>& texts) = 0;
  // Cross-encoder: logits of pairs.
  virtual Matrix logits(const std::vector<std::pair<std::string, std::string>>& pairs) = 0;

  // Writes the model folder (sentence-transformers layout for bi-encoders, Hugging Face
  // sequence-classification folder for cross-encoders), each file atomically. `card` is the
  // README.md body.
  virtual void save(const std::filesystem::path& out_dir, const std::string& card) const = 0;

  virtual size_t steps_done() const = 0;
  // Resuming: save() also writes the optimizer state (AdamW moments, step count) into
  // out_dir/.trainer_state/; a Trainer created on that folder picks it up with load_state
  // (returns false when the folder holds no state).
  virtual bool load_state(const std::filesystem::path& model_dir) = 0;
};

// The whole training loop: epochs over `train` (shuffled with the seed unless options.shuffle
// is false), evaluation on `dev` every eval_steps and at each epoch end, saving to out_dir (the
// best evaluation with save_best, else the last state). Callbacks may be empty; `stop` is polled
// between steps (Ctrl-C): the current state is then saved and the loop returns. A trainer that
// resumed (steps_done() > 0) skips the batches already trained, in the same order.
struct TrainLoopOptions {
  size_t eval_steps = 0;
  size_t save_steps = 0;  // > 0: save the state to out_dir every N steps (a checkpoint --resume continues)
  bool save_best = false;
  std::function<void(const StepInfo&)> on_step;
  std::function<void(const StepInfo&, const EvalResult&)> on_eval;
  std::function<bool()> stop;
  std::function<std::string(const std::vector<std::pair<size_t, EvalResult>>&)> model_card;
};
struct TrainSummary {
  size_t steps = 0;
  std::vector<std::pair<size_t, EvalResult>> evals;  // (step, result); step 0 = before training
  bool interrupted = false;
  double best = 0;
};
TrainSummary run_training(Trainer& trainer, const TrainOptions& options,
                          const std::vector<TrainExample>& train, const std::vector<TrainExample>& dev,
                          const std::filesystem::path& out_dir, const TrainLoopOptions& loop);

}  // namespace sbert
