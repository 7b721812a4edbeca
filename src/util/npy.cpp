#include "sbert/npy.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <regex>

#include "sbert/error.h"
#include "sbert/output_file.h"

namespace sbert {

std::string npy_header(size_t rows, size_t cols) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                     ", " + std::to_string(cols) + "), }";
  // magic(6) + version(2) + len(2) + dict + padding + '\n' is a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict += '\n';
  std::string h = "\x93NUMPY";
  h += '\x01';
  h += '\x00';
  uint16_t len = static_cast<uint16_t>(dict.size());
  h += static_cast<char>(len & 0xFF);
  h += static_cast<char>(len >> 8);
  return h + dict;
}

void write_npy(const std::string& path, const Matrix& m) {
  AtomicOutput out(path, true);
  out.write(npy_header(m.rows, m.cols));
  out.write(m.data.data(), m.data.size() * sizeof(float));
  out.commit();
}

Matrix read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path + ": " + std::strerror(errno));
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw Error(path + ": not a NumPy .npy file (bad magic)");
  uint32_t header_len = 0;
  unsigned char b[4] = {0, 0, 0, 0};
  int major = static_cast<unsigned char>(magic[6]);
  if (major == 1) {
    if (!in.read(reinterpret_cast<char*>(b), 2)) throw Error(path + ": truncated .npy header");
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    if (!in.read(reinterpret_cast<char*>(b), 4)) throw Error(path + ": truncated .npy header");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  } else {
    throw Error(path + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > (1u << 20)) throw Error(path + ": .npy header too large");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw Error(path + ": truncated .npy header");

  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'")))
    throw Error(path + ": .npy header has no 'descr'");
  std::string descr = m[1];
  size_t elem;
  if (descr == "<f4" || descr == "=f4" || descr == "f4") elem = 4;
  else if (descr == "<f8" || descr == "=f8" || descr == "f8") elem = 8;
  else throw Error(path + ": unsupported .npy dtype '" + descr + "' (float32 or float64 expected)");
  if (std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*True")))
    throw Error(path + ": Fortran-ordered .npy arrays are not supported");
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
    throw Error(path + ": .npy header has no 'shape'");
  std::vector<size_t> shape;
  std::string dims = m[1];
  std::regex num("-?\\s*\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it) {
    std::string t = it->str();
    if (t[0] == '-') throw Error(path + ": .npy shape has a negative dimension (" + dims + ")");
    if (t.size() > 19) throw Error(path + ": .npy shape dimension " + t + " is too large");
    shape.push_back(std::stoull(t));
  }
  Matrix out;
  if (shape.size() == 1) {
    out.rows = 1;
    out.cols = shape[0];
  } else if (shape.size() == 2) {
    out.rows = shape[0];
    out.cols = shape[1];
  } else {
    throw Error(path + ": .npy array must be 1-D or 2-D, got " + std::to_string(shape.size()) + "-D");
  }
  // The data must be exactly rows * cols values: checked against the file size, overflow-safe,
  // before anything is allocated.
  const std::streamoff data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const std::streamoff file_end = in.tellg();
  in.seekg(data_start);
  if (data_start < 0 || file_end < data_start) throw Error(path + ": cannot determine the .npy file size");
  const uint64_t available = static_cast<uint64_t>(file_end - data_start);
  const std::string shape_text = "(" + std::to_string(out.rows) + ", " + std::to_string(out.cols) + ")";
  uint64_t count = 0;
  if (out.cols != 0 && out.rows > UINT64_MAX / out.cols)
    throw Error(path + ": .npy shape " + shape_text + " is too large");
  count = static_cast<uint64_t>(out.rows) * out.cols;
  if (count > available / elem)
    throw Error(path + ": truncated .npy data: shape " + shape_text + " needs " + std::to_string(count) +
                " values, the file has " + std::to_string(available / elem));
  out.data.resize(count);
  if (elem == 4) {
    if (!in.read(reinterpret_cast<char*>(out.data.data()), count * 4))
      throw Error(path + ": truncated .npy data (expected " + std::to_string(count) + " values)");
  } else {
    std::vector<double> tmp(count);
    if (!in.read(reinterpret_cast<char*>(tmp.data()), count * 8))
      throw Error(path + ": truncated .npy data (expected " + std::to_string(count) + " values)");
    for (size_t i = 0; i < count; ++i) out.data[i] = static_cast<float>(tmp[i]);
  }
  return out;
}

}  // namespace sbert
