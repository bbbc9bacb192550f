#pragma once
// report.html: a self-contained page (no network, no scripts) with the run's curves as inline
// SVG (loss and every metric, training against validation and test), the confusion matrix,
// the graph picture and the resolved config.

#include <span>
#include <string>
#include <vector>

#include "engine/train/progress.hpp"

namespace loom {

struct ReportContent {
  std::string title;
  std::span<const std::string> metric_names;
  std::span<const EpochRecord> history;
  std::string confusion_label;     // "test set (10000 samples)"
  std::vector<int64_t> confusion;  // [true][predicted]
  int64_t classes = 0;
  std::string graph_svg;        // may be empty (Graphviz missing)
  std::string resolved_config;  // YAML
};

std::string render_report(const ReportContent& content);

}  // namespace loom
