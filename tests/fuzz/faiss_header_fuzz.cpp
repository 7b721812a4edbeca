// The FAISS index header check (search/faiss_store.h check_index_header) that runs before FAISS
// reads an index: any bytes, as a whole file, with and without the manifest's vector count.
#include <string>

#include "sbert/error.h"
#include "search/faiss_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string_view head = bytes.substr(0, sbert::search::kIndexHeadBytes);
  for (int variant = 0; variant < 3; ++variant) {
    std::optional<size_t> vectors;
    if (variant == 1) vectors = 0;
    if (variant == 2 && size >= 1) vectors = data[size - 1];
    try {
      const sbert::search::IndexHeader h = sbert::search::check_index_header(head, size, vectors, 0, "index.faiss");
      // What passes is plausible: a positive dimension, a vector count that fits in the file
      // (8 bytes of id per vector for id-mapped and IVF indexes), the manifest's count.
      if (h.dimension <= 0 || h.ntotal < 0 || static_cast<uint64_t>(h.ntotal) > size) std::abort();
      if (vectors && static_cast<size_t>(h.ntotal) != *vectors) std::abort();
      if ((h.fourcc == "IxM2" || h.fourcc == "IxMp") && static_cast<uint64_t>(h.ntotal) * 8 > size) std::abort();
    } catch (const sbert::Error&) {
    }
  }
  return 0;
}
