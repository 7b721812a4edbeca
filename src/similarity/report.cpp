#include "sbert/report.h"
#include "sbert/text_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>

#include "sbert/error.h"
#include "sbert/html.h"

namespace sbert {
namespace {

std::string fmt(double v, const char* spec = "%.4f") {
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, spec, v);
  return buf;
}

nlohmann::json json_number(double v) {
  if (!std::isfinite(v)) return nullptr;  // JSON has no NaN
  return v;
}


// Markdown table cells: pipes and newlines would break the row.
std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}


std::string text_at(const std::vector<std::string>& v, size_t i) {
  return i < v.size() ? v[i] : std::string();
}

// Round tick positions covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target = 6) {
  std::vector<double> ticks;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  for (double t = std::ceil(lo / step) * step; t <= hi + step * 1e-9; t += step)
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  return ticks;
}

struct Frame {
  double width = 560, height = 360;
  double left = 60, right = 20, top = 20, bottom = 50;
  double x0, x1, y0, y1;  // data ranges
  double px(double x) const { return left + (x - x0) / (x1 - x0) * (width - left - right); }
  double py(double y) const { return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom); }
};

void pad_range(double& lo, double& hi) {
  if (!(hi > lo)) {
    lo -= 0.5;
    hi += 0.5;
  }
  const double pad = (hi - lo) * 0.04;
  lo -= pad;
  hi += pad;
}

void svg_axes(std::ostringstream& o, const Frame& f, const std::string& xlabel,
              const std::string& ylabel, bool y_ticks = true) {
  o << "<rect x='" << f.left << "' y='" << f.top << "' width='" << (f.width - f.left - f.right)
    << "' height='" << (f.height - f.top - f.bottom) << "' fill='#fafafa' stroke='#999'/>\n";
  for (double t : nice_ticks(f.x0, f.x1)) {
    if (t < f.x0 || t > f.x1) continue;
    const double x = f.px(t);
    o << "<line x1='" << x << "' y1='" << f.height - f.bottom << "' x2='" << x << "' y2='"
      << f.height - f.bottom + 5 << "' stroke='#666'/>"
      << "<text x='" << x << "' y='" << f.height - f.bottom + 18
      << "' text-anchor='middle' class='tick'>" << fmt(t, "%g") << "</text>\n";
  }
  if (y_ticks) {
    for (double t : nice_ticks(f.y0, f.y1)) {
      if (t < f.y0 || t > f.y1) continue;
      const double y = f.py(t);
      o << "<line x1='" << f.left - 5 << "' y1='" << y << "' x2='" << f.left << "' y2='" << y
        << "' stroke='#666'/><line x1='" << f.left << "' y1='" << y << "' x2='"
        << f.width - f.right << "' y2='" << y << "' stroke='#eee'/>"
        << "<text x='" << f.left - 8 << "' y='" << y + 4 << "' text-anchor='end' class='tick'>"
        << fmt(t, "%g") << "</text>\n";
    }
  }
  o << "<text x='" << (f.left + f.width - f.right) / 2 << "' y='" << f.height - 10
    << "' text-anchor='middle' class='label'>" << html_escape(xlabel) << "</text>\n"
    << "<text transform='translate(16," << (f.top + f.height - f.bottom) / 2
    << ") rotate(-90)' text-anchor='middle' class='label'>" << html_escape(ylabel)
    << "</text>\n";
}

std::string svg_histogram(const Histogram& h, const std::string& xlabel, const char* color) {
  Frame f;
  f.width = 470;
  f.height = 240;
  f.x0 = h.low;
  f.x1 = h.high;
  f.y0 = 0;
  const size_t peak = h.counts.empty() ? 1 : *std::max_element(h.counts.begin(), h.counts.end());
  f.y1 = std::max<double>(1, static_cast<double>(peak)) * 1.08;
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << f.width << "' height='" << f.height
    << "' viewBox='0 0 " << f.width << ' ' << f.height << "' role='img'>\n";
  svg_axes(o, f, xlabel, "pairs");
  const double width = (h.high - h.low) / static_cast<double>(std::max<size_t>(h.counts.size(), 1));
  for (size_t b = 0; b < h.counts.size(); ++b) {
    const double lo = h.low + width * static_cast<double>(b);
    const double x = f.px(lo), x2 = f.px(lo + width);
    const double y = f.py(static_cast<double>(h.counts[b]));
    o << "<rect class='bar' x='" << x + 0.5 << "' y='" << y << "' width='"
      << std::max(0.0, x2 - x - 1) << "' height='" << f.py(0) - y << "' fill='" << color
      << "'><title>[" << fmt(lo, "%.4g") << ", " << fmt(lo + width, "%.4g")
      << "): " << h.counts[b] << "</title></rect>\n";
  }
  o << "</svg>";
  return o.str();
}

std::string svg_scatter(const EvaluationInput& in) {
  Frame f;
  f.width = 620;
  f.height = 460;
  const auto [gmin, gmax] = std::minmax_element(in.gold.begin(), in.gold.end());
  const auto [smin, smax] = std::minmax_element(in.scores.begin(), in.scores.end());
  f.x0 = *gmin;
  f.x1 = *gmax;
  f.y0 = *smin;
  f.y1 = *smax;
  pad_range(f.x0, f.x1);
  pad_range(f.y0, f.y1);
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' id='scatter' width='" << f.width << "' height='"
    << f.height << "' viewBox='0 0 " << f.width << ' ' << f.height << "' role='img'>\n";
  svg_axes(o, f, "gold", "score");
  // Least-squares line of score on gold, drawn across the gold range.
  const double n = static_cast<double>(in.gold.size());
  const double mg = std::accumulate(in.gold.begin(), in.gold.end(), 0.0) / n;
  const double ms = std::accumulate(in.scores.begin(), in.scores.end(), 0.0) / n;
  double sgs = 0, sgg = 0;
  for (size_t i = 0; i < in.gold.size(); ++i) {
    sgs += (in.gold[i] - mg) * (in.scores[i] - ms);
    sgg += (in.gold[i] - mg) * (in.gold[i] - mg);
  }
  for (size_t i = 0; i < in.gold.size(); ++i) {
    o << "<circle class='pt' cx='" << fmt(f.px(in.gold[i]), "%.2f") << "' cy='"
      << fmt(f.py(in.scores[i]), "%.2f") << "' r='2.6'><title>";
    if (i < in.lines.size()) o << "line " << in.lines[i] << ": ";
    o << "gold " << fmt(in.gold[i], "%.4g") << ", score " << fmt(in.scores[i], "%.4f");
    if (i < in.texts_a.size())
      o << "\n" << html_escape(shorten_utf8(in.texts_a[i], 120)) << "\n"
        << html_escape(shorten_utf8(text_at(in.texts_b, i), 120));
    o << "</title></circle>\n";
  }
  if (sgg > 0) {
    const double slope = sgs / sgg;
    const double ga = *gmin, gb = *gmax;
    const double sa = std::clamp(ms + slope * (ga - mg), f.y0, f.y1);
    const double sb = std::clamp(ms + slope * (gb - mg), f.y0, f.y1);
    o << "<line id='fit' x1='" << f.px(ga) << "' y1='" << f.py(sa) << "' x2='" << f.px(gb)
      << "' y2='" << f.py(sb) << "' stroke='#d62728' stroke-width='2'/>\n";
  }
  o << "</svg>";
  return o.str();
}

}  // namespace

EvaluationSummary evaluate(const EvaluationInput& in, size_t bins, size_t max_disagreements) {
  if (in.scores.size() != in.gold.size())
    throw Error("evaluation: " + std::to_string(in.scores.size()) + " scores but " +
                std::to_string(in.gold.size()) + " gold values");
  if (in.scores.size() < 2) throw Error("evaluation: needs at least 2 scored pairs");
  for (size_t i = 0; i < in.gold.size(); ++i)
    if (!std::isfinite(in.gold[i]) || !std::isfinite(in.scores[i]))
      throw Error("evaluation: pair " + std::to_string(i + 1) + " has a non-finite value");
  EvaluationSummary s;
  s.pairs = in.scores.size();
  s.pearson = pearson(in.scores, in.gold);
  s.spearman = spearman(in.scores, in.gold);
  s.scores = summarize(in.scores);
  s.gold = summarize(in.gold);
  s.score_histogram = histogram(in.scores, bins);
  s.gold_histogram = histogram(in.gold, bins);
  const std::vector<double> rs = average_ranks(in.scores), rg = average_ranks(in.gold);
  std::vector<size_t> order(s.pairs);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::fabs(rs[a] - rg[a]) > std::fabs(rs[b] - rg[b]);
  });
  order.resize(std::min(order.size(), max_disagreements));
  s.disagreements = order;
  return s;
}

std::string render_report_json(const EvaluationInput& in, const EvaluationSummary& s) {
  nlohmann::json j;
  j["title"] = in.title;
  j["function"] = in.function;
  j["model"] = in.model;
  j["input"] = in.input;
  j["pairs"] = s.pairs;
  j["pearson"] = json_number(s.pearson);
  j["spearman"] = json_number(s.spearman);
  auto summary = [](const Summary& x) {
    return nlohmann::json{{"count", x.count},        {"mean", json_number(x.mean)},
                          {"std", json_number(x.stddev)}, {"min", json_number(x.min)},
                          {"max", json_number(x.max)}};
  };
  j["scores"] = summary(s.scores);
  j["gold"] = summary(s.gold);
  auto hist = [](const Histogram& h) {
    return nlohmann::json{{"low", h.low}, {"high", h.high}, {"counts", h.counts}};
  };
  j["score_histogram"] = hist(s.score_histogram);
  j["gold_histogram"] = hist(s.gold_histogram);
  nlohmann::json details = nlohmann::json::object();
  for (const auto& [k, v] : in.details) details[k] = v;
  j["details"] = details;
  nlohmann::json worst = nlohmann::json::array();
  for (size_t i : s.disagreements) {
    nlohmann::json w{{"index", i}, {"score", json_number(in.scores[i])},
                     {"gold", json_number(in.gold[i])}};
    if (i < in.lines.size()) w["line"] = in.lines[i];
    if (i < in.texts_a.size()) w["a"] = in.texts_a[i];
    if (i < in.texts_b.size()) w["b"] = in.texts_b[i];
    worst.push_back(std::move(w));
  }
  j["largest_rank_disagreements"] = worst;
  return j.dump(2) + "\n";
}

std::string render_report_markdown(const EvaluationInput& in, const EvaluationSummary& s) {
  std::ostringstream o;
  o << "# " << in.title << "\n\n";
  o << "| | |\n|---|---|\n";
  o << "| pairs | " << s.pairs << " |\n";
  o << "| Pearson | " << fmt(s.pearson) << " |\n";
  o << "| Spearman | " << fmt(s.spearman) << " |\n";
  if (!in.function.empty()) o << "| function | " << md_cell(in.function) << " |\n";
  if (!in.model.empty()) o << "| model | " << md_cell(in.model) << " |\n";
  if (!in.input.empty()) o << "| input | " << md_cell(in.input) << " |\n";
  for (const auto& [k, v] : in.details) o << "| " << md_cell(k) << " | " << md_cell(v) << " |\n";
  o << "\n## Distributions\n\n| | mean | std | min | max |\n|---|---|---|---|---|\n";
  for (auto [name, x] : {std::pair<const char*, const Summary*>{"score", &s.scores},
                         std::pair<const char*, const Summary*>{"gold", &s.gold}})
    o << "| " << name << " | " << fmt(x->mean) << " | " << fmt(x->stddev) << " | "
      << fmt(x->min) << " | " << fmt(x->max) << " |\n";
  o << "\n## Score histogram\n\n```\n";
  const Histogram& h = s.score_histogram;
  const size_t peak = std::max<size_t>(1, *std::max_element(h.counts.begin(), h.counts.end()));
  const double width = (h.high - h.low) / static_cast<double>(h.counts.size());
  for (size_t b = 0; b < h.counts.size(); ++b) {
    const size_t bar = (h.counts[b] * 40 + peak - 1) / peak;
    o << fmt(h.low + width * static_cast<double>(b), "%8.4f") << " | " << std::string(bar, '#')
      << ' ' << h.counts[b] << "\n";
  }
  o << "```\n";
  if (!s.disagreements.empty()) {
    o << "\n## Largest rank disagreements\n\n| line | gold | score | A | B |\n|---|---|---|---|---|\n";
    for (size_t i : s.disagreements) {
      o << "| " << (i < in.lines.size() ? std::to_string(in.lines[i]) : std::to_string(i + 1))
        << " | " << fmt(in.gold[i], "%.4g") << " | " << fmt(in.scores[i]) << " | "
        << md_cell(shorten_utf8(text_at(in.texts_a, i), 200)) << " | "
        << md_cell(shorten_utf8(text_at(in.texts_b, i), 200)) << " |\n";
    }
  }
  return o.str();
}

std::string render_report_html(const EvaluationInput& in, const EvaluationSummary& s) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
    << "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
    << "<title>" << html_escape(in.title) << "</title>\n<style>\n"
    << "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222}\n"
    << "h1{font-size:22px;margin:0 0 12px} h2{font-size:17px;margin:22px 0 8px}\n"
    << ".cards{display:flex;gap:12px;flex-wrap:wrap}\n"
    << ".card{border:1px solid #ddd;border-radius:6px;padding:10px 16px;min-width:120px}\n"
    << ".card .v{font-size:24px;font-weight:600} .card .k{font-size:12px;color:#666}\n"
    << ".plots{display:flex;gap:20px;flex-wrap:wrap;align-items:flex-start}\n"
    << "table{border-collapse:collapse;font-size:13px} td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}\n"
    << "th{background:#f4f4f4} .tick{font-size:11px;fill:#444} .label{font-size:13px;fill:#222}\n"
    << ".pt{fill:#1f77b4;fill-opacity:.45} .pt:hover{fill:#d62728;fill-opacity:1}\n"
    << ".bar:hover{fill:#d62728}\n"
    << "</style>\n</head>\n<body>\n";
  o << "<h1>" << html_escape(in.title) << "</h1>\n<div class='cards'>\n";
  auto card = [&](const std::string& k, const std::string& v) {
    o << "<div class='card'><div class='v'>" << html_escape(v) << "</div><div class='k'>"
      << html_escape(k) << "</div></div>\n";
  };
  card("pairs", std::to_string(s.pairs));
  card("Pearson", fmt(s.pearson));
  card("Spearman", fmt(s.spearman));
  if (!in.function.empty()) card("function", in.function);
  o << "</div>\n<h2>Run</h2>\n<table>\n";
  auto row = [&](const std::string& k, const std::string& v) {
    if (!v.empty())
      o << "<tr><th>" << html_escape(k) << "</th><td>" << html_escape(v) << "</td></tr>\n";
  };
  row("model", in.model);
  row("input", in.input);
  for (const auto& [k, v] : in.details) row(k, v);
  row("score mean / std / min / max", fmt(s.scores.mean) + " / " + fmt(s.scores.stddev) + " / " +
                                          fmt(s.scores.min) + " / " + fmt(s.scores.max));
  row("gold mean / std / min / max", fmt(s.gold.mean) + " / " + fmt(s.gold.stddev) + " / " +
                                         fmt(s.gold.min) + " / " + fmt(s.gold.max));
  o << "</table>\n<div class='plots'>\n<div><h2>Score vs gold</h2>\n" << svg_scatter(in)
    << "\n</div>\n<div><h2 style='margin-top:22px'>Score distribution</h2>\n"
    << svg_histogram(s.score_histogram, "score", "#1f77b4") << "\n"
    << "<h2>Gold distribution</h2>\n" << svg_histogram(s.gold_histogram, "gold", "#2ca02c")
    << "\n</div>\n</div>\n";
  if (!s.disagreements.empty()) {
    o << "<h2>Largest rank disagreements</h2>\n<table>\n<tr><th>line</th><th>gold</th>"
      << "<th>score</th><th>A</th><th>B</th></tr>\n";
    for (size_t i : s.disagreements) {
      o << "<tr><td>" << (i < in.lines.size() ? std::to_string(in.lines[i]) : std::to_string(i + 1))
        << "</td><td>" << fmt(in.gold[i], "%.4g") << "</td><td>" << fmt(in.scores[i])
        << "</td><td>" << html_escape(shorten_utf8(text_at(in.texts_a, i), 300)) << "</td><td>"
        << html_escape(shorten_utf8(text_at(in.texts_b, i), 300)) << "</td></tr>\n";
    }
    o << "</table>\n";
  }
  o << "<p style='font-size:12px;color:#888'>Generated by sbert. Hover a point or bar for its "
    << "values.</p>\n</body>\n</html>\n";
  return o.str();
}

ReportFormat report_format_for_path(const std::string& path) {
  auto ends_with = [&](const std::string& suffix) {
    if (path.size() < suffix.size()) return false;
    for (size_t i = 0; i < suffix.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(path[path.size() - suffix.size() + i])) != suffix[i])
        return false;
    return true;
  };
  if (ends_with(".json")) return ReportFormat::Json;
  if (ends_with(".md") || ends_with(".markdown")) return ReportFormat::Markdown;
  if (ends_with(".html") || ends_with(".htm")) return ReportFormat::Html;
  throw Error("report '" + path + "': unknown format (use a .json, .md or .html file name)");
}

}  // namespace sbert
