// Renders the cluster scatter plot as static SVG inside one HTML page. The SVG is complete
// without scripts (so the plot shows even with JS disabled, and tests can count circles); the
// inline script only adds a nicer tooltip and legend highlighting.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "sbert/cluster_plot.h"
#include "sbert/error.h"
#include "sbert/html.h"
#include "sbert/text_format.h"

namespace sbert {

namespace {


// 20 colours that stay apart (Tableau 10 + their light variants reordered); labels past 20
// reuse them.
const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                          "#e377c2", "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939",
                          "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1",
                          "#636363", "#9c9ede"};

std::string colour(int label) {
  if (label < 0) return "#b0b0b0";
  return kPalette[static_cast<size_t>(label) % (sizeof(kPalette) / sizeof(kPalette[0]))];
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::string cluster_plot_html(const Matrix& xy, const std::vector<int>& labels,
                              const std::vector<std::string>& texts, const PlotOptions& options) {
  if (xy.cols != 2) throw Error("plot: projection must have 2 columns, got " + std::to_string(xy.cols));
  if (labels.size() != xy.rows)
    throw Error("plot: " + std::to_string(labels.size()) + " labels for " + std::to_string(xy.rows) + " points");
  if (!texts.empty() && texts.size() != xy.rows)
    throw Error("plot: " + std::to_string(texts.size()) + " texts for " + std::to_string(xy.rows) + " points");
  for (float v : xy.data)
    if (!std::isfinite(v)) throw Error("plot: non-finite coordinate in the projection");

  const double w = options.width, h = options.height, margin = 24;
  double minx = 0, maxx = 1, miny = 0, maxy = 1;
  if (xy.rows) {
    minx = maxx = xy.at(0, 0);
    miny = maxy = xy.at(0, 1);
    for (size_t i = 1; i < xy.rows; ++i) {
      minx = std::min<double>(minx, xy.at(i, 0));
      maxx = std::max<double>(maxx, xy.at(i, 0));
      miny = std::min<double>(miny, xy.at(i, 1));
      maxy = std::max<double>(maxy, xy.at(i, 1));
    }
  }
  const double sx = maxx > minx ? (w - 2 * margin) / (maxx - minx) : 0;
  const double sy = maxy > miny ? (h - 2 * margin) / (maxy - miny) : 0;
  const double radius = xy.rows > 5000 ? 2.5 : xy.rows > 1000 ? 3.5 : 5;

  std::map<int, size_t> sizes;
  for (int l : labels) sizes[l]++;

  std::string html;
  html.reserve(256 * xy.rows + 4096);
  html += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>";
  html += html_escape(options.title);
  html += "</title>\n<style>\n"
          "body{font-family:system-ui,sans-serif;margin:16px;color:#222;background:#fff}\n"
          "h1{font-size:18px;margin:0 0 8px}\n"
          "#wrap{display:flex;gap:16px;align-items:flex-start}\n"
          "svg{border:1px solid #ddd;background:#fcfcfc}\n"
          "circle{stroke:#fff;stroke-width:0.6;opacity:0.85}\n"
          "circle.dim{opacity:0.1}\n"
          "#legend{font-size:13px;line-height:1.6;max-height:" + fmt(h) + "px;overflow:auto}\n"
          "#legend div{cursor:pointer;white-space:nowrap}\n"
          "#legend span{display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:6px;vertical-align:middle}\n"
          "#tip{position:fixed;pointer-events:none;background:rgba(20,20,20,.9);color:#fff;padding:6px 8px;"
          "border-radius:4px;font-size:13px;max-width:420px;display:none}\n"
          "</style>\n</head>\n<body>\n<h1>";
  html += html_escape(options.title);
  html += "</h1>\n<p>" + count_of(xy.rows, "point") + ", " +
          count_of(sizes.size() - (sizes.count(-1) ? 1 : 0), "cluster") +
          ". Hover a point for its text; click a legend entry to highlight a cluster.</p>\n";
  html += "<div id=\"wrap\">\n<svg id=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt(w) +
          "\" height=\"" + fmt(h) + "\" viewBox=\"0 0 " + fmt(w) + " " + fmt(h) + "\">\n";
  for (size_t i = 0; i < xy.rows; ++i) {
    const double px = sx > 0 ? margin + (xy.at(i, 0) - minx) * sx : w / 2;
    const double py = sy > 0 ? h - margin - (xy.at(i, 1) - miny) * sy : h / 2;
    const std::string text = texts.empty() ? "row " + std::to_string(i) : texts[i];
    html += "<circle cx=\"" + fmt(px) + "\" cy=\"" + fmt(py) + "\" r=\"" + fmt(radius) + "\" fill=\"" +
            colour(labels[i]) + "\" data-c=\"" + std::to_string(labels[i]) + "\"><title>[" +
            (labels[i] < 0 ? std::string("unassigned") : "cluster " + std::to_string(labels[i])) + "] " +
            html_escape(text) + "</title></circle>\n";
  }
  html += "</svg>\n<div id=\"legend\">\n";
  for (auto& [label, size] : sizes) {
    html += "<div data-c=\"" + std::to_string(label) + "\"><span style=\"background:" + colour(label) +
            "\"></span>" + (label < 0 ? std::string("unassigned") : "cluster " + std::to_string(label)) +
            " (" + std::to_string(size) + ")</div>\n";
  }
  html += "</div>\n</div>\n<div id=\"tip\"></div>\n<script>\n"
          "(function(){\n"
          "  var tip=document.getElementById('tip');\n"
          "  var pts=document.querySelectorAll('#plot circle');\n"
          "  pts.forEach(function(c){\n"
          "    var t=c.querySelector('title'); var text=t?t.textContent:'';\n"
          "    c.addEventListener('mousemove',function(e){tip.textContent=text;tip.style.display='block';"
          "tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});\n"
          "    c.addEventListener('mouseleave',function(){tip.style.display='none';});\n"
          "  });\n"
          "  var active=null;\n"
          "  document.querySelectorAll('#legend div').forEach(function(d){\n"
          "    d.addEventListener('click',function(){\n"
          "      var c=d.getAttribute('data-c'); active=(active===c)?null:c;\n"
          "      pts.forEach(function(p){p.classList.toggle('dim',active!==null&&p.getAttribute('data-c')!==active);});\n"
          "    });\n"
          "  });\n"
          "})();\n</script>\n</body>\n</html>\n";
  return html;
}

}  // namespace sbert
