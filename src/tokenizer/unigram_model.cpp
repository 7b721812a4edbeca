// placeholder replaced below
#include "tokenizer/pipeline.h"
#include "sbert/error.h"
namespace sbert::tok {
ModelPtr make_unigram_model(std::vector<UnigramPiece>, std::optional<int64_t>, bool) {
  throw Error("Unigram: not implemented yet");
}
}  // namespace sbert::tok
