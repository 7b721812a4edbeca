// For the files of models/: each defines its description with SBERT_ARCHITECTURE(<file name>)
// { ... return description; }. The registry in src/cpu/architecture.cpp is generated from the file
// names (CMakeLists.txt), so a new file is the whole registration.
#pragma once
#include "cpu/architecture.h"

#define SBERT_ARCHITECTURE(name) Architecture describe_##name()

namespace sbert::cpu {

// Shared by the files whose layers carry BERT's names (bert, roberta, electra).
TensorNames bert_layer_names();
// The Llama-style decoders' config keys and layer names (qwen3.cpp; gemma3 too), without the
// norm after attention, which each names its own way.
ConfigKeys decoder_config_keys();
TensorNames decoder_layer_names();

}  // namespace sbert::cpu
