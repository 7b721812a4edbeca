#include "cpu/weights.h"

#include <sstream>
#include <utility>

#include "sbert/error.h"

namespace sbert::cpu {

std::optional<std::string> resolve_parameter(const std::string& prefix, const std::string& name,
                                             const std::function<bool(const std::string&)>& contains) {
  if (contains(prefix + name)) return prefix + name;
  // Old BERT checkpoints name LayerNorm parameters gamma/beta.
  if (name.find("LayerNorm") != std::string::npos) {
    for (const auto& [from, to] : {std::pair<std::string, std::string>{".weight", ".gamma"}, {".bias", ".beta"}}) {
      if (name.size() > from.size() && name.compare(name.size() - from.size(), from.size(), from) == 0) {
        const std::string alt = prefix + name.substr(0, name.size() - from.size()) + to;
        if (contains(alt)) return alt;
      }
    }
  }
  return std::nullopt;
}

std::string shape_string(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

std::string parameter_errors(const std::string& where, const std::vector<std::string>& missing,
                             const std::vector<std::string>& mismatched) {
  std::ostringstream o;
  o << where << ":";
  if (!missing.empty()) {
    o << " missing tensors (" << missing.size() << "):";
    for (size_t i = 0; i < missing.size() && i < 8; ++i) o << " " << missing[i];
    if (missing.size() > 8) o << " ...";
    if (!mismatched.empty()) o << ";";
  }
  if (!mismatched.empty()) {
    o << " shape mismatches (" << mismatched.size() << "):";
    for (size_t i = 0; i < mismatched.size() && i < 8; ++i) o << " " << mismatched[i] << (i + 1 < mismatched.size() ? "," : "");
  }
  return o.str();
}

std::string find_prefix(const std::vector<std::string>& names, const std::string& anchor) {
  std::string best;
  bool found = false;
  for (const std::string& n : names) {
    if (n.size() >= anchor.size() && n.compare(n.size() - anchor.size(), anchor.size(), anchor) == 0) {
      std::string p = n.substr(0, n.size() - anchor.size());
      if (!p.empty() && p.back() != '.') continue;
      if (!found || p.size() < best.size()) best = p;
      found = true;
    }
  }
  return best;
}

ParameterReader::ParameterReader(const TensorFile& file, std::string prefix, std::string where)
    : file_(file), prefix_(std::move(prefix)), where_(std::move(where)) {}

std::optional<std::string> ParameterReader::resolve(const std::string& name) const {
  return resolve_parameter(prefix_, name, [&](const std::string& n) { return file_.contains(n); });
}

bool ParameterReader::has(const std::string& name) const { return resolve(name).has_value(); }

Floats ParameterReader::take_optional(const std::string& name, const std::vector<int64_t>& shape) {
  if (!has(name)) return Floats();
  return take(name, shape);
}

Floats ParameterReader::take(const std::string& name, const std::vector<int64_t>& shape) {
  const auto stored = resolve(name);
  if (!stored) {
    missing_.push_back(prefix_ + name);
    return Floats();
  }
  const std::vector<int64_t> got = file_.shape(*stored);
  if (got != shape) {
    mismatched_.push_back(*stored + " " + shape_string(got) + " (expected " + shape_string(shape) + ")");
    return Floats();
  }
  TensorView view = file_.view(*stored);
  Floats f;
  f.size = static_cast<size_t>(view.numel());
  if (view.type == StoredType::F32) {
    f.data = static_cast<const float*>(view.data);
    f.keep = std::move(view.owner);
  } else {
    f.own = to_float32(view, file_.source(*stored) + ": " + *stored);
    f.data = f.own.data();
  }
  return f;
}

void ParameterReader::release(const std::string& name) const {
  if (const auto stored = resolve(name)) file_.release(*stored);
}

std::function<void()> ParameterReader::releaser(std::vector<std::string> names) const {
  std::vector<std::string> stored;
  for (const std::string& n : names)
    if (auto s = resolve(n)) stored.push_back(*s);
  const TensorFile* file = &file_;
  return [file, stored] {
    for (const std::string& s : stored) file->release(s);
  };
}

void ParameterReader::finish() const {
  if (missing_.empty() && mismatched_.empty()) return;
  throw Error(parameter_errors(where_, missing_, mismatched_));
}

}  // namespace sbert::cpu
