// sbert train: fine-tune a bi-encoder (sentence-transformers) or a cross-encoder on pairs,
// NLI triples or (anchor, positive[, negative]) rows; writes a model folder that sbert and
// sentence-transformers / transformers load unchanged. Orchestration only: the training code
// is sbert::Trainer / run_training (include/sbert/train.h).
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "cli_common.h"
#include "command.h"
#include "sbert/error.h"
#include "sbert/train.h"

namespace sbert::cli {
namespace {
namespace fs = std::filesystem;

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) { g_stop = true; }

struct TrainArgs {
  std::string objective, model, loss, train, dev, out;
  bool overwrite = false, offline = false, no_header = false, no_shuffle = false,
       save_best = false, resume = false;
  std::string input_format = "auto", a_col, b_col, label_col, neg_col, label_names, log_file;
  std::string schedule = "linear", dtype = "float32", device = "cpu";
  double score_scale = 1.0, lr = 2e-5, weight_decay = 0.01, warmup_ratio = 0.1, max_grad_norm = 1.0,
         scale = 20.0;
  std::optional<double> dropout;
  size_t epochs = 1, max_steps = 0, batch_size = 16, max_length = 0, num_labels = 0, eval_steps = 0, save_steps = 0;
  uint64_t seed = 42;
  int threads = 0;
};

std::vector<std::string> split_names(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  return out;
}

std::string num(double x) {
  std::ostringstream o;
  o << x;
  return o.str();
}

std::string eval_json(const EvalResult& r) {
  std::string s = "{\"rows\": " + std::to_string(r.rows) + ", \"loss\": " + num(r.loss);
  if (r.accuracy >= 0) s += ", \"accuracy\": " + num(r.accuracy);
  else s += ", \"spearman\": " + num(r.spearman) + ", \"pearson\": " + num(r.pearson);
  return s + "}";
}

int run_train(TrainArgs& a) {
  TrainOptions o;
  if (a.objective == "bi") o.objective = TrainObjective::Bi;
  else if (a.objective == "cross") o.objective = TrainObjective::Cross;
  else throw Error("unknown objective '" + a.objective + "' (bi, cross)");
  o.loss = parse_train_loss(a.loss, o.objective);
  // -o checked (and earlier killed runs' temporaries cleaned) before anything is read or written.
  std::vector<TrainInput> inputs = {{"--train", a.train}, {"--dev", a.dev}, {"--log", a.log_file}};
  if (!a.resume && fs::exists(a.model)) inputs.push_back({"--model", a.model});  // --resume trains -o itself
  for (const std::string& line : prepare_train_output(a.out, inputs)) log(line);
  if (a.resume) {
    if (!fs::exists(fs::path(a.out) / ".trainer_state" / "state.json"))
      throw Error(a.out + ": no training state to resume (.trainer_state/state.json missing)");
  } else if (fs::exists(a.out) && !a.overwrite) {
    throw Error(a.out + ": output folder exists (use --overwrite to replace it, --resume to continue)");
  }
  if (!(a.lr > 0)) throw Error("--lr must be positive");
  if (a.batch_size == 0) throw Error("--batch-size must be positive");
  if (a.score_scale <= 0) throw Error("--score-scale must be positive");

  const bool classes = o.loss == TrainLoss::Softmax || o.loss == TrainLoss::CE;
  const bool mnrl = o.loss == TrainLoss::MNRL;
  TrainDataSpec d;
  d.format = a.input_format;
  d.header = !a.no_header;
  d.a = !a.a_col.empty() ? a.a_col : mnrl ? "anchor" : classes ? "premise" : "sentence1";
  d.b = !a.b_col.empty() ? a.b_col : mnrl ? "positive" : classes ? "hypothesis" : "sentence2";
  d.label = !a.label_col.empty() ? a.label_col : classes ? "label" : "score";
  d.negative = a.neg_col;
  d.score_scale = a.score_scale;
  d.label_names = split_names(a.label_names);
  d.classes = classes;
  d.needs_label = !mnrl;
  std::vector<TrainExample> train = read_train_examples(a.train, d);
  std::vector<TrainExample> dev;
  if (!a.dev.empty()) {
    TrainDataSpec dd = d;
    if (mnrl) {
      dd.needs_label = true;  // the dev set of an mnrl run is scored pairs (Spearman)
      if (a.label_col.empty()) dd.label = "score";
    }
    dev = read_train_examples(a.dev, dd);
    if (dev.size() < 2) throw Error(a.dev + ": the dev set needs at least 2 rows (it has 1)");
  }
  if (classes) {
    size_t n = d.label_names.size();
    if (n == 0)
      for (const auto& e : train) n = std::max(n, static_cast<size_t>(e.label + 1));
    o.num_labels = a.num_labels > 0 ? a.num_labels : n;
    if (o.num_labels < 2) throw Error(a.train + ": a class objective needs at least 2 labels");
    for (const auto& e : train)
      if (static_cast<size_t>(e.label) >= o.num_labels)
        throw Error(a.train + ": label " + std::to_string(e.label) + " outside the " +
                    std::to_string(o.num_labels) + " classes");
  } else {
    o.num_labels = a.num_labels;
  }
  o.label_names = d.label_names;
  o.lr = a.lr;
  o.weight_decay = a.weight_decay;
  o.warmup_ratio = a.warmup_ratio;
  o.schedule = a.schedule;
  o.max_grad_norm = a.max_grad_norm;
  o.epochs = a.epochs;
  o.max_steps = a.max_steps;
  o.batch_size = a.batch_size;
  o.max_length = a.max_length;
  o.seed = a.seed;
  o.dropout = a.dropout;
  o.shuffle = !a.no_shuffle;
  o.scale = a.scale;
  o.dtype = a.dtype;
  o.device = a.device;
  o.threads = a.threads;

  ModelOptions mo;
  mo.model = a.model;
  mo.offline = a.offline;
  const fs::path model_dir = a.resume ? fs::path(a.out) : mo.resolve();
  auto trainer = Trainer::create(model_dir, o);
  if (a.resume) {
    trainer->load_state(model_dir);
    log("resuming after step " + std::to_string(trainer->steps_done()));
  }
  log("training " + a.objective + "-encoder " + model_dir.string() + " with " + train_loss_name(o.loss) +
      " on " + std::to_string(train.size()) + " rows (" + std::to_string(trainer->parameter_count()) +
      " parameters)");

  std::unique_ptr<std::ofstream> logf;
  if (!a.log_file.empty()) {
    logf = std::make_unique<std::ofstream>(a.log_file, a.resume ? std::ios::app : std::ios::trunc);
    if (!*logf) throw Error(a.log_file + ": cannot open for writing");
  }
  const size_t per_epoch = (train.size() + a.batch_size - 1) / a.batch_size;
  const size_t total = a.max_steps > 0 ? a.max_steps : per_epoch * std::max<size_t>(a.epochs, 1);
  Progress progress("train", total);

  TrainLoopOptions loop;
  loop.eval_steps = a.eval_steps;
  loop.save_steps = a.save_steps;
  loop.save_best = a.save_best;
  if (a.save_steps && a.save_best)
    throw Error("--save-steps and --save-best both choose what -o holds: give one of them");
  loop.on_step = [&](const StepInfo& s) {
    progress.advance(1);
    if (logf)
      *logf << "{\"step\": " << s.step << ", \"epoch\": " << s.epoch << ", \"loss\": " << num(s.loss)
            << ", \"grad_norm\": " << num(s.grad_norm) << ", \"lr\": " << num(s.lr) << "}\n"
            << std::flush;
  };
  loop.on_eval = [&](const StepInfo& s, const EvalResult& r) {
    if (logf) *logf << "{\"step\": " << s.step << ", \"eval\": " << eval_json(r) << "}\n" << std::flush;
    log("step " + std::to_string(s.step) + ": dev " +
        (r.accuracy >= 0 ? "accuracy " + num(r.accuracy)
                         : "spearman " + num(r.spearman) + ", pearson " + num(r.pearson)));
  };
  loop.stop = []() { return g_stop.load(); };
  loop.model_card = [&](const std::vector<std::pair<size_t, EvalResult>>& evals) {
    std::ostringstream c;
    c << "---\nlibrary_name: sentence-transformers\ntags:\n- sbert-train\n- "
      << (o.objective == TrainObjective::Bi ? "sentence-similarity" : "cross-encoder") << "\n---\n\n";
    c << "# " << fs::path(a.out).filename().string() << "\n\n";
    c << "Fine-tuned from `" << a.model << "` by `sbert train " << a.objective << "` with "
      << train_loss_name(o.loss) << ".\n\n## Training arguments\n\n";
    c << "| argument | value |\n| --- | --- |\n";
    c << "| train | `" << a.train << "` (" << train.size() << " rows) |\n";
    if (!a.dev.empty()) c << "| dev | `" << a.dev << "` (" << dev.size() << " rows) |\n";
    c << "| loss | " << a.loss << " |\n| lr | " << num(a.lr) << " |\n| weight_decay | " << num(a.weight_decay)
      << " |\n| schedule | " << a.schedule << " |\n| warmup_ratio | " << num(a.warmup_ratio)
      << " |\n| epochs | " << a.epochs << " |\n| max_steps | " << a.max_steps << " |\n| batch_size | "
      << a.batch_size << " |\n| max_grad_norm | " << num(a.max_grad_norm) << " |\n| seed | " << a.seed
      << " |\n| dropout | " << (a.dropout ? num(*a.dropout) : std::string("config")) << " |\n| shuffle | "
      << (a.no_shuffle ? "no" : "yes") << " |\n| max_length | " << a.max_length << " |\n| dtype | " << a.dtype
      << " |\n| device | " << a.device << " |\n";
    if (!evals.empty()) {
      c << "\n## Evaluation (dev)\n\n| step | metric | value |\n| --- | --- | --- |\n";
      for (const auto& [step, r] : evals) {
        if (r.accuracy >= 0) c << "| " << step << " | accuracy | " << num(r.accuracy) << " |\n";
        else c << "| " << step << " | spearman / pearson | " << num(r.spearman) << " / " << num(r.pearson) << " |\n";
      }
    }
    return c.str();
  };

  g_stop = false;
  auto old = std::signal(SIGINT, on_sigint);
  TrainSummary sum;
  try {
    sum = run_training(*trainer, o, train, dev, a.out, loop);
  } catch (...) {
    std::signal(SIGINT, old);
    throw;
  }
  std::signal(SIGINT, old);
  progress.finish();
  if (sum.interrupted) log("interrupted: saved the state after " + count_of(sum.steps, "step"));
  log("trained " + count_of(sum.steps, "step") + "; model written to " + a.out);
  return sum.interrupted ? 130 : 0;
}

std::function<int()> setup_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* sub = app.add_subcommand("train", "Fine-tune a bi-encoder or cross-encoder");
  sub->add_option("objective", a->objective, "bi (sentence embeddings) or cross (cross-encoder)")->required();
  sub->add_option("-m,--model", a->model, "Starting model: folder or Hugging Face name")->required();
  sub->add_option("--loss", a->loss, "bi: cosine|cosent|mnrl|softmax; cross: bce|ce")->required();
  sub->add_option("--train", a->train, "Training data (CSV, TSV or JSONL)")->required();
  sub->add_option("--dev", a->dev, "Evaluation data (same columns)");
  sub->add_option("-o,--output", a->out, "Output model folder")->required();
  sub->add_flag("--overwrite", a->overwrite, "Replace an existing output folder");
  sub->add_flag("--resume", a->resume,
                "Continue the run saved in the output folder (same data and settings; the folder's "
                "weights and optimizer state replace --model)");
  sub->add_flag("--offline", a->offline, "Never download");
  sub->add_option("--input-format", a->input_format, "auto|csv|tsv|jsonl");
  sub->add_flag("--no-header", a->no_header, "CSV/TSV without a header row (columns by 0-based index)");
  sub->add_option("--a-column,--a-field", a->a_col, "First text (sentence1 / premise / anchor)");
  sub->add_option("--b-column,--b-field", a->b_col, "Second text (sentence2 / hypothesis / positive)");
  sub->add_option("--label-column,--label-field", a->label_col, "Score or label (score / label)");
  sub->add_option("--negative-column,--negative-field", a->neg_col, "Hard negative (mnrl)");
  sub->add_option("--score-scale", a->score_scale, "Divide scores by this (5 for STS 0-5)");
  sub->add_option("--label-names", a->label_names, "Class names in id order, comma-separated");
  sub->add_option("--num-labels", a->num_labels, "Labels of a new classification head");
  sub->add_option("--lr", a->lr, "Peak learning rate (2e-5)");
  sub->add_option("--weight-decay", a->weight_decay, "AdamW weight decay (0.01; not on biases/LayerNorm)");
  sub->add_option("--warmup-ratio", a->warmup_ratio, "Linear warmup share of the steps (0.1)");
  sub->add_option("--scheduler", a->schedule, "linear (warmup + decay) or constant");
  sub->add_option("--epochs", a->epochs, "Epochs (1)");
  sub->add_option("--max-steps", a->max_steps, "Stop after this many steps (overrides --epochs)");
  sub->add_option("--batch-size", a->batch_size, "Batch size (16)");
  sub->add_option("--max-grad-norm", a->max_grad_norm, "Gradient clipping norm (1.0; 0 = off)");
  sub->add_option("--seed", a->seed, "Seed for shuffling, dropout and new heads (42)");
  sub->add_option("--dropout", a->dropout, "Dropout probability (default: the config's)");
  sub->add_flag("--no-shuffle", a->no_shuffle, "Batches in file order");
  sub->add_option("--max-length", a->max_length, "Truncate texts to this many tokens");
  sub->add_option("--scale", a->scale, "Similarity scale of mnrl / cosent (20)");
  sub->add_option("--dtype", a->dtype,
                  "float32, or bfloat16: the forward under CPU autocast (matmuls in bfloat16), float32 weights");
  sub->add_option("--device", a->device, "cpu, cuda or cuda:N (with a libtorch built with CUDA)");
  sub->add_option("--threads", a->threads, "CPU threads (0 = all)");
  sub->add_option("--eval-steps", a->eval_steps, "Evaluate on --dev every N steps (and each epoch end)");
  sub->add_option("--save-steps", a->save_steps,
                  "Save a checkpoint (the model and the optimizer state, atomically, to -o) every N steps; "
                  "--resume continues from it");
  sub->add_flag("--save-best", a->save_best, "Keep the best dev evaluation instead of the last state");
  sub->add_option("--log", a->log_file, "JSONL log of steps and evaluations");
  return [a]() { return run_train(*a); };
}

SBERT_COMMAND("train", setup_train);

}  // namespace
}  // namespace sbert::cli
