#pragma once
// CSV sources for the tests: a selector written as a config writes it, a source over a file
// made in a temporary directory, and the values of what the reader returns.

#include <string>
#include <vector>

#include "engine/data/csv_source.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {

// "age", "-1", "0:3", "2:" or ":4", as data.*.features/targets entries read them; its config
// position is `where`.
ColumnSelector column(const std::string& text, const std::string& where = "data.train.columns");
std::vector<ColumnSelector> columns(const std::vector<std::string>& texts,
                                    const std::string& where = "data.train.columns");

// A source over `file` selecting `targets` and `features` (empty: every other column), as
// data.train writes them.
CsvSource source(const std::string& file, const std::vector<std::string>& targets,
                 const std::vector<std::string>& features = {});

// Writes `text` to `name` in `dir` (gzip-compressed with zlib when `gzip`); its path.
std::string write_text_file(const TemporaryDirectory& dir, const std::string& name,
                            const std::string& text, bool gzip = false);

// Every element of every sample, in order, as doubles.
std::vector<double> values_of(const SampleArray& array);

}  // namespace loom::testing
