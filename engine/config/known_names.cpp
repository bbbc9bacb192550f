// The names a config may give as a loss, a metric or an activation, read from the registries
// (so a plugin's loss or activation op is known as soon as it is loaded).

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include "engine/config/experiment.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

// Keras's activation names that are not op names; `linear` is no op at all.
constexpr std::array<std::pair<std::string_view, std::string_view>, 2> kKerasActivations = {
    {{"exponential", "exp"}, {"linear", ""}}};

// The other names Keras accepts for its losses (its short aliases and class names).
constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kKerasLossAliases = {{
    {"bce", "binary_crossentropy"},
    {"BCE", "binary_crossentropy"},
    {"BinaryCrossentropy", "binary_crossentropy"},
    {"CategoricalCrossentropy", "categorical_crossentropy"},
    {"Huber", "huber"},
    {"mae", "mean_absolute_error"},
    {"MAE", "mean_absolute_error"},
    {"MeanAbsoluteError", "mean_absolute_error"},
    {"mse", "mean_squared_error"},
    {"MSE", "mean_squared_error"},
    {"MeanSquaredError", "mean_squared_error"},
    {"SparseCategoricalCrossentropy", "sparse_categorical_crossentropy"},
}};

}  // namespace

std::string loss_op(const std::string& loss) {
  for (const auto& [alias, op] : kKerasLossAliases) {
    if (alias == loss) return std::string(op);
  }
  return loss;
}

std::vector<std::string> loss_aliases() {
  std::vector<std::string> names;
  for (const auto& [alias, op] : kKerasLossAliases) names.emplace_back(alias);
  return names;
}

std::vector<std::string> known_losses() {
  return OpRegistry::global().names_with_role(OpRole::loss);
}

std::vector<std::string> known_metrics() {
  return metric_names();
}

std::vector<std::string> known_activations() {
  std::vector<std::string> names;
  for (const auto& [keras, op] : kKerasActivations) names.emplace_back(keras);
  for (const std::string& op : OpRegistry::global().names_with_role(OpRole::activation)) {
    const bool renamed = std::ranges::any_of(kKerasActivations,
                                             [&](const auto& alias) { return alias.second == op; });
    if (!renamed) names.push_back(op);
  }
  std::ranges::sort(names);
  return names;
}

std::string activation_op(const std::string& activation) {
  for (const auto& [keras, op] : kKerasActivations) {
    if (keras == activation) return std::string(op);
  }
  return activation;
}

}  // namespace loom
