// Training data: CSV/TSV/JSONL rows into TrainExample, with the checks a training run needs.
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "sbert/error.h"
#include "sbert/text_input.h"
#include "sbert/train.h"

namespace sbert {
namespace {
std::string fmt(double x) {
  std::ostringstream o;
  o << x;
  return o.str();
}
}  // namespace

TrainLoss parse_train_loss(const std::string& name, TrainObjective objective) {
  const bool bi = objective == TrainObjective::Bi;
  if (bi) {
    if (name == "cosine") return TrainLoss::Cosine;
    if (name == "cosent") return TrainLoss::CoSENT;
    if (name == "mnrl") return TrainLoss::MNRL;
    if (name == "softmax") return TrainLoss::Softmax;
    throw Error("unknown bi-encoder loss '" + name + "' (cosine, cosent, mnrl, softmax)");
  }
  if (name == "bce") return TrainLoss::BCE;
  if (name == "ce") return TrainLoss::CE;
  throw Error("unknown cross-encoder loss '" + name + "' (bce, ce)");
}

std::string train_loss_name(TrainLoss loss) {
  switch (loss) {
    case TrainLoss::Cosine: return "CosineSimilarityLoss";
    case TrainLoss::CoSENT: return "CoSENTLoss";
    case TrainLoss::MNRL: return "MultipleNegativesRankingLoss";
    case TrainLoss::Softmax: return "SoftmaxLoss";
    case TrainLoss::BCE: return "BCEWithLogitsLoss";
    case TrainLoss::CE: return "CrossEntropyLoss";
  }
  return "?";
}

std::vector<TrainExample> read_train_examples(const std::string& path, const TrainDataSpec& spec) {
  ReaderOptions ro;
  ro.format = resolve_input_format(parse_input_format(spec.format), path);
  if (ro.format == InputFormat::Lines)
    throw Error(path + ": training data must be CSV, TSV or JSONL (use --input-format)");
  ro.header = spec.header;
  RecordReader reader({path}, ro);
  FieldSelector fa(spec.a, "text a"), fb(spec.b, "text b"), fl(spec.label, "label"),
      fn(spec.negative, "negative");
  if (fa.empty() || fb.empty()) throw Error(path + ": the two text columns must be named");
  if (spec.needs_label && fl.empty()) throw Error(path + ": the label column must be named");
  std::vector<TrainExample> out;
  Record r;
  while (reader.next(r)) {
    const std::string where = r.source + ":" + std::to_string(r.line);
    TrainExample e;
    e.a = fa.get(r, reader);
    e.b = fb.get(r, reader);
    if (!fn.empty()) e.negative = fn.get(r, reader);
    if (spec.needs_label) {
      std::string v;
      if (r.object.is_object() && r.object.contains(spec.label) && r.object[spec.label].is_number())
        v = r.object[spec.label].dump();
      else
        v = fl.get(r, reader);
      if (spec.classes) {
        if (!spec.label_names.empty()) {
          int64_t id = -1;
          for (size_t i = 0; i < spec.label_names.size(); ++i)
            if (spec.label_names[i] == v) id = static_cast<int64_t>(i);
          if (id < 0) {
            std::string names;
            for (const auto& n : spec.label_names) names += (names.empty() ? "" : ", ") + n;
            throw Error(where + ": unknown label '" + v + "' (labels: " + names + ")");
          }
          e.label = id;
        } else {
          char* end = nullptr;
          long long id = std::strtoll(v.c_str(), &end, 10);
          if (v.empty() || *end != '\0' || id < 0)
            throw Error(where + ": label '" + v +
                        "' is not a class index (give the label names to use names)");
          e.label = id;
        }
      } else {
        char* end = nullptr;
        double x = std::strtod(v.c_str(), &end);
        if (v.empty() || *end != '\0' || !std::isfinite(x))
          throw Error(where + ": label '" + v + "' is not a number");
        const double s = x / spec.score_scale;
        if (s < 0 || s > 1)
          throw Error(where + ": label " + v + " is outside [0, " + fmt(spec.score_scale) +
                      "] (scores are divided by the score scale and must land in [0, 1])");
        e.score = static_cast<float>(s);
      }
    }
    out.push_back(std::move(e));
  }
  if (out.empty()) throw Error(path + ": no training rows");
  return out;
}

}  // namespace sbert
