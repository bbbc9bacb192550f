#include "engine/data/csv_columns.hpp"

#include <algorithm>
#include <optional>

#include "engine/core/error.hpp"

namespace loom {

namespace {

// One selector's columns, or why it selects none.
struct Resolution {
  std::vector<int64_t> columns;
  std::string error;
};

Resolution by_name(const ColumnSelector& selector, const CsvColumnNames& names) {
  if (names.header.empty()) {
    return {{},
            "column '" + selector.name + "' is a name, but " + names.file +
                " is read without a header row (header: false); select it by index"};
  }
  const auto found = std::find(names.header.begin(), names.header.end(), selector.name);
  if (found == names.header.end()) {
    return {{},
            "no column '" + selector.name + "' in the header of " + names.file + " (" +
                list_csv_names(names.header) + ")"};
  }
  return {{found - names.header.begin()}, ""};
}

std::string out_of_range(const ColumnSelector& selector, const CsvColumnNames& names) {
  const std::string count = std::to_string(names.count);
  return (selector.is_range ? "range '" : "column '") + selector.text + "' is outside the " +
         count + " columns of " + names.file + " (0 to " + std::to_string(names.count - 1) +
         ", or -" + count + " to -1)";
}

Resolution by_index(const ColumnSelector& selector, const CsvColumnNames& names) {
  const int64_t count = names.count;
  auto absolute = [&](int64_t index) { return index < 0 ? index + count : index; };
  if (!selector.is_range) {
    const int64_t index = absolute(selector.first);
    if (index < 0 || index >= count) return {{}, out_of_range(selector, names)};
    return {{index}, ""};
  }
  const int64_t first = absolute(selector.first);
  const int64_t last = selector.open_end ? count : absolute(selector.last.value_or(count));
  if (first < 0 || first > count || last < 0 || last > count) {
    return {{}, out_of_range(selector, names)};
  }
  if (first >= last) {
    return {{},
            "range '" + selector.text + "' selects none of the " + std::to_string(count) +
                " columns of " + names.file};
  }
  Resolution resolution;
  for (int64_t index = first; index < last; ++index) resolution.columns.push_back(index);
  return resolution;
}

Resolution resolve(const ColumnSelector& selector, const CsvColumnNames& names) {
  return selector.name.empty() ? by_index(selector, names) : by_name(selector, names);
}

// Which selector took each column, so a second claim can name the first.
class Claims {
 public:
  explicit Claims(int64_t count) : owners_(size_t(count)) {}

  void claim(int64_t column, const ColumnSelector& selector, bool is_target,
             const CsvColumnNames& names) {
    auto& owner = owners_[size_t(column)];
    if (owner) {
      const std::string other = "'" + owner->selector->text + "' at " + owner->selector->where;
      throw InputError(selector.where + ": column " + names.describe(column) +
                       (owner->is_target == is_target
                            ? " is selected twice (also by " + other + ")"
                            : std::string(" is both a feature and a target (") +
                                  (owner->is_target ? "target" : "feature") + " by " + other +
                                  ")"));
    }
    owner = Owner{&selector, is_target};
  }
  bool claimed(int64_t column) const { return owners_[size_t(column)].has_value(); }

 private:
  struct Owner {
    const ColumnSelector* selector;
    bool is_target;
  };
  std::vector<std::optional<Owner>> owners_;
};

// The target columns; none when they are optional and this file lacks one of them.
std::vector<int64_t> resolve_targets(const CsvSource& source, const CsvColumnNames& names,
                                     bool targets_required, Claims& claims) {
  std::vector<Resolution> resolutions;
  for (const ColumnSelector& selector : source.targets) {
    resolutions.push_back(resolve(selector, names));
    if (!resolutions.back().error.empty()) {
      if (!targets_required) return {};
      throw InputError(selector.where + ": " + resolutions.back().error);
    }
  }
  std::vector<int64_t> targets;
  for (size_t i = 0; i < resolutions.size(); ++i) {
    for (int64_t column : resolutions[i].columns) {
      claims.claim(column, source.targets[i], true, names);
      targets.push_back(column);
    }
  }
  return targets;
}

}  // namespace

std::string list_csv_names(const std::vector<std::string>& names) {
  constexpr size_t kShown = 12;
  std::string text;
  for (size_t i = 0; i < std::min(names.size(), kShown); ++i) {
    text += (i ? ", " : "") + names[i];
  }
  if (names.size() > kShown) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

std::string CsvColumnNames::describe(int64_t index) const {
  if (header.empty()) return std::to_string(index);
  return "'" + header[size_t(index)] + "'";
}

CsvColumns resolve_csv_columns(const CsvSource& source, const CsvColumnNames& names,
                               bool targets_required) {
  Claims claims(names.count);
  CsvColumns columns;
  columns.targets = resolve_targets(source, names, targets_required, claims);
  for (const ColumnSelector& selector : source.features) {
    const Resolution resolution = resolve(selector, names);
    if (!resolution.error.empty()) throw InputError(selector.where + ": " + resolution.error);
    for (int64_t column : resolution.columns) {
      claims.claim(column, selector, false, names);
      columns.features.push_back(column);
    }
  }
  if (source.features.empty()) {
    for (int64_t column = 0; column < names.count; ++column) {
      if (!claims.claimed(column)) columns.features.push_back(column);
    }
  }
  return columns;
}

}  // namespace loom
