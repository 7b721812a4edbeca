// sbert merge: joins the outputs of `--shard I/N` runs into the output of one whole run.
#include "cli_common.h"
#include "command.h"

#include <optional>

#include "sbert/report.h"
#include "sbert/zero_shot.h"
#include "sbert/shard.h"

namespace sbert::cli {
namespace {

struct MergeArgs {
  std::string output;
  std::vector<std::string> parts;
};

int run_merge(const MergeArgs& a) {
  MergeResult r = merge_shards(a.parts, a.output);
  log("merged " + count_of(r.shards, "shard") + " (" + count_of(r.rows, "row") + ", " + r.format + ")");
  // Figures of the whole input (e.g. Pearson/Spearman of `similarity --gold-column`), recomputed
  // from the merged rows.
  if (r.key.contains("evaluation") && r.key["evaluation"].value("kind", "") == "confusion") {
    // NLI accuracy: the shards' confusion counts summed.
    std::optional<LabelConfusion> total;
    for (const auto& counts : r.evaluations) {
      if (!counts.is_object()) continue;
      if (!total) total.emplace(counts.value("labels", std::vector<std::string>{}));
      total->add_counts(counts);
    }
    if (total) result(total->report());
  } else if (r.key.contains("evaluation")) {
    if (a.output.empty() || a.output == "-") {
      log("write the merge to a file (-o) to recompute its evaluation");
    } else if (std::string line = evaluate_merged(a.output, r.format, r.key["evaluation"]); !line.empty()) {
      result(line);
    }
  }
  return 0;
}

std::function<int()> setup_merge(CLI::App& app) {
  auto a = std::make_shared<MergeArgs>();
  CLI::App* sub = app.add_subcommand(
      "merge", "Join shard outputs (written with --shard I/N, each with its OUT.shard.json) in record order");
  sub->add_option("-o,--output", a->output, "Merged output file (default: standard output); written atomically");
  sub->add_option("parts", a->parts, "The shard outputs, any order (jsonl, csv, tsv, npy or f32)")->required();
  return [a]() { return run_merge(*a); };
}

SBERT_COMMAND("merge", setup_merge);

}  // namespace
}  // namespace sbert::cli
