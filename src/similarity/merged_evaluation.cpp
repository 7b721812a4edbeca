// evaluate_merged: Pearson/Spearman of a merged `similarity --shard` output, from its rows.
#include <cstdio>

#include "sbert/error.h"
#include "sbert/report.h"
#include "sbert/stats.h"
#include "sbert/text_input.h"

namespace sbert {

std::string evaluate_merged(const std::string& path, const std::string& format, const nlohmann::json& evaluation) {
  if (!evaluation.is_object() || evaluation.value("kind", "") != "correlation") return "";
  ReaderOptions ro;
  ro.format = format == "csv" ? InputFormat::Csv : format == "tsv" ? InputFormat::Tsv : InputFormat::Jsonl;
  ro.header = evaluation.value("header", true);
  RecordReader reader({path}, ro);
  FieldSelector gold_sel(evaluation.value("gold", ""), "gold column"), score_sel(evaluation.value("score", ""), "score column");
  std::vector<double> gold, score;
  Record rec;
  while (reader.next(rec)) {
    const std::string where = rec.source + ":" + std::to_string(rec.line);
    gold.push_back(parse_number_field(gold_sel.get(rec, reader), where, "gold value"));
    score.push_back(parse_number_field(score_sel.get(rec, reader), where, "score"));
  }
  if (gold.size() < 2) return "";
  char line[200];
  std::snprintf(line, sizeof line, "%zu pairs, %s: Pearson %.4f, Spearman %.4f", gold.size(),
                evaluation.value("function", "").c_str(), pearson(score, gold), spearman(score, gold));
  return line;
}

}  // namespace sbert
