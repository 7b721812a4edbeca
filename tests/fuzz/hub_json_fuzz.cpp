// The hub's JSON: the API's revision listing, and describe_model over a folder whose
// config.json / modules.json / model.safetensors header come from the input. The first byte picks which.
#include "fuzz_util.h"
#include "hub/cache_layout.h"
#include "sbert/error.h"
#include "sbert/hub.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 4;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode == 0) {
    auto l = sbert::hub::detail::parse_repo_listing(body);
    if (l && !sbert::hub::detail::is_commit_hash(l->sha)) std::abort();
    return 0;
  }
  namespace fs = std::filesystem;
  const fs::path dir = sbert::fuzz::work_dir() / "model";
  fs::remove_all(dir);
  fs::create_directories(dir);
  static const char* kConfig = R"({"model_type": "bert", "hidden_size": 8, "num_hidden_layers": 1})";
  auto put = [&](const char* name, const std::string& text) {
    sbert::fuzz::write_input(std::string("model/") + name, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  };
  put("config.json", mode == 1 ? body : kConfig);
  if (mode == 2) put("modules.json", body);
  if (mode == 3) put("model.safetensors", body);
  try {
    (void)sbert::hub::describe_model(dir);
  } catch (const sbert::Error&) {
  }
  return 0;
}
