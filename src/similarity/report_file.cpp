// Kept apart from report.cpp so that rendering does not pull the output layer into programs
// that only render.
#include "sbert/output_file.h"
#include "sbert/report.h"

namespace sbert {

void write_report(AtomicOutput& out, const EvaluationInput& input, const EvaluationSummary& summary) {
  std::string text;
  switch (report_format_for_path(out.path())) {
    case ReportFormat::Json: text = render_report_json(input, summary); break;
    case ReportFormat::Markdown: text = render_report_markdown(input, summary); break;
    case ReportFormat::Html: text = render_report_html(input, summary); break;
  }
  out.write(text);
}

void write_report(const std::string& path, const EvaluationInput& input,
                  const EvaluationSummary& summary) {
  report_format_for_path(path);
  AtomicOutput out(path);
  write_report(out, input, summary);
  out.commit();
}

}  // namespace sbert
