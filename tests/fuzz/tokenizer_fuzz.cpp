// tokenizer.json and vocab.txt readers, then encoding a few texts with what they built. The
// first byte picks the file kind; the rest is the file.
#include "fuzz_util.h"
#include "sbert/error.h"
#include "sbert/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool vocab = data[0] & 1;
  const std::string path =
      sbert::fuzz::write_input(vocab ? "vocab.txt" : "tokenizer.json", data + 1, size - 1);
  sbert::TokenizerOptions o;
  o.tokenizer_file = path;
  try {
    auto tok = sbert::load_tokenizer(sbert::fuzz::work_dir(), o);
    for (const char* text : {"Hello, world! A man plays.", "\xED\x95\x9C \xC3\xA9t\xC3\xA9 \xF0\x9F\x98\x80", ""}) {
      sbert::Encoding e = tok->encode(text);
      if (e.type_ids.size() != e.ids.size() && !e.type_ids.empty()) std::abort();
      (void)tok->encode_pair(text, "b");
    }
  } catch (const sbert::Error&) {
  }
  return 0;
}
