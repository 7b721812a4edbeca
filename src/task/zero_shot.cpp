// Zero-shot label logic (see include/sbert/zero_shot.h). Follows the transformers
// ZeroShotClassificationPipeline: entailment index from the label names, softmax over the
// entailment logits (single-label) or over [contradiction, entailment] per label (multi-label).
#include "sbert/zero_shot.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <cmath>
#include <numeric>
#include <set>

#include "sbert/error.h"

namespace sbert {
namespace {

std::string trim(const std::string& s) {
  const char* blank = " \t\r\n";
  size_t b = s.find_first_not_of(blank);
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(blank);
  return s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

std::string label_list(const std::vector<std::string>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(i) + ": " + labels[i];
  }
  return out;
}

std::optional<size_t> find_exact(const std::vector<std::string>& labels, const std::string& name) {
  const std::string want = lower(trim(name));
  for (size_t i = 0; i < labels.size(); ++i)
    if (lower(labels[i]) == want) return i;
  return std::nullopt;
}

std::optional<size_t> find_prefix(const std::vector<std::string>& labels, const std::string& prefix) {
  for (size_t i = 0; i < labels.size(); ++i)
    if (starts_with(lower(trim(labels[i])), prefix)) return i;
  return std::nullopt;
}

// Shared by format_hypothesis and validate_hypothesis_template: Python format with one argument.
std::string format_impl(const std::string& t, const std::string& label) {
  std::string out;
  size_t placeholders = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c == '{') {
      if (i + 1 < t.size() && t[i + 1] == '{') {
        out += '{';
        ++i;
        continue;
      }
      size_t close = t.find('}', i);
      if (close == std::string::npos)
        throw Error("hypothesis template '" + t + "': unmatched '{' (write '{{' for a literal brace)");
      const std::string field = t.substr(i + 1, close - i - 1);
      if (!field.empty() && field != "0")
        throw Error("hypothesis template '" + t + "': unsupported placeholder '{" + field +
                    "}' (use {} for the label)");
      out += label;
      ++placeholders;
      i = close;
    } else if (c == '}') {
      if (i + 1 < t.size() && t[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      throw Error("hypothesis template '" + t + "': single '}' (write '}}' for a literal brace)");
    } else {
      out += c;
    }
  }
  if (placeholders == 0)
    throw Error("hypothesis template '" + t +
                "' has no {} placeholder for the label (e.g. \"This example is {}.\")");
  return out;
}

}  // namespace

void validate_candidate_labels(const std::vector<std::string>& labels) {
  if (labels.empty()) throw Error("no candidate labels given (e.g. --labels \"sports,politics\")");
  std::set<std::string> seen;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (trim(labels[i]).empty())
      throw Error("candidate label " + std::to_string(i + 1) + " is empty");
    if (!seen.insert(labels[i]).second)
      throw Error("candidate label '" + labels[i] + "' is given more than once");
  }
}

std::vector<std::string> parse_candidate_labels(const std::string& list) {
  std::vector<std::string> labels;
  if (trim(list).empty()) throw Error("no candidate labels given (e.g. --labels \"sports,politics\")");
  size_t start = 0;
  while (true) {
    size_t comma = list.find(',', start);
    labels.push_back(trim(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  validate_candidate_labels(labels);
  return labels;
}

std::string format_hypothesis(const std::string& hypothesis_template, const std::string& label) {
  return format_impl(hypothesis_template, label);
}

void validate_hypothesis_template(const std::string& hypothesis_template) {
  (void)format_impl(hypothesis_template, "x");
}

NliLabelIndices find_nli_labels(const std::vector<std::string>& id2label,
                                const std::string& entailment_label,
                                const std::string& contradiction_label) {
  if (id2label.empty()) throw Error("the model has no output labels");
  NliLabelIndices r;
  if (!entailment_label.empty()) {
    auto e = find_exact(id2label, entailment_label);
    if (!e)
      throw Error("entailment label '" + entailment_label + "' is not one of the model's labels (" +
                  label_list(id2label) + ")");
    r.entailment = *e;
  } else {
    auto e = find_prefix(id2label, "entail");
    if (!e)
      throw Error("the model's labels (" + label_list(id2label) +
                  ") have no entailment label (a name starting with 'entail'); not an NLI model? "
                  "name it with --entailment-label");
    r.entailment = *e;
  }
  if (!contradiction_label.empty()) {
    auto c = find_exact(id2label, contradiction_label);
    if (!c)
      throw Error("contradiction label '" + contradiction_label +
                  "' is not one of the model's labels (" + label_list(id2label) + ")");
    r.contradiction = *c;
  } else {
    r.contradiction = find_prefix(id2label, "contradict");
    if (!r.contradiction && id2label.size() == 2) r.contradiction = 1 - r.entailment;
  }
  if (r.contradiction && *r.contradiction == r.entailment)
    throw Error("entailment and contradiction labels are the same output (" +
                id2label[r.entailment] + ")");
  return r;
}

std::vector<float> softmax(const float* logits, size_t n) {
  std::vector<float> out(n);
  if (n == 0) return out;
  double m = logits[0];
  for (size_t i = 1; i < n; ++i) m = std::max(m, static_cast<double>(logits[i]));
  double sum = 0;
  std::vector<double> e(n);
  for (size_t i = 0; i < n; ++i) sum += (e[i] = std::exp(static_cast<double>(logits[i]) - m));
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(e[i] / sum);
  return out;
}

Matrix zero_shot_scores(const Matrix& pair_logits, size_t num_candidates,
                        const NliLabelIndices& indices, bool multi_label) {
  if (num_candidates == 0) throw Error("no candidate labels given");
  if (pair_logits.rows % num_candidates != 0)
    throw Error("zero-shot: " + std::to_string(pair_logits.rows) +
                " pair rows is not a multiple of " + std::to_string(num_candidates) + " labels");
  if (indices.entailment >= pair_logits.cols ||
      (indices.contradiction && *indices.contradiction >= pair_logits.cols))
    throw Error("zero-shot: label index out of range for a model with " +
                std::to_string(pair_logits.cols) + " outputs");
  const bool pairwise = multi_label || num_candidates == 1;
  if (pairwise && !indices.contradiction)
    throw Error("multi-label zero-shot scoring needs a contradiction label, and the model has none "
                "(name it with --contradiction-label)");
  const size_t texts = pair_logits.rows / num_candidates;
  Matrix scores(texts, num_candidates);
  std::vector<float> buf(num_candidates);
  for (size_t t = 0; t < texts; ++t) {
    if (pairwise) {
      for (size_t j = 0; j < num_candidates; ++j) {
        const float* row = pair_logits.row(t * num_candidates + j);
        const float two[2] = {row[*indices.contradiction], row[indices.entailment]};
        scores.at(t, j) = softmax(two, 2)[1];
      }
    } else {
      for (size_t j = 0; j < num_candidates; ++j)
        buf[j] = pair_logits.at(t * num_candidates + j, indices.entailment);
      std::vector<float> p = softmax(buf.data(), num_candidates);
      std::copy(p.begin(), p.end(), scores.row(t));
    }
  }
  return scores;
}

std::vector<size_t> rank_scores(const float* scores, size_t n) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    // NaN sorts last.
    if (std::isnan(scores[a])) return false;
    if (std::isnan(scores[b])) return true;
    return scores[a] > scores[b];
  });
  return order;
}

std::vector<std::string> read_candidate_labels(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the labels file");
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t b = line.find_first_not_of(" \t"), e = line.find_last_not_of(" \t");
    if (b == std::string::npos) continue;
    labels.push_back(line.substr(b, e - b + 1));
  }
  if (labels.empty()) throw Error(path + ": the labels file has no labels");
  return labels;
}

std::vector<size_t> kept_labels(const float* scores, size_t n, size_t top, double threshold) {
  std::vector<size_t> kept;
  for (size_t j : rank_scores(scores, n)) {
    if (top > 0 && kept.size() >= top) break;
    if (threshold >= 0 && scores[j] < threshold) break;
    kept.push_back(j);
  }
  return kept;
}

namespace {
std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}
}  // namespace

LabelConfusion::LabelConfusion(std::vector<std::string> labels)
    : labels_(std::move(labels)), m_(labels_.size(), std::vector<size_t>(labels_.size(), 0)) {
  for (auto& l : labels_) lower_.push_back(ascii_lower(l));
}

void LabelConfusion::add(const std::string& gold, size_t predicted) {
  const std::string g = ascii_lower(gold);
  for (size_t j = 0; j < lower_.size(); ++j)
    if (lower_[j] == g) {
      ++m_[j][predicted];
      return;
    }
  ++unknown_;
  for (auto& [name, n] : unknown_names_)
    if (name == gold) {
      ++n;
      return;
    }
  unknown_names_.emplace_back(gold, 1);
}

size_t LabelConfusion::total() const {
  size_t t = 0;
  for (auto& row : m_)
    for (size_t v : row) t += v;
  return t;
}

size_t LabelConfusion::correct() const {
  size_t c = 0;
  for (size_t j = 0; j < m_.size(); ++j) c += m_[j][j];
  return c;
}

double LabelConfusion::accuracy() const {
  const size_t t = total();
  return t ? double(correct()) / double(t) : 0.0;
}

std::string LabelConfusion::report() const {
  char buf[160];
  std::snprintf(buf, sizeof buf, "accuracy %.4f (%zu/%zu)\n", accuracy(), correct(), total());
  std::string out = buf;
  size_t w = 10;
  for (auto& l : labels_) w = std::max(w, l.size() + 2);
  auto pad = [&](const std::string& s) { return s + std::string(w > s.size() ? w - s.size() : 1, ' '); };
  out += "confusion matrix (rows: gold, columns: predicted)\n" + pad("");
  for (auto& l : labels_) out += pad(l);
  out += "\n";
  for (size_t g = 0; g < labels_.size(); ++g) {
    out += pad(labels_[g]);
    for (size_t p = 0; p < labels_.size(); ++p) out += pad(std::to_string(m_[g][p]));
    out += "\n";
  }
  if (unknown_) {
    out += std::to_string(unknown_) + " row(s) skipped: gold label not one of the model's labels (";
    size_t k = 0;
    for (auto& [name, n] : unknown_names_) {
      if (k++ == 5) {
        out += ", ...";
        break;
      }
      out += (k > 1 ? ", " : "") + ("'" + name + "' x" + std::to_string(n));
    }
    out += ")\n";
  }
  return out;
}

nlohmann::json LabelConfusion::to_json() const {
  nlohmann::json unknown = nlohmann::json::array();
  for (const auto& [name, n] : unknown_names_) unknown.push_back({name, n});
  return {{"kind", "confusion"}, {"labels", labels_}, {"matrix", m_}, {"unknown", unknown_}, {"unknown_names", unknown}};
}

void LabelConfusion::add_counts(const nlohmann::json& j) {
  try {
    if (j.value("kind", "") != "confusion" || j.at("labels").get<std::vector<std::string>>() != labels_)
      throw Error("evaluation counts for other labels");
    const auto m = j.at("matrix").get<std::vector<std::vector<size_t>>>();
    if (m.size() != m_.size()) throw Error("evaluation counts of another shape");
    for (size_t g = 0; g < m.size(); ++g) {
      if (m[g].size() != m_[g].size()) throw Error("evaluation counts of another shape");
      for (size_t p = 0; p < m[g].size(); ++p) m_[g][p] += m[g][p];
    }
    unknown_ += j.at("unknown").get<size_t>();
    for (const auto& e : j.at("unknown_names")) {
      const std::string name = e.at(0).get<std::string>();
      const size_t n = e.at(1).get<size_t>();
      auto it = std::find_if(unknown_names_.begin(), unknown_names_.end(), [&](const auto& x) { return x.first == name; });
      if (it == unknown_names_.end()) unknown_names_.emplace_back(name, n);
      else it->second += n;
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed evaluation counts: ") + e.what());
  }
}

}  // namespace sbert
