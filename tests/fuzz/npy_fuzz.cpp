// .npy reader: any bytes must give a Matrix of exactly rows*cols values or an sbert::Error.
#include "fuzz_util.h"
#include "sbert/error.h"
#include "sbert/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = sbert::fuzz::write_input("in.npy", data, size);
  try {
    sbert::Matrix m = sbert::read_npy(path);
    if (m.data.size() != m.rows * m.cols) std::abort();
    if (m.data.size() * 4 > size) std::abort();  // never more values than the file holds
  } catch (const sbert::Error&) {
  }
  return 0;
}
