#include "engine/data/csv_source.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <optional>
#include <unordered_map>

#include "engine/core/error.hpp"
#include "engine/core/memory.hpp"
#include "engine/data/csv_columns.hpp"
#include "engine/data/csv_text.hpp"

namespace loom {

namespace {

// What the target columns hold, decided once from the first data row.
enum class TargetKind {
  none,
  values,   // numbers: float32, one per target column
  indices,  // class indices 0..n-1 of known classes: int32
  labels,   // class names, mapped to their indices: int32
};

// How one row is read: each column's role and the classes its labels map to.
struct RowPlan {
  enum class Role : uint8_t { skip, feature, target };
  struct Column {
    Role role = Role::skip;
    int32_t slot = 0;  // its place among the features or the targets
  };
  std::vector<Column> columns;
  int64_t features = 0;
  int64_t targets = 0;
  TargetKind kind = TargetKind::none;
  std::vector<std::string> classes;  // for indices and labels; empty when learnt
  CsvColumnNames names;
  char delimiter = ',';
};

// Where one row's class label is written while rows are read in parallel: mapped afterwards,
// once every label (and so the training set's sorted list) is known.
struct LabelCell {
  std::string text;
  int64_t offset = 0;
};

std::string shown(std::string_view cell) {
  constexpr size_t kShown = 60;
  if (cell.empty()) return "an empty cell";
  if (cell.size() > kShown) return "'" + std::string(cell.substr(0, kShown)) + "...'";
  return "'" + std::string(cell) + "'";
}

// A cell as a finite float32: from_chars' decimal forms ("7", "-0.5", "1e-3", ".5"), with
// spaces around it and a leading '+' allowed. "nan", "inf", values beyond float32 and
// anything else are not numbers.
std::optional<float> parse_number(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.size() > 1 && text.front() == '+' && text[1] != '-' && text[1] != '+') {
    text.remove_prefix(1);
  }
  // Whole numbers (pixels, counts, class indices) are most cells of most files: read them
  // without from_chars, to the same float (an exact integer below 2^53 rounded once).
  const bool negative = text.starts_with('-');
  if (const size_t digits = text.size() - negative; digits > 0 && digits <= 15) {
    int64_t whole = 0;
    size_t i = negative;
    for (; i < text.size(); ++i) {
      const auto digit = static_cast<unsigned>(text[i] - '0');
      if (digit > 9) break;
      whole = whole * 10 + digit;
    }
    if (i == text.size()) return static_cast<float>(negative ? -whole : whole);
  }
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  const auto single = static_cast<float>(value);
  if (!std::isfinite(single)) return std::nullopt;
  return single;
}

std::string class_list(const RowPlan& plan) {
  return list_csv_names(plan.classes);
}

// Reads one target cell as the plan's kind; "" when it is fine, else what was expected.
std::string read_target(const CsvCell& cell, const RowPlan& plan, float* values, int32_t* indices,
                        LabelCell* label, int32_t slot) {
  if (plan.kind == TargetKind::labels) {
    if (cell.raw.empty()) return "expected a class label";
    *label = LabelCell{cell.value(), cell.offset};
    return "";
  }
  const std::optional<float> number = parse_number(cell.raw);
  if (plan.kind == TargetKind::values) {
    if (!number) return "expected a number";
    values[slot] = *number;
    return "";
  }
  const auto count = static_cast<float>(plan.classes.size());
  if (!number || *number < 0 || *number >= count || *number != std::floor(*number)) {
    return "expected a class index 0.." + std::to_string(plan.classes.size() - 1) + " (classes " +
           class_list(plan) + ")";
  }
  *indices = static_cast<int32_t>(*number);
  return "";
}

// Reads one record into its row of the arrays. A wrong column count is reported before a bad
// cell: a missing or extra cell shifts every cell after it.
void read_row(const CsvText& text, const CsvRecord& record, const RowPlan& plan, float* features,
              float* values, int32_t* indices, LabelCell* label) {
  CsvCells cells(text, record, plan.delimiter);
  CsvCell cell;
  int64_t column = 0;
  std::string problem;
  for (; cells.next(cell); ++column) {
    if (column >= std::ssize(plan.columns) || !problem.empty()) continue;
    const RowPlan::Column& role = plan.columns[size_t(column)];
    std::string expected;
    if (role.role == RowPlan::Role::feature) {
      const std::optional<float> number = parse_number(cell.raw);
      if (number) {
        features[role.slot] = *number;
      } else {
        expected = "expected a number";
      }
    } else if (role.role == RowPlan::Role::target) {
      expected = read_target(cell, plan, values, indices, label, role.slot);
    }
    if (!expected.empty()) {
      problem = text.position(record, cell.offset) + ": " + expected + " in column " +
                plan.names.describe(column) + ", got " + shown(cell.value());
    }
  }
  if (column != std::ssize(plan.columns)) {
    throw InputError(text.position(record) + ": expected " + std::to_string(plan.columns.size()) +
                     " columns, got " + std::to_string(column));
  }
  if (!problem.empty()) throw InputError(problem);
}

int64_t count_cells(const CsvText& text, const CsvRecord& record, char delimiter) {
  CsvCells cells(text, record, delimiter);
  int64_t count = 0;
  for (CsvCell cell; cells.next(cell);) ++count;
  return count;
}

// The arrays are allocated before the rows are read, so their size is checked first. Every
// cell takes at least one byte (its delimiter or line end): when the header's column count
// times the rows exceeds the text, some row is short, and it is reported as such rather than
// allocating for cells that are not there (a header of 100,000 names over a million "1" rows).
void check_arrays_fit(const CsvText& text, const std::vector<CsvRecord>& records,
                      const RowPlan& plan) {
  const auto rows = std::ssize(records);
  const auto columns = std::ssize(plan.columns);
  if (columns > (std::ssize(text.text()) + 1) / rows) {
    for (const CsvRecord& record : records) {
      if (const int64_t cells = count_cells(text, record, plan.delimiter); cells != columns) {
        throw InputError(text.position(record) + ": expected " + std::to_string(columns) +
                         " columns, got " + std::to_string(cells));
      }
    }
  }
  const int64_t label_bytes =
      plan.kind == TargetKind::labels ? rows * int64_t(sizeof(LabelCell)) : 0;
  const int64_t bytes = rows * (plan.features + plan.targets) * 4 + label_bytes;
  if (const int64_t available = available_memory_bytes(); bytes > available) {
    throw InputError(text.name() + ": " + std::to_string(rows) + " samples of " +
                     std::to_string(plan.features + plan.targets) + " values need " +
                     format_bytes(bytes) + ", more than the " + format_bytes(available) +
                     " of memory available");
  }
}

// A row's slice of a block. A block the plan does not use (no targets, no features) is empty
// and its data null; offsetting null is undefined, so its slice is null too.
template <typename T>
T* row_slice(T* block, int64_t offset) {
  return block == nullptr ? nullptr : block + offset;
}

struct ParsedRows {
  std::vector<std::byte> features;  // float32
  std::vector<std::byte> targets;   // float32 values or int32 indices
  std::vector<LabelCell> labels;
};

// Every record, spread over the OpenMP threads. Each thread reads its rows in order and stops
// at its first error; the error of the lowest row is reported, as a sequential read would.
ParsedRows read_rows(const CsvText& text, const std::vector<CsvRecord>& records,
                     const RowPlan& plan) {
  const auto rows = std::ssize(records);
  check_arrays_fit(text, records, plan);
  ParsedRows parsed;
  parsed.features.resize(size_t(rows * plan.features) * sizeof(float));
  if (plan.kind == TargetKind::labels) parsed.labels.resize(size_t(rows));
  if (plan.kind != TargetKind::none) parsed.targets.resize(size_t(rows * plan.targets) * 4);
  // Storage of std::byte implicitly holds the floats and ints written into it (C++20).
  auto* features = reinterpret_cast<float*>(parsed.features.data());
  auto* values = reinterpret_cast<float*>(parsed.targets.data());
  auto* indices = reinterpret_cast<int32_t*>(parsed.targets.data());
  int64_t failed_row = rows;
  std::exception_ptr failure;
#pragma omp parallel
  {
    bool failed = false;
#pragma omp for schedule(static)
    for (int64_t row = 0; row < rows; ++row) {
      if (failed) continue;
      try {
        read_row(text, records[size_t(row)], plan, row_slice(features, row * plan.features),
                 row_slice(values, row * plan.targets), row_slice(indices, row),
                 parsed.labels.empty() ? nullptr : &parsed.labels[size_t(row)]);
      } catch (...) {
        failed = true;
#pragma omp critical(loom_csv_failure)
        if (row < failed_row) {
          failed_row = row;
          failure = std::current_exception();
        }
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
  return parsed;
}

// The header row's names. A name given twice is refused: a selector could not tell the two
// apart (unnamed columns, "", may repeat).
std::vector<std::string> read_header(const CsvText& text, const CsvRecord& record, char delimiter) {
  std::vector<std::string> names;
  std::unordered_map<std::string, size_t> seen;
  CsvCells cells(text, record, delimiter);
  for (CsvCell cell; cells.next(cell);) {
    std::string name = cell.value();
    const auto [found, inserted] = seen.emplace(name, names.size());
    if (!inserted && !name.empty()) {
      throw InputError(text.position(record, cell.offset) + ": column name '" + name +
                       "' appears twice (columns " + std::to_string(found->second) + " and " +
                       std::to_string(names.size()) + ")");
    }
    names.push_back(std::move(name));
  }
  return names;
}

std::optional<CsvCell> cell_at(const CsvText& text, const CsvRecord& record, char delimiter,
                               int64_t column) {
  CsvCells cells(text, record, delimiter);
  CsvCell cell;
  for (int64_t index = 0; cells.next(cell); ++index) {
    if (index == column) return cell;
  }
  return std::nullopt;
}

// Numbers or class labels, from the first row's target cell: a class name known to the
// experiment is a label; a number is a value (a class index when the classes are known);
// anything else is a label of a class learnt from this file. Deciding once keeps a typo
// ("NA" in a price column) an error at its cell, not a silent new class.
TargetKind decide_target_kind(const CsvSource& source, const SourceContext& context,
                              const CsvText& text, const CsvRecord& first,
                              const CsvColumns& columns, RowPlan& plan) {
  if (columns.targets.empty()) return TargetKind::none;
  const std::vector<std::string>* known = &source.class_names;
  if (known->empty() && context.classes) known = context.classes;
  if (columns.targets.size() > 1) {
    if (!known->empty()) {
      throw InputError(context.where + ": class labels need a single target column; " +
                       std::to_string(columns.targets.size()) + " are selected");
    }
    return TargetKind::values;
  }
  plan.classes = *known;
  const auto cell = cell_at(text, first, source.delimiter, columns.targets.front());
  if (!cell) return TargetKind::values;  // a short row: read_row reports it
  if (std::find(known->begin(), known->end(), cell->value()) != known->end()) {
    return TargetKind::labels;
  }
  if (parse_number(cell->raw)) return known->empty() ? TargetKind::values : TargetKind::indices;
  return TargetKind::labels;
}

RowPlan make_plan(const CsvSource& source, const SourceContext& context, const CsvText& text,
                  const CsvRecord& first, const CsvColumns& columns, CsvColumnNames names) {
  RowPlan plan;
  plan.columns.resize(size_t(names.count));
  for (size_t i = 0; i < columns.features.size(); ++i) {
    plan.columns[size_t(columns.features[i])] = {RowPlan::Role::feature, int32_t(i)};
  }
  for (size_t i = 0; i < columns.targets.size(); ++i) {
    plan.columns[size_t(columns.targets[i])] = {RowPlan::Role::target, int32_t(i)};
  }
  plan.features = std::ssize(columns.features);
  plan.targets = std::ssize(columns.targets);
  plan.kind = decide_target_kind(source, context, text, first, columns, plan);
  plan.names = std::move(names);
  plan.delimiter = source.delimiter;
  return plan;
}

// Class labels to indices. The training set's classes, when not given, are its distinct
// labels sorted (as Keras sorts class folders), so the same file gives the same indices.
void map_labels(const CsvText& text, const std::vector<CsvRecord>& records, RowPlan& plan,
                ParsedRows& parsed) {
  if (plan.classes.empty()) {
    for (const LabelCell& label : parsed.labels) plan.classes.push_back(label.text);
    std::sort(plan.classes.begin(), plan.classes.end());
    plan.classes.erase(std::unique(plan.classes.begin(), plan.classes.end()), plan.classes.end());
  }
  std::unordered_map<std::string_view, int32_t> index;
  for (size_t i = 0; i < plan.classes.size(); ++i) index.emplace(plan.classes[i], int32_t(i));
  auto* indices = reinterpret_cast<int32_t*>(parsed.targets.data());
  for (size_t row = 0; row < parsed.labels.size(); ++row) {
    const LabelCell& label = parsed.labels[row];
    const auto found = index.find(label.text);
    if (found == index.end()) {
      throw InputError(text.position(records[row], label.offset) + ": label " + shown(label.text) +
                       " is not one of the classes (" + class_list(plan) + ")");
    }
    indices[row] = found->second;
  }
  parsed.labels = {};
}

SourceData make_source_data(RowPlan& plan, ParsedRows& parsed) {
  SourceData data;
  data.features =
      SampleArray::owned(ElementType::float32, {plan.features}, std::move(parsed.features));
  if (plan.kind == TargetKind::values) {
    // One target column gives one value per sample, as a label file does: shape [].
    const Shape shape = plan.targets == 1 ? Shape{} : Shape{plan.targets};
    data.targets = SampleArray::owned(ElementType::float32, shape, std::move(parsed.targets));
  } else if (plan.kind != TargetKind::none) {
    data.targets = SampleArray::owned(ElementType::int32, {}, std::move(parsed.targets));
    data.class_names = std::move(plan.classes);
  }
  return data;
}

// Samples to predict may come without the target columns: a file whose rows hold exactly the
// model's input values is features alone, even where an index such as -1 would select one of
// them as the target.
bool features_only(const CsvSource& source, const SourceContext& context,
                   const CsvColumnNames& names) {
  return !context.targets_required && source.features.empty() && !context.model_input.empty() &&
         names.count == numel(context.model_input);
}

}  // namespace

SourceData read_csv_source(const CsvSource& source, const SourceContext& context) {
  const CsvText text = CsvText::read(source.file);
  std::vector<CsvRecord> records = text.records(source.skip_rows);
  CsvColumnNames names{.file = text.name()};
  if (source.header) {
    if (records.empty()) throw InputError(text.name() + ": no header row (header: true)");
    names.header = read_header(text, records.front(), source.delimiter);
    records.erase(records.begin());
  }
  if (records.empty()) throw InputError(text.name() + ": no samples");
  names.count = source.header ? std::ssize(names.header)
                              : count_cells(text, records.front(), source.delimiter);
  if (source.targets.empty() && context.targets_required) {
    throw InputError(context.where + ": " + text.name() +
                     ": no target columns: select them with targets: (a header name, an index "
                     "such as -1, or a range such as '13:')");
  }
  const CsvColumns columns = features_only(source, context, names)
                                 ? resolve_csv_columns(CsvSource{}, names, false)
                                 : resolve_csv_columns(source, names, context.targets_required);
  if (columns.features.empty()) {
    throw InputError(context.where + ": every column of " + text.name() +
                     " is a target: no features are left");
  }
  RowPlan plan = make_plan(source, context, text, records.front(), columns, std::move(names));
  ParsedRows parsed = read_rows(text, records, plan);
  if (plan.kind == TargetKind::labels) map_labels(text, records, plan, parsed);
  return make_source_data(plan, parsed);
}

}  // namespace loom
