// libsbert_nn.so: the model runtime behind the table of src/task/nn_api.h. Built from the static
// `nn` component with hidden visibility, so the library exports this one function and its copies
// of the shared components (util, tokenizer, ...) stay private to it.
#include "task/nn_api.h"

extern "C" __attribute__((visibility("default"))) const sbert::NnApi* sbert_nn_api() {
  static const sbert::NnApi api = [] {
    sbert::NnApi a;
    a.set_log_handler = &sbert::set_log_handler;
    a.setup_runtime = &sbert::setup_runtime;
    a.load_encoder = [](const std::filesystem::path& dir, const sbert::EncoderOptions& o) {
      return sbert::SentenceEncoder::load(dir, o);
    };
    a.load_classifier = [](const std::filesystem::path& dir, const sbert::ClassifierOptions& o) {
      return sbert::SequenceClassifier::load(dir, o);
    };
    a.create_trainer = [](const std::filesystem::path& dir, const sbert::TrainOptions& o) {
      return sbert::Trainer::create(dir, o);
    };
    a.run_training = &sbert::run_training;
    a.write_random_model = &sbert::write_random_model;
    return a;
  }();
  return &api;
}
