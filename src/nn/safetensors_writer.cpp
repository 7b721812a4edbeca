// write_safetensors (sbert/safetensors_writer.h): F32, or F16 / BF16 rounded by libtorch's
// conversions.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nn/torch_pch.h"
#include "sbert/error.h"
#include "sbert/safetensors_writer.h"

namespace sbert {

void write_safetensors(const std::filesystem::path& file, const std::vector<NamedTensor>& tensors,
                       const std::string& dtype) {
  size_t elem = 0;
  if (dtype == "F32") elem = 4;
  else if (dtype == "F16" || dtype == "BF16") elem = 2;
  else throw Error(file.string() + ": cannot write dtype '" + dtype + "' (F32, F16, BF16)");
  std::vector<const NamedTensor*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const NamedTensor* a, const NamedTensor* b) { return a->name < b->name; });
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  size_t offset = 0;
  for (const NamedTensor* t : order) {
    size_t numel = 1;
    for (int64_t s : t->shape) numel *= static_cast<size_t>(s);
    if (numel != t->values.size())
      throw Error(file.string() + ": tensor '" + t->name + "' has " +
                  std::to_string(t->values.size()) + " values for shape of " +
                  std::to_string(numel));
    header[t->name] = {{"dtype", dtype},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + numel * elem}}};
    offset += numel * elem;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  std::ofstream out(file, std::ios::binary);
  if (!out) throw Error(file.string() + ": cannot open for writing");
  uint64_t n = h.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const NamedTensor* t : order) {
    if (dtype == "F32") {
      out.write(reinterpret_cast<const char*>(t->values.data()),
                static_cast<std::streamsize>(t->values.size() * 4));
    } else {
      std::vector<uint16_t> buf(t->values.size());
      for (size_t i = 0; i < buf.size(); ++i) {
        if (dtype == "F16") buf[i] = c10::Half(t->values[i]).x;
        else buf[i] = c10::BFloat16(t->values[i]).x;
      }
      out.write(reinterpret_cast<const char*>(buf.data()),
                static_cast<std::streamsize>(buf.size() * 2));
    }
  }
  if (!out) throw Error(file.string() + ": write failed");
}

}  // namespace sbert
