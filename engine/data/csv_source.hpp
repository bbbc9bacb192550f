#pragma once
// Tabular data from CSV files (plain or gzip): numeric feature columns and target columns
// chosen by header name or index, string class labels mapped to class indices.

#include "engine/data/source.hpp"

namespace loom {

SourceData read_csv_source(const CsvSource& source, const SourceContext& context);
SourceSize inspect_csv_source(const CsvSource& source);

}  // namespace loom
