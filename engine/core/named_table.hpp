#pragma once
// Lookups in a table of definitions that each carry a `name` (schedules, metrics, callbacks):
// one place for the linear search and the name list that "known:" messages print.

#include <string>
#include <vector>

namespace loom {

// The entry called `name`, or null.
template <typename Table>
const typename Table::value_type* find_named(const Table& table, const std::string& name) {
  for (const auto& entry : table) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

// Every entry's name, in the table's order.
template <typename Table>
std::vector<std::string> names_of(const Table& table) {
  std::vector<std::string> names;
  names.reserve(table.size());
  for (const auto& entry : table) names.push_back(entry.name);
  return names;
}

}  // namespace loom
