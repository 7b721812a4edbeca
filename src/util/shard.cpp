#include "sbert/shard.h"

#include "sbert/embeddings_file.h"
#include "sbert/text_input.h"
#include "sbert/record_writer.h"

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "sbert/error.h"
#include "sbert/json_parse.h"
#include "sbert/npy.h"
#include "sbert/output_file.h"
#include "sbert/text_format.h"

namespace sbert {

namespace fs = std::filesystem;

namespace {

// A non-negative decimal integer, the whole text; false otherwise.
bool parse_count(const std::string& s, size_t& out) {
  if (s.empty() || s.size() > 18) return false;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  out = v;
  return true;
}

size_t env_number(const EnvLookup& env, const char* name) {
  const char* v = env(name);
  size_t n = 0;
  if (!v || !parse_count(v, n))
    throw Error(std::string("--shard auto: ") + name + " is not a number ('" + (v ? v : "") + "')");
  return n;
}

ShardSpec checked(size_t index, size_t count, const std::string& where) {
  if (count == 0) throw Error(where + ": the shard count must be at least 1");
  if (index >= count)
    throw Error(where + ": shard " + std::to_string(index) + " is out of range for " + std::to_string(count) +
                " shards (shards are numbered 0.." + std::to_string(count - 1) + ")");
  ShardSpec s;
  s.enabled = true;
  s.index = index;
  s.count = count;
  return s;
}

}  // namespace

ShardSpec parse_shard(const std::string& text, size_t count_option, const EnvLookup& env_in) {
  if (text.empty()) return ShardSpec{};
  EnvLookup env = env_in ? env_in : EnvLookup([](const char* n) -> const char* { return std::getenv(n); });
  if (text == "auto") {
    auto set = [&](const char* n) { const char* v = env(n); return v && *v; };
    if (set("SLURM_ARRAY_TASK_ID")) {
      size_t id = env_number(env, "SLURM_ARRAY_TASK_ID");
      // With --shard-count N the array is --array=0-(N-1) and the task id is the shard: a re-run
      // of one index (sbatch --array=3) keeps its shard although Slurm then reports
      // SLURM_ARRAY_TASK_MIN=3 and SLURM_ARRAY_TASK_COUNT=1. Without it the whole array spans
      // the shards, counted from its first index.
      size_t min = !count_option && set("SLURM_ARRAY_TASK_MIN") ? env_number(env, "SLURM_ARRAY_TASK_MIN") : 0;
      if (id < min) throw Error("--shard auto: SLURM_ARRAY_TASK_ID is below SLURM_ARRAY_TASK_MIN");
      size_t count = count_option;
      if (!count) {
        if (!set("SLURM_ARRAY_TASK_COUNT"))
          throw Error("--shard auto: SLURM_ARRAY_TASK_COUNT is not set; give --shard-count N");
        count = env_number(env, "SLURM_ARRAY_TASK_COUNT");
      }
      return checked(id - min, count, "--shard auto (Slurm)");
    }
    if (set("JOB_COMPLETION_INDEX")) {
      size_t id = env_number(env, "JOB_COMPLETION_INDEX");
      size_t count = count_option;
      if (!count) {
        if (!set("SBERT_SHARD_COUNT"))
          throw Error("--shard auto: JOB_COMPLETION_INDEX is set but not the count: give --shard-count N "
                      "or SBERT_SHARD_COUNT");
        count = env_number(env, "SBERT_SHARD_COUNT");
      }
      return checked(id, count, "--shard auto (JOB_COMPLETION_INDEX)");
    }
    throw Error("--shard auto: neither SLURM_ARRAY_TASK_ID nor JOB_COMPLETION_INDEX is set");
  }
  auto slash = text.find('/');
  size_t index = 0, count = 0;
  if (slash == std::string::npos || !parse_count(text.substr(0, slash), index) ||
      !parse_count(text.substr(slash + 1), count))
    throw Error("--shard: expected I/N (0-based shard I of N, e.g. 0/4) or auto, got '" + text + "'");
  if (count_option && count_option != count)
    throw Error("--shard " + text + " disagrees with --shard-count " + std::to_string(count_option));
  return checked(index, count, "--shard " + text);
}

RecordRange shard_range(size_t records, size_t index, size_t count) {
  if (count == 0 || index >= count) throw Error("shard " + std::to_string(index) + " of " + std::to_string(count) + " is out of range");
  using U = unsigned __int128;
  RecordRange r;
  r.begin = static_cast<size_t>(U(index) * records / count);
  r.end = static_cast<size_t>(U(index + 1) * records / count);
  return r;
}

namespace {

uint64_t fnv1a64(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex64(uint64_t h) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

// Streams `path` through `fn` in 64 KiB pieces.
template <typename F>
void stream_file(const std::string& path, F&& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path + ": " + std::strerror(errno));
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize n = in.gcount();
    if (n > 0) fn(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
  if (in.bad()) throw Error("cannot read " + path + ": " + std::strerror(errno));
}

}  // namespace

nlohmann::json input_fingerprint(const std::vector<std::string>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : files) {
    uint64_t h = 1469598103934665603ull;
    uint64_t size = 0;
    stream_file(f, [&](std::string_view piece) {
      h = fnv1a64(h, piece);
      size += piece.size();
    });
    out.push_back({{"name", fs::path(f).filename().string()}, {"size", size}, {"fnv1a64", hex64(h)}});
  }
  return out;
}

namespace {

struct NpyPart {
  size_t rows = 0, cols = 0, data_offset = 0;
};

// The header of a .npy file whose first bytes are `bytes` (at least the whole header) and whose
// size is `total`.
NpyPart parse_npy(std::string_view bytes, uint64_t total, const std::string& path) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    throw Error(path + ": not a NumPy .npy file");
  const unsigned char* b = reinterpret_cast<const unsigned char*>(bytes.data());
  size_t len = 0, start = 0;
  if (b[6] == 1) {
    len = b[8] | (b[9] << 8);
    start = 10;
  } else if (b[6] == 2 || b[6] == 3) {
    if (bytes.size() < 12) throw Error(path + ": truncated .npy header");
    len = b[8] | (b[9] << 8) | (b[10] << 16) | (static_cast<size_t>(b[11]) << 24);
    start = 12;
  } else {
    throw Error(path + ": unsupported .npy version");
  }
  if (len > bytes.size() - start) throw Error(path + ": truncated .npy header");
  const std::string_view header = bytes.substr(start, len);
  // The value of 'key' in the header dict, from its first character (npos when absent).
  auto value_of = [&](std::string_view key) -> size_t {
    size_t at = header.find(key);
    if (at == std::string_view::npos) return at;
    at += key.size();
    while (at < header.size() && header[at] == ' ') ++at;
    if (at >= header.size() || header[at] != ':') return std::string_view::npos;
    ++at;
    while (at < header.size() && header[at] == ' ') ++at;
    return at;
  };
  const size_t descr = value_of("'descr'"), order = value_of("'fortran_order'");
  if (descr == std::string_view::npos || header.substr(descr, 5) != "'<f4'" || order == std::string_view::npos ||
      header.substr(order, 5) != "False")
    throw Error(path + ": merge needs little-endian float32 C-order .npy");
  // (rows, cols) or (rows, cols,)
  size_t at = value_of("'shape'");
  auto skip_spaces = [&] {
    while (at < header.size() && header[at] == ' ') ++at;
  };
  auto number = [&](size_t& out) {
    skip_spaces();
    const size_t from = at;
    out = 0;
    while (at < header.size() && at - from < 15 && header[at] >= '0' && header[at] <= '9')
      out = out * 10 + static_cast<size_t>(header[at++] - '0');
    skip_spaces();
    return at > from;
  };
  auto expect = [&](char c) {
    if (at < header.size() && header[at] == c) {
      ++at;
      return true;
    }
    return false;
  };
  NpyPart p;
  bool shape_ok = at != std::string_view::npos && expect('(') && number(p.rows) && expect(',') && number(p.cols);
  if (shape_ok) {
    expect(',');
    skip_spaces();
    shape_ok = expect(')');
  }
  if (!shape_ok) throw Error(path + ": merge needs a 2-D .npy");
  p.data_offset = start + len;
  using U = unsigned __int128;
  if (U(total - p.data_offset) != U(p.rows) * p.cols * sizeof(float))
    throw Error(path + ": .npy data size does not match its shape");
  return p;
}

constexpr size_t kNpyPrefix = (size_t{1} << 16) + 16;  // a v1 header is at most 65535 bytes

}  // namespace

nlohmann::json PartDigest::to_json() const {
  nlohmann::json j = {{"bytes", bytes}, {"fnv1a64", fnv1a64}};
  if (rows) j["rows"] = *rows;
  return j;
}

PartDigest PartDigest::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object() || !j.contains("bytes") || !j["bytes"].is_number_unsigned() || !j.contains("fnv1a64") ||
      !j["fnv1a64"].is_string())
    throw Error(where + ": \"output\" must hold \"bytes\" and \"fnv1a64\"");
  PartDigest d;
  d.bytes = j["bytes"].get<uint64_t>();
  d.fnv1a64 = j["fnv1a64"].get<std::string>();
  if (d.fnv1a64.size() != 16 || d.fnv1a64.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error(where + ": \"output\".\"fnv1a64\" must be 16 hex digits");
  if (j.contains("rows")) {
    if (!j["rows"].is_number_unsigned()) throw Error(where + ": \"output\".\"rows\" must be a count");
    d.rows = j["rows"].get<size_t>();
  }
  return d;
}

PartDigester::PartDigester(std::string format, bool header) : format_(std::move(format)), header_(header) {}

void PartDigester::add(std::string_view bytes) {
  hash_ = fnv1a64(hash_, bytes);
  bytes_ += bytes.size();
  if (format_ == "npy") {
    if (prefix_.size() < kNpyPrefix) prefix_.append(bytes.substr(0, kNpyPrefix - prefix_.size()));
    return;
  }
  if (format_ == "f32") return;
  const bool csv = format_ == "csv";
  for (char c : bytes) {
    if (csv && c == '"') in_quotes_ = !in_quotes_;  // "" inside a quoted field toggles twice
    if (c == '\n' && !in_quotes_) {
      ++lines_;
      line_open_ = false;
      first_line_done_ = true;
    } else {
      line_open_ = true;
      if (c == '\t' && !first_line_done_) first_line_tab_ = true;
    }
  }
}

PartDigest PartDigester::finish(const std::string& path) const {
  PartDigest d;
  d.bytes = bytes_;
  d.fnv1a64 = hex64(hash_);
  const size_t records = lines_ + (line_open_ ? 1 : 0);
  if (format_ == "npy") {
    d.rows = parse_npy(prefix_, bytes_, path).rows;
  } else if (format_ == "csv" || format_ == "tsv") {
    d.rows = header_ && records ? records - 1 : records;
  } else if (format_ == "meta") {
    d.rows = first_line_tab_ && records ? records - 1 : records;  // several columns: a header row
  } else if (format_ != "f32") {
    d.rows = records;
  }
  return d;
}

PartDigest digest_bytes(std::string_view bytes, const std::string& format, bool header, const std::string& path) {
  PartDigester d(format, header);
  d.add(bytes);
  return d.finish(path);
}

namespace {

PartDigest digest_file(const std::string& path, const std::string& format, bool header) {
  PartDigester d(format, header);
  stream_file(path, [&](std::string_view piece) { d.add(piece); });
  return d.finish(path);
}

// The files of a projector folder, with the digester format of each.
const std::pair<const char*, const char*> kProjectorFiles[] = {{"vecs.tsv", "vecs"}, {"meta.tsv", "meta"}};

std::map<std::string, PartDigest> digest_output(const std::string& output, const std::string& format, bool header) {
  std::map<std::string, PartDigest> out;
  if (format == "index") return out;
  if (format == "projector") {
    for (const auto& [name, kind] : kProjectorFiles)
      out[name] = digest_file((fs::path(output) / name).string(), kind, false);
  } else {
    out[""] = digest_file(output, format, header);
  }
  return out;
}

}  // namespace

nlohmann::json ShardManifest::to_json() const {
  return {{"sbert_shard", 1},
          {"shard", shard},
          {"count", count},
          {"records", records},
          {"record_begin", range.begin},
          {"record_end", range.end},
          {"first_index", first_index},
          {"rows", rows},
          {"format", format},
          {"key", key},
          {"evaluation", evaluation},
          {"header", header},
          {"output", output_json()}};
}

nlohmann::json ShardManifest::output_json() const {
  if (output.empty()) return nullptr;
  if (output.size() == 1 && output.count("")) return output.at("").to_json();
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, d] : output) j[name] = d.to_json();
  return j;
}

ShardManifest ShardManifest::from_json(const nlohmann::json& j, const std::string& where) {
  ShardManifest m;
  auto num = [&](const char* k) -> size_t {
    if (!j.is_object() || !j.contains(k) || !j[k].is_number_unsigned())
      throw Error(where + ": not a shard manifest (no number '" + k + "')");
    return j[k].get<size_t>();
  };
  if (!j.is_object() || !j.contains("sbert_shard")) throw Error(where + ": not a shard manifest");
  m.shard = num("shard");
  m.count = num("count");
  m.records = num("records");
  m.range.begin = num("record_begin");
  m.range.end = num("record_end");
  m.first_index = num("first_index");
  m.rows = num("rows");
  if (!j.contains("format") || !j["format"].is_string()) throw Error(where + ": not a shard manifest (no 'format')");
  m.format = j["format"].get<std::string>();
  if (j.contains("key")) m.key = j["key"];
  if (j.contains("evaluation")) m.evaluation = j["evaluation"];
  if (j.contains("header")) {
    if (!j["header"].is_boolean()) throw Error(where + ": \"header\" must be true or false");
    m.header = j["header"].get<bool>();
  }
  if (j.contains("output") && !j["output"].is_null()) {
    const nlohmann::json& o = j["output"];
    if (!o.is_object()) throw Error(where + ": \"output\" must be an object");
    if (o.contains("bytes")) {
      m.output[""] = PartDigest::from_json(o, where);
    } else {
      for (const auto& [name, d] : o.items()) {
        bool known = false;
        for (const auto& f : kProjectorFiles) known = known || name == f.first;
        if (!known) throw Error(where + ": \"output\" names an unknown file '" + name + "'");
        m.output[name] = PartDigest::from_json(d, where);
      }
    }
  }
  if (m.count == 0 || m.shard >= m.count || m.range.begin > m.range.end || m.range.end > m.records)
    throw Error(where + ": inconsistent shard manifest");
  return m;
}

std::string shard_manifest_path(const std::string& output) { return output + ".shard.json"; }

void write_shard_manifest(const std::string& output, const ShardManifest& given) {
  ShardManifest m = given;
  if (m.output.empty()) m.output = digest_output(output, m.format, m.header);
  AtomicOutput out(shard_manifest_path(output));
  out.write(m.to_json().dump(2) + "\n");
  out.commit();
}

ShardManifest read_shard_manifest(const std::string& output) {
  const std::string path = shard_manifest_path(output);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(output + ": no shard manifest " + path + " (was it written with --shard?)");
  nlohmann::json j;
  try {
    j = parse_json(in, path);
  } catch (const std::exception&) {
    throw Error(path + ": not valid JSON");
  }
  return ShardManifest::from_json(j, path);
}

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open " + path + ": " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string shard_name(const ShardManifest& m, const std::string& path) {
  return "shard " + std::to_string(m.shard) + "/" + std::to_string(m.count) + " (" + path + ")";
}

// The first key (top level of the manifest key) whose value differs, for the error message.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_object() && b.is_object()) {
    for (auto it = a.begin(); it != a.end(); ++it) {
      if (!b.contains(it.key())) return it.key();
      if (*it != b[it.key()]) {
        std::string sub = first_difference(*it, b[it.key()]);
        return sub.empty() ? it.key() : it.key() + "." + sub;
      }
    }
    for (auto it = b.begin(); it != b.end(); ++it)
      if (!a.contains(it.key())) return it.key();
  }
  return "";
}

}  // namespace

namespace {

bool is_inside(const fs::path& path, const fs::path& folder) {
  auto p = path.begin(), f = folder.begin();
  for (; f != folder.end(); ++f, ++p)
    if (p == path.end() || *p != *f) return false;
  return p != path.end();
}

// A part (or its manifest, or a file of a part folder) given as a symbolic link is followed only
// when it resolves inside the folder that holds the link: a link to /etc/passwd or to another
// user's files is not a shard output.
void check_link(const fs::path& p, const std::string& who) {
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(p, ec))) return;
  const fs::path folder = fs::weakly_canonical(fs::absolute(p).parent_path(), ec);
  const fs::path target = fs::canonical(p, ec);
  if (ec) throw Error(who + ": " + p.string() + " is a symbolic link to a missing file");
  if (!is_inside(target, folder))
    throw Error(who + ": " + p.string() + " is a symbolic link to " + target.string() + ", outside " +
                folder.string() + " (give the file itself)");
}

std::string describe(const PartDigest& d) {
  std::string s;
  if (d.rows) s = count_of(*d.rows, "row") + " in ";
  return s + count_of(static_cast<size_t>(d.bytes), "byte");
}

// The part as it is now against the digest its manifest recorded when the shard was written.
void check_part(const ShardManifest& m, const std::string& part) {
  const std::string who = shard_name(m, part);
  if (m.output.empty())
    throw Error(who + ": its manifest records no checksum of the output (written by an older sbert?); re-run the shard");
  check_link(part, who);
  check_link(shard_manifest_path(part), who);
  std::error_code ec;
  auto check_file = [&](const fs::path& file, const std::string& kind, const PartDigest& want) {
    if (!fs::is_regular_file(file, ec)) throw Error(who + ": " + file.string() + " is not a regular file");
    // Counted even when the size already differs (a regular file, read once), so that the message
    // says how many rows went.
    PartDigest got;
    try {
      got = digest_file(file.string(), kind, m.header);
    } catch (const Error&) {
      const uint64_t size = fs::file_size(file, ec);
      if (ec || size == want.bytes) throw;  // e.g. a broken npy header: that error names the file
      got.bytes = size;
      got.rows.reset();  // unknown (unreadable header): the sizes tell
    }
    if (got.bytes == want.bytes && got.rows == want.rows && got.fnv1a64 == want.fnv1a64) return;
    std::string what;
    if (got.rows != want.rows || got.bytes != want.bytes)
      what = "holds " + describe(got) + ", its manifest recorded " + describe(want);
    else
      what = "has other content than its manifest recorded (FNV-1a " + got.fnv1a64 + ", recorded " + want.fnv1a64 + ")";
    throw Error(who + ": " + file.string() + " " + what + ": it changed after the shard was written; re-run shard " +
                std::to_string(m.shard) + "/" + std::to_string(m.count));
  };
  if (m.format == "projector") {
    if (!fs::is_directory(part, ec)) throw Error(who + ": not a folder");
    for (const auto& [name, kind] : kProjectorFiles) {
      auto it = m.output.find(name);
      if (it == m.output.end()) throw Error(who + ": its manifest records no checksum of " + name);
      const fs::path file = fs::path(part) / name;
      check_link(file, who);
      check_file(file, kind, it->second);
    }
    return;
  }
  auto it = m.output.find("");
  if (it == m.output.end()) throw Error(who + ": its manifest records no checksum of the output file");
  check_file(part, m.format, it->second);
}

}  // namespace

std::vector<std::pair<ShardManifest, std::string>> check_shard_set(const std::vector<std::string>& given) {
  if (given.empty()) throw Error("merge: no shard outputs given");
  // A glob such as part-* also names the manifests (part-0.npy.shard.json): they stand for their
  // output, each output once.
  std::vector<std::string> parts;
  const std::string suffix = ".shard.json";
  for (const std::string& p : given)
    if (p.size() <= suffix.size() || p.compare(p.size() - suffix.size(), suffix.size(), suffix) != 0) parts.push_back(p);
  for (const std::string& p : given)
    if (p.size() > suffix.size() && p.compare(p.size() - suffix.size(), suffix.size(), suffix) == 0) {
      const std::string output = p.substr(0, p.size() - suffix.size());
      if (std::find(parts.begin(), parts.end(), output) == parts.end()) parts.push_back(output);
    }
  std::vector<std::pair<ShardManifest, std::string>> shards;
  for (const auto& p : parts) shards.emplace_back(read_shard_manifest(p), p);

  const ShardManifest first = shards.front().first;
  const std::string first_path = shards.front().second;
  for (const auto& [m, p] : shards) {
    if (m.count != first.count)
      throw Error(shard_name(m, p) + " is one of " + std::to_string(m.count) + " shards, " + shard_name(first, first_path) +
                  " one of " + std::to_string(first.count));
    if (m.format != first.format)
      throw Error(shard_name(m, p) + " is " + m.format + ", " + shard_name(first, first_path) + " is " + first.format);
    if (m.header != first.header)
      throw Error(shard_name(m, p) + (m.header ? " has" : " has no") + " header row, " + shard_name(first, first_path) +
                  (first.header ? " has one" : " has none"));
    if (m.records != first.records || m.key != first.key) {
      std::string what = m.records != first.records ? "records" : first_difference(first.key, m.key);
      throw Error(shard_name(m, p) + " was made with other input, model or options than " +
                  shard_name(first, first_path) + " (differs in: " + what + ")");
    }
  }
  std::stable_sort(shards.begin(), shards.end(),
                   [](const auto& a, const auto& b) { return a.first.shard < b.first.shard; });
  for (size_t i = 0; i + 1 < shards.size(); ++i)
    if (shards[i].first.shard == shards[i + 1].first.shard)
      throw Error(shard_name(shards[i + 1].first, shards[i + 1].second) + " is given twice (also " +
                  shards[i].second + ")");
  {
    size_t want = 0;
    for (const auto& [m, p] : shards) {
      if (m.shard != want) break;
      ++want;
    }
    if (want < first.count)
      throw Error("merge: shard " + std::to_string(want) + "/" + std::to_string(first.count) + " is missing (" +
                  std::to_string(shards.size()) + " of " + std::to_string(first.count) + " shards given)");
  }
  size_t next_record = 0, next_index = 0;
  for (const auto& [m, p] : shards) {
    RecordRange want = shard_range(m.records, m.shard, m.count);
    if (m.range.begin != next_record || m.range.begin != want.begin || m.range.end != want.end)
      throw Error(shard_name(m, p) + " covers records [" + std::to_string(m.range.begin) + ", " +
                  std::to_string(m.range.end) + "), expected [" + std::to_string(want.begin) + ", " +
                  std::to_string(want.end) + "): overlapping or made with another record count");
    if (m.rows && m.first_index != next_index)
      throw Error(shard_name(m, p) + " starts at index " + std::to_string(m.first_index) + ", expected " +
                  std::to_string(next_index));
    next_record = m.range.end;
    next_index = (m.rows ? m.first_index : next_index) + m.rows;
  }
  for (const auto& [m, p] : shards)
    if (m.format != "index") check_part(m, p);  // a search index checks its own files when opened
  return shards;
}

std::vector<std::string> ranked_columns(bool with_query, bool with_id) {
  std::vector<std::string> columns;
  if (with_query) columns.push_back("query");
  columns.insert(columns.end(), {"rank", "index"});
  if (with_id) columns.push_back("id");
  columns.insert(columns.end(), {"score", "text"});
  return columns;
}

void write_ranked_row(TableWriter& out, const RankedRow& row, bool with_query, bool with_id) {
  Fields f;
  if (with_query) f.add("query", row.query);
  f.add("rank", row.rank).add("index", row.index);
  if (with_id) f.add("id", row.id);
  f.add("score", row.score).add("text", row.text);
  out.write(f);
}

namespace {

// `rerank --shard` outputs: each shard ranked its own records per query; the merge puts every
// query's rows together (queries in order of first appearance), re-sorts them by score (ties:
// the earlier record, as CrossEncoder ranking does), keeps the top k and renumbers the ranks.
// Scores were written as shortest round-trip text, so they compare exactly.
size_t merge_ranked(const std::vector<std::pair<ShardManifest, std::string>>& shards, const std::string& fmt,
                    const nlohmann::json& ranking, AtomicOutput& out) {
  const bool multi = ranking.value("multi", false), with_id = ranking.value("id", false);
  const size_t top_k = ranking.value("top_k", size_t{0});
  std::vector<std::string> order;                        // queries, first appearance
  std::map<std::string, std::vector<RankedRow>> groups;  // query -> rows
  ReaderOptions ro;
  ro.format = fmt == "csv" ? InputFormat::Csv : fmt == "tsv" ? InputFormat::Tsv : InputFormat::Jsonl;
  for (const auto& [m, p] : shards) {
    if (m.rows == 0) continue;
    RecordReader reader({p}, ro);
    FieldSelector query("query", "query column"), index("index", "index column"), score("score", "score column"),
        id("id", "id column"), text("text", "text column");
    Record rec;
    while (reader.next(rec)) {
      const std::string where = rec.source + ":" + std::to_string(rec.line);
      const std::string q = multi ? query.get(rec, reader) : std::string();
      auto [it, fresh] = groups.try_emplace(q);
      if (fresh) order.push_back(q);
      RankedRow r;
      r.query = q;
      r.index = static_cast<size_t>(parse_number_field(index.get(rec, reader), where, "index"));
      r.score = std::strtof(score.get(rec, reader).c_str(), nullptr);
      if (with_id) r.id = id.get(rec, reader);
      r.text = text.get(rec, reader);
      it->second.push_back(std::move(r));
    }
  }
  TableWriter w(out, parse_table_format(fmt));
  w.header(ranked_columns(multi, with_id));
  size_t rows = 0;
  for (const std::string& q : order) {
    std::vector<RankedRow>& g = groups[q];
    std::stable_sort(g.begin(), g.end(), [](const RankedRow& x, const RankedRow& y) {
      if (std::isnan(x.score)) return false;
      if (std::isnan(y.score)) return true;
      if (x.score != y.score) return x.score > y.score;
      return x.index < y.index;
    });
    if (top_k > 0 && g.size() > top_k) g.resize(top_k);
    for (size_t r = 0; r < g.size(); ++r, ++rows) {
      g[r].rank = r + 1;
      write_ranked_row(w, g[r], multi, with_id);
    }
  }
  w.flush();
  return rows;
}

}  // namespace

MergeResult merge_shards(const std::vector<std::string>& parts, const std::string& output) {
  const std::vector<std::pair<ShardManifest, std::string>> shards = check_shard_set(parts);
  const ShardManifest& first = shards.front().first;
  size_t total_rows = 0;
  for (const auto& s : shards) total_rows += s.first.rows;
  const std::string& fmt = first.format;
  const bool binary = fmt == "npy" || fmt == "f32";
  if (fmt == "projector") {
    // Folders of vecs.tsv (no header) and meta.tsv (a header row when it has several columns).
    if (output.empty() || output == "-") throw Error("merge: projector output is a folder: give -o DIR");
    std::error_code ec;
    fs::create_directories(output, ec);
    if (!fs::is_directory(output)) throw Error("merge: cannot create folder " + output);
    OutputGroup files;
    AtomicOutput& vecs = files.add((fs::path(output) / "vecs.tsv").string());
    AtomicOutput& meta = files.add((fs::path(output) / "meta.tsv").string());
    std::string header;
    bool have_header = false;
    for (const auto& [m, p] : shards) {
      vecs.write(read_all((fs::path(p) / "vecs.tsv").string()));
      const std::string bytes = read_all((fs::path(p) / "meta.tsv").string());
      if (bytes.empty()) continue;
      const size_t nl = bytes.find('\n');
      const std::string first_line = bytes.substr(0, nl == std::string::npos ? bytes.size() : nl + 1);
      if (first_line.find('\t') == std::string::npos) {  // one column: no header
        meta.write(bytes);
      } else if (!have_header) {
        header = first_line;
        have_header = true;
        meta.write(bytes);
      } else {
        if (first_line != header) throw Error(shard_name(m, p) + ": meta.tsv has another header row than the first shard");
        meta.write(std::string_view(bytes).substr(first_line.size()));
      }
    }
    files.commit();
    MergeResult result;
    result.format = fmt;
    result.shards = shards.size();
    result.key = first.key;
    for (const auto& [m, p] : shards) result.rows += m.rows;
    return result;
  }
  if (fmt != "jsonl" && fmt != "csv" && fmt != "tsv" && !binary)
    throw Error("merge: format '" + fmt + "' cannot be merged (jsonl, csv, tsv, npy, f32 or projector)");

  MergeResult result;
  if (first.key.contains("evaluation") && first.key["evaluation"].value("kind", "") == "ranking") {
    if (fmt != "jsonl" && fmt != "csv" && fmt != "tsv") throw Error("merge: ranked output must be jsonl, csv or tsv");
    AtomicOutput out(output);
    result.format = fmt;
    result.shards = shards.size();
    result.key = first.key;
    result.rows = merge_ranked(shards, fmt, first.key["evaluation"], out);
    out.commit();
    return result;
  }
  result.format = fmt;
  result.shards = shards.size();
  result.key = first.key;
  for (const auto& s : shards) result.evaluations.push_back(s.first.evaluation);
  AtomicOutput out(output, binary);
  if (fmt == "npy") {
    std::vector<std::string> data;
    size_t rows = 0, cols = 0;
    bool have_cols = false;
    for (const auto& [m, p] : shards) {
      std::string bytes = read_all(p);
      NpyPart np = parse_npy(bytes, bytes.size(), p);
      if (np.rows) {
        if (have_cols && np.cols != cols)
          throw Error(shard_name(m, p) + " has " + std::to_string(np.cols) + " columns, the others " + std::to_string(cols));
        cols = np.cols;
        have_cols = true;
      } else if (!have_cols) {
        cols = np.cols;  // an empty shard still knows the dimension
      }
      rows += np.rows;
      data.push_back(bytes.substr(np.data_offset));
    }
    out.write(npy_header(rows, cols));
    for (auto& d : data) out.write(d);
    result.rows = rows;
  } else {
    bool have_header = false;
    std::string header;
    for (const auto& [m, p] : shards) {
      std::string bytes = read_all(p);
      if ((fmt == "csv" || fmt == "tsv") && first.header) {
        if (bytes.empty()) continue;
        size_t nl = bytes.find('\n');
        std::string h = bytes.substr(0, nl == std::string::npos ? bytes.size() : nl + 1);
        if (!have_header) {
          header = h;
          have_header = true;
          out.write(bytes);
        } else {
          if (h != header) throw Error(shard_name(m, p) + " has another header row than the first shard");
          out.write(std::string_view(bytes).substr(h.size()));
        }
      } else {
        out.write(bytes);
      }
    }
    result.rows = total_rows;
  }
  if (fmt == "f32" && !out.is_stdout() && !out.is_streamed()) {
    // Raw float32 has its shape beside it, as `sbert embed --format f32` writes it.
    size_t dim = 0;
    for (const auto& [m, p] : shards) {
      if (m.rows == 0) continue;
      std::error_code ec;
      const auto size = fs::file_size(p, ec);
      if (ec || size % (m.rows * sizeof(float)) != 0)
        throw Error(shard_name(m, p) + ": " + std::to_string(size) + " bytes is not " + std::to_string(m.rows) +
                    " rows of float32");
      const size_t d = size / (m.rows * sizeof(float));
      if (dim && d != dim)
        throw Error(shard_name(m, p) + " has " + std::to_string(d) + " dimensions, the others " + std::to_string(dim));
      dim = d;
    }
    AtomicOutput shape(f32_shape_path(output));
    shape.write(f32_shape_json(total_rows, dim) + "\n");
    out.commit();
    shape.commit();
    return result;
  }
  out.commit();
  return result;
}

}  // namespace sbert
