// Record reader (lines / CSV / TSV / JSONL) and field selection. The first byte picks the
// format and the header flag; the rest is the file.
#include "fuzz_util.h"
#include "sbert/error.h"
#include "sbert/text_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kNames[] = {"in.txt", "in.csv", "in.tsv", "in.jsonl"};
  const uint8_t mode = data[0];
  const std::string path = sbert::fuzz::write_input(kNames[mode & 3], data + 1, size - 1);
  sbert::ReaderOptions o;
  o.header = (mode & 4) == 0;
  o.quoting = (mode & 8) == 0;
  try {
    sbert::RecordReader reader({path}, o);
    sbert::FieldSelector text("text", "text column");
    sbert::Record r;
    for (int n = 0; reader.next(r) && n < 100000; ++n) {
      try {
        (void)text.get(r, reader);
      } catch (const sbert::Error&) {
      }
    }
  } catch (const sbert::Error&) {
  }
  return 0;
}
