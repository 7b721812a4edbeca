// The registry of architecture descriptions: one per file of models/, listed by CMake in
// architectures.inc (SBERT_ARCH(name) per file, in file-name order).
#include "cpu/architecture.h"

namespace sbert::cpu {

#define SBERT_ARCH(name) Architecture describe_##name();
#include "architectures.inc"
#undef SBERT_ARCH

const std::vector<const Architecture*>& architectures() {
  static const std::vector<Architecture> all = {
#define SBERT_ARCH(name) describe_##name(),
#include "architectures.inc"
#undef SBERT_ARCH
  };
  static const std::vector<const Architecture*> pointers = [] {
    std::vector<const Architecture*> p;
    for (const Architecture& a : all) p.push_back(&a);
    return p;
  }();
  return pointers;
}

const Architecture* architecture_for(const std::string& model_type) {
  for (const Architecture* a : architectures())
    for (const ModelType& t : a->model_types)
      if (model_type == t.model_type) return a;
  return nullptr;
}

std::string supported_model_types() {
  std::string s;
  for (const Architecture* a : architectures())
    for (const ModelType& t : a->model_types) s += (s.empty() ? "" : ", ") + std::string(t.model_type);
  return s;
}

const ModelType& model_type_entry(const Architecture& arch, const std::string& model_type) {
  for (const ModelType& t : arch.model_types)
    if (model_type == t.model_type) return t;
  return arch.model_types.front();
}

}  // namespace sbert::cpu
