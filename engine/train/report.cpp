#include "engine/train/report.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace loom {

namespace {

std::string escape(const std::string& text) {
  std::string result;
  for (char c : text) {
    switch (c) {
      case '&':
        result += "&amp;";
        break;
      case '<':
        result += "&lt;";
        break;
      case '>':
        result += "&gt;";
        break;
      case '"':
        result += "&quot;";
        break;
      default:
        result += c;
    }
  }
  return result;
}

std::string number(double value, int digits = 4) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", digits, value);
  return text;
}

struct Series {
  std::string label;
  std::string color;
  std::vector<double> values;
};

// A line chart of one quantity per epoch: axes, ticks, one polyline and dots per series.
std::string line_chart(const std::string& title, const std::vector<Series>& series, size_t epochs) {
  constexpr double kWidth = 460, kHeight = 270, kLeft = 56, kRight = 16, kTop = 44, kBottom = 40;
  double low = INFINITY, high = -INFINITY;
  for (const Series& s : series) {
    for (double v : s.values) low = std::min(low, v), high = std::max(high, v);
  }
  if (!(high > low)) high = low + 1e-6;
  const double pad = (high - low) * 0.08;
  low -= pad, high += pad;
  auto x_of = [&](size_t i) {
    return kLeft + (epochs > 1 ? double(i) / double(epochs - 1) : 0.5) * (kWidth - kLeft - kRight);
  };
  auto y_of = [&](double v) {
    return kTop + (high - v) / (high - low) * (kHeight - kTop - kBottom);
  };
  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" viewBox=\"0 0 " << kWidth << " " << kHeight << "\" role=\"img\" aria-label=\""
      << escape(title) << "\">\n"
      << "<text x=\"" << kWidth / 2 << "\" y=\"15\" text-anchor=\"middle\" class=\"title\">"
      << escape(title) << "</text>\n";
  for (int tick = 0; tick <= 4; ++tick) {
    const double v = low + (high - low) * tick / 4;
    svg << "<line x1=\"" << kLeft << "\" x2=\"" << kWidth - kRight << "\" y1=\"" << y_of(v)
        << "\" y2=\"" << y_of(v) << "\" class=\"grid\"/>\n"
        << "<text x=\"" << kLeft - 6 << "\" y=\"" << y_of(v) + 4
        << "\" text-anchor=\"end\" class=\"tick\">" << number(v, 3) << "</text>\n";
  }
  for (size_t i = 0; i < epochs; ++i) {
    svg << "<text x=\"" << x_of(i) << "\" y=\"" << kHeight - kBottom + 16
        << "\" text-anchor=\"middle\" class=\"tick\">" << i + 1 << "</text>\n";
  }
  svg << "<text x=\"" << (kLeft + kWidth - kRight) / 2 << "\" y=\"" << kHeight - 6
      << "\" text-anchor=\"middle\" class=\"tick\">epoch</text>\n";
  double legend_x = kLeft + 4;
  for (const Series& s : series) {
    if (s.values.empty()) continue;
    svg << "<polyline fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < s.values.size(); ++i) svg << x_of(i) << "," << y_of(s.values[i]) << " ";
    svg << "\"/>\n";
    for (size_t i = 0; i < s.values.size(); ++i) {
      svg << "<circle cx=\"" << x_of(i) << "\" cy=\"" << y_of(s.values[i]) << "\" r=\"3\" fill=\""
          << s.color << "\"><title>" << escape(s.label) << ", epoch " << i + 1 << ": "
          << number(s.values[i]) << "</title></circle>\n";
    }
    svg << "<rect x=\"" << legend_x << "\" y=\"" << kTop - 4
        << "\" width=\"10\" height=\"3\" fill=\"" << s.color << "\"/><text x=\"" << legend_x + 14
        << "\" y=\"" << kTop << "\" class=\"legend\">" << escape(s.label) << "</text>\n";
    legend_x += 14 + 7.0 * double(s.label.size()) + 16;
  }
  svg << "</svg>\n";
  return svg.str();
}

std::vector<Series> series_for(const std::string& metric, std::span<const std::string> names,
                               std::span<const EpochRecord> history) {
  const auto index = size_t(std::ranges::find(names, metric) - names.begin());
  const bool loss = metric == "loss";
  Series train{"training", "#1f77b4", {}}, validation{"validation", "#ff7f0e", {}},
      test{"test", "#2ca02c", {}};
  for (const EpochRecord& r : history) {
    train.values.push_back(loss ? r.loss : r.metrics[index]);
    if (r.has_validation) validation.values.push_back(loss ? r.val_loss : r.val_metrics[index]);
    if (r.has_test) test.values.push_back(loss ? r.test_loss : r.test_metrics[index]);
  }
  return {train, validation, test};
}

std::string confusion_table(const ReportContent& content) {
  if (content.confusion.empty()) {
    return "<p>No confusion matrix: no validation or test data, or a loss that is not over "
           "classes.</p>\n";
  }
  int64_t most = 1;
  for (int64_t count : content.confusion) most = std::max(most, count);
  std::ostringstream html;
  html << "<table class=\"confusion\">\n<tr><th>true \\ predicted</th>";
  for (int64_t c = 0; c < content.classes; ++c) html << "<th>" << c << "</th>";
  html << "</tr>\n";
  for (int64_t t = 0; t < content.classes; ++t) {
    html << "<tr><th>" << t << "</th>";
    for (int64_t p = 0; p < content.classes; ++p) {
      const int64_t count = content.confusion[size_t(t * content.classes + p)];
      const double shade = std::sqrt(double(count) / double(most));
      html << "<td style=\"background: rgba(" << (t == p ? "44,160,44" : "214,39,40") << ","
           << number(shade, 2) << ")\">" << count << "</td>";
    }
    html << "</tr>\n";
  }
  html << "</table>\n";
  return html.str();
}

}  // namespace

std::string render_report(const ReportContent& content) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n<title>"
       << escape(content.title) << "</title>\n<style>\n"
       << "body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; }\n"
       << "h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }\n"
       << ".charts { display: flex; flex-wrap: wrap; gap: 12px; }\n"
       << "svg .title { font-size: 13px; font-weight: bold; } svg .tick { font-size: 10px; fill: "
          "#555; }\n"
       << "svg .legend { font-size: 11px; } svg .grid { stroke: #e5e5e5; }\n"
       << "table { border-collapse: collapse; font-size: 12px; }\n"
       << "td, th { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }\n"
       << "pre { background: #f6f6f6; padding: 10px; font-size: 11px; overflow: auto; }\n"
       << ".graph svg { max-width: 100%; height: auto; }\n</style>\n</head>\n<body>\n"
       << "<h1>" << escape(content.title) << "</h1>\n";

  html << "<h2>Final epoch</h2>\n";
  if (!content.history.empty()) {
    const EpochRecord& last = content.history.back();
    html << "<table>\n<tr><th>epoch</th>";
    const auto values = named_values(last, content.metric_names);
    for (const auto& [name, value] : values) html << "<th>" << escape(name) << "</th>";
    html << "</tr>\n<tr><td>" << last.epoch << "</td>";
    for (const auto& [name, value] : values) html << "<td>" << number(value) << "</td>";
    html << "</tr>\n</table>\n";
  }

  html << "<h2>Curves</h2>\n<div class=\"charts\">\n";
  std::vector<std::string> quantities = {"loss"};
  quantities.insert(quantities.end(), content.metric_names.begin(), content.metric_names.end());
  for (const std::string& quantity : quantities) {
    html << line_chart(quantity, series_for(quantity, content.metric_names, content.history),
                       content.history.size());
  }
  html << "</div>\n";

  html << "<h2>Confusion matrix: " << escape(content.confusion_label) << "</h2>\n"
       << confusion_table(content);

  html << "<h2>Graph</h2>\n<div class=\"graph\">\n";
  if (content.graph_svg.empty()) {
    html << "<p>Graphviz's <code>dot</code> was not available to draw the graph.</p>\n";
  } else {
    // Graphviz writes an XML prolog and DOCTYPE before the <svg> element; inline SVG starts at
    // the element itself.
    const size_t start = content.graph_svg.find("<svg");
    html << content.graph_svg.substr(start == std::string::npos ? 0 : start);
  }
  html << "</div>\n<h2>Resolved config</h2>\n<pre>" << escape(content.resolved_config)
       << "</pre>\n</body>\n</html>\n";
  return html.str();
}

}  // namespace loom
