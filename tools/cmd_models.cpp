// sbert models: the Hugging Face hub cache from the command line.
//   list                what is cached (name, size on disk, revisions)
//   download NAME       fetch (or complete) org/name[@revision] into the cache; prints the folder
//   info NAME|DIR       architecture, dimension, pooling, max length, tokenizer, parameters
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "sbert/error.h"
#include "sbert/hub.h"
#include "sbert/output_file.h"

namespace sbert::cli {
namespace {

namespace fs = std::filesystem;

struct ModelsArgs {
  std::string name;
  bool offline = false;
  bool json = false;
  std::string token;  // never printed
  CLI::App* list = nullptr;
  CLI::App* download = nullptr;
  CLI::App* info = nullptr;
};

std::string with_commas(std::uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(size_t(i), ",");
  return s;
}

hub::ResolveOptions resolve_options(const ModelsArgs& a) {
  hub::ResolveOptions o;
  o.offline = a.offline;
  o.token = a.token;
  o.progress = verbosity() != Verbosity::Quiet && stderr_is_terminal();
  return o;
}

void write_stdout(const std::string& text) {
  AtomicOutput out("");
  out.write(text);
  out.commit();
}

int run_list(const ModelsArgs& a) {
  auto o = resolve_options(a);
  auto models = hub::list_cached_models(o);
  if (a.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : models) {
      nlohmann::json revs = nlohmann::json::array();
      for (const auto& r : m.revisions) {
        revs.push_back({{"commit", r.commit}, {"refs", r.refs}, {"snapshot", r.snapshot.string()}});
      }
      arr.push_back({{"name", m.name},
                     {"path", m.path.string()},
                     {"size_bytes", m.size_bytes},
                     {"revisions", revs}});
    }
    write_stdout(arr.dump(2) + "\n");
    return 0;
  }
  if (models.empty()) {
    log("no models in " + hub::cache_dir(o).string());
    return 0;
  }
  size_t width = 4;
  for (const auto& m : models) width = std::max(width, m.name.size());
  std::string text;
  auto row = [&](const std::string& name, const std::string& size, const std::string& revs) {
    text += name + std::string(width - name.size() + 2, ' ');
    text += std::string(size.size() < 9 ? 9 - size.size() : 0, ' ') + size + "  " + revs + "\n";
  };
  row("NAME", "SIZE", "REVISIONS");
  for (const auto& m : models) {
    std::string revs;
    for (const auto& r : m.revisions) {
      if (!revs.empty()) revs += ", ";
      std::string refs;
      for (const auto& ref : r.refs) refs += (refs.empty() ? "" : ",") + ref;
      revs += (refs.empty() ? "" : refs + "@") + r.commit.substr(0, 12);
    }
    row(m.name, human_bytes(m.size_bytes), revs.empty() ? "-" : revs);
  }
  write_stdout(text);
  log("cache: " + hub::cache_dir(o).string());
  return 0;
}

int run_download(const ModelsArgs& a) {
  fs::path snapshot = hub::download_model(a.name, resolve_options(a));
  write_stdout(snapshot.string() + "\n");
  return 0;
}

int run_info(const ModelsArgs& a) {
  fs::path dir = hub::resolve_model(a.name, resolve_options(a));
  hub::ModelInfo info = hub::describe_model(dir);
  if (a.json) {
    nlohmann::json j = {{"path", info.path.string()},
                        {"architecture", info.architecture},
                        {"model_type", info.model_type},
                        {"dimension", info.dimension},
                        {"hidden_size", info.hidden_size},
                        {"pooling", info.pooling},
                        {"pooling_from_config", info.pooling_from_config},
                        {"normalize", info.normalize},
                        {"max_length", info.max_length},
                        {"tokenizer", info.tokenizer},
                        {"modules", info.modules},
                        {"weight_files", info.weight_files},
                        {"dtypes", info.dtypes},
                        {"size_bytes", info.size_bytes}};
    j["parameters"] = info.parameters ? nlohmann::json(*info.parameters) : nlohmann::json(nullptr);
    write_stdout(j.dump(2) + "\n");
    return 0;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("-") : s;
  };
  std::string text;
  auto line = [&](const std::string& key, const std::string& value) {
    text += key + ":" + std::string(key.size() < 13 ? 13 - key.size() : 1, ' ') + value + "\n";
  };
  line("path", info.path.string());
  line("architecture", info.architecture +
                           (info.model_type.empty() ? "" : " (" + info.model_type + ")"));
  line("dimension", std::to_string(info.dimension));
  line("hidden size", std::to_string(info.hidden_size));
  line("pooling", info.pooling + (info.pooling_from_config ? "" : " (default: no Pooling module)"));
  line("normalize", info.normalize ? "yes" : "no");
  line("max length", std::to_string(info.max_length));
  line("tokenizer", info.tokenizer);
  line("modules", join(info.modules));
  line("weights", join(info.weight_files) +
                      (info.dtypes.empty() ? "" : " (" + join(info.dtypes) + ")"));
  line("parameters", info.parameters ? with_commas(*info.parameters)
                                     : std::string("unknown (torch .bin weights)"));
  line("size", human_bytes(info.size_bytes));
  write_stdout(text);
  return 0;
}

std::function<int()> setup(CLI::App& app) {
  auto a = std::make_shared<ModelsArgs>();
  CLI::App* sub = app.add_subcommand(
      "models", "Models in the Hugging Face cache: list, download, info (HF_HOME, HF_HUB_CACHE, "
                "HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE)");
  sub->require_subcommand(1);
  a->list = sub->add_subcommand("list", "Cached models with their size on disk and revisions");
  a->list->add_flag("--json", a->json, "JSON output");
  a->download = sub->add_subcommand("download", "Download org/name[@revision] into the cache; prints the folder");
  a->download->add_option("name", a->name, "org/name[@revision]")->required();
  a->info = sub->add_subcommand("info", "Architecture, dimension, pooling, max length, tokenizer, parameters");
  a->info->add_option("model", a->name, "Model folder or org/name[@revision]")->required();
  a->info->add_flag("--json", a->json, "JSON output");
  a->info->add_flag("--offline", a->offline, "Never touch the network (also HF_HUB_OFFLINE=1)");
  for (CLI::App* s : {a->download, a->info}) {
    s->add_option("--token", a->token, "Hub access token (default: $HF_TOKEN)");
  }
  return [a]() {
    if (a->list->parsed()) return run_list(*a);
    if (a->download->parsed()) return run_download(*a);
    return run_info(*a);
  };
}

SBERT_COMMAND("models", setup);

}  // namespace
}  // namespace sbert::cli
