#pragma once
// Which columns of a CSV file are the features and which the targets: the config's selectors
// (header names, indices, Python-style ranges) resolved against the file's columns.

#include <cstdint>
#include <string>
#include <vector>

#include "engine/data/source_spec.hpp"

namespace loom {

struct CsvColumns {
  std::vector<int64_t> features;  // column indices, in the order selected
  std::vector<int64_t> targets;
};

// What the resolution is given: the column names (empty without a header row), the number of
// columns, and the file's name for messages.
struct CsvColumnNames {
  std::vector<std::string> header;
  int64_t count = 0;
  std::string file;

  // How messages name a column: "'age'" with a header, "3" without.
  std::string describe(int64_t index) const;
};

// "a, b, c, ... (785 in all)": a header or a class list, shortened for a message.
std::string list_csv_names(const std::vector<std::string>& names);

// Features default to every column that is not a target. When `targets_required` is false
// (samples to predict), target selectors that name no column of this file mean no targets.
// InputError at the selector's config position: a name without a header or not in it, an
// index or range outside the columns, an empty range, a column selected twice, or as both a
// feature and a target.
CsvColumns resolve_csv_columns(const CsvSource& source, const CsvColumnNames& columns,
                               bool targets_required);

}  // namespace loom
