#include "tests/support/csv_sources.hpp"

#include <zlib.h>

#include <fstream>
#include <stdexcept>

namespace loom::testing {

ColumnSelector column(const std::string& text, const std::string& where) {
  ColumnSelector selector{.text = text, .where = where};
  if (const size_t colon = text.find(':'); colon != std::string::npos) {
    selector.is_range = true;
    const std::string first = text.substr(0, colon), last = text.substr(colon + 1);
    selector.first = first.empty() ? 0 : std::stoll(first);
    if (last.empty()) {
      selector.open_end = true;
    } else {
      selector.last = std::stoll(last);
    }
  } else if (!text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) ||
                               (text[0] == '-' && text.size() > 1))) {
    selector.first = std::stoll(text);
  } else {
    selector.name = text;
  }
  return selector;
}

std::vector<ColumnSelector> columns(const std::vector<std::string>& texts,
                                    const std::string& where) {
  std::vector<ColumnSelector> selectors;
  for (size_t i = 0; i < texts.size(); ++i) {
    selectors.push_back(column(texts[i], where + "[" + std::to_string(i) + "]"));
  }
  return selectors;
}

CsvSource source(const std::string& file, const std::vector<std::string>& targets,
                 const std::vector<std::string>& features) {
  return CsvSource{.file = file,
                   .features = columns(features, "data.train.features"),
                   .targets = columns(targets, "data.train.targets")};
}

std::string write_text_file(const TemporaryDirectory& dir, const std::string& name,
                            const std::string& text, bool gzip) {
  const std::string file = dir.file(name);
  if (!gzip) {
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }
  gzFile out = gzopen(file.c_str(), "wb");
  if (!out || gzwrite(out, text.data(), unsigned(text.size())) != int(text.size()) ||
      gzclose(out) != Z_OK) {
    throw std::runtime_error("cannot write " + file);
  }
  return file;
}

std::vector<double> values_of(const SampleArray& array) {
  std::vector<double> values;
  for (int64_t i = 0; i < array.count(); ++i) {
    for (int64_t e = 0; e < array.sample_values(); ++e) values.push_back(array.value(i, e));
  }
  return values;
}

}  // namespace loom::testing
