#include "engine/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "engine/core/error.hpp"
#include "engine/core/parallel.hpp"

namespace loom {

namespace {

double squared_norm(const float* values, int64_t size) {
  double sum = 0;
#pragma omp parallel for simd reduction(+ : sum) if (size >= kParallelElements)
  for (int64_t i = 0; i < size; ++i) sum += double(values[i]) * double(values[i]);
  return sum;
}

void scale(float* values, int64_t size, float factor) {
  for_each_element(size, [=](int64_t i) { values[i] *= factor; });
}

}  // namespace

void Optimizer::bind(std::vector<OptimizedParameter> parameters) {
  parameters_ = std::move(parameters);
  const std::vector<std::string> names = slot_names();
  slots_.clear();
  slot_pointers_.clear();
  for (const OptimizedParameter& parameter : parameters_) {
    auto& slots = slots_.emplace_back();
    auto& pointers = slot_pointers_.emplace_back();
    for (size_t k = 0; k < names.size(); ++k) {
      slots.emplace_back(parameter.weights.size_bytes());
      std::ranges::fill(slots.back().floats(), initial_slot_value(k));
      pointers.push_back(slots.back().floats().data());
    }
  }
}

// Keras's formulas (base_optimizer._clip_gradients): clipnorm scales each gradient by
// c / max(‖g‖, c); global_clipnorm scales all of them by c / max(N, c) for their joint norm N;
// clipvalue clamps every element.
void Optimizer::clip(std::span<float* const> gradients) {
  const GradientClipping& clipping = options_.clipping;
  if (clipping.norm) {
    const float limit = *clipping.norm;
    for (size_t i = 0; i < parameters_.size(); ++i) {
      const auto size = std::ssize(parameters_[i].weights);
      const double norm = std::sqrt(squared_norm(gradients[i], size));
      if (norm > limit) scale(gradients[i], size, float(limit / norm));
    }
  } else if (clipping.global_norm) {
    double total = 0;
    for (size_t i = 0; i < parameters_.size(); ++i) {
      total += squared_norm(gradients[i], std::ssize(parameters_[i].weights));
    }
    const double norm = std::sqrt(total);
    const float limit = *clipping.global_norm;
    // A NaN or infinite norm poisons every gradient, as in Keras: the step is visibly bad.
    const float factor = std::isfinite(norm) ? float(limit / std::max(norm, double(limit)))
                                             : std::numeric_limits<float>::quiet_NaN();
    if (factor != 1.f) {
      for (size_t i = 0; i < parameters_.size(); ++i) {
        scale(gradients[i], std::ssize(parameters_[i].weights), factor);
      }
    }
  } else if (clipping.value) {
    const float limit = *clipping.value;
    for (size_t i = 0; i < parameters_.size(); ++i) {
      float* g = gradients[i];
      for_each_element(std::ssize(parameters_[i].weights),
                       [=](int64_t j) { g[j] = std::clamp(g[j], -limit, limit); });
    }
  }
}

void Optimizer::step(std::span<float* const> gradients) {
  clip(gradients);
  const auto rate = static_cast<float>(options_.learning_rate->rate(iterations_));
  const auto decay = static_cast<float>(options_.weight_decay * rate);
  begin_step(iterations_);
  for (size_t i = 0; i < parameters_.size(); ++i) {
    update({.weights = parameters_[i].weights.data(),
            .gradient = gradients[i],
            .slots = slot_pointers_[i],
            .size = std::ssize(parameters_[i].weights),
            .learning_rate = rate,
            .decay = decay,
            .iteration = iterations_});
  }
  ++iterations_;
}

std::vector<OptimizerState> Optimizer::state() {
  std::vector<OptimizerState> result;
  const std::vector<std::string> names = slot_names();
  for (size_t i = 0; i < parameters_.size(); ++i) {
    for (size_t k = 0; k < names.size(); ++k) {
      result.push_back({parameters_[i].name + "/" + names[k], slots_[i][k].floats(),
                        slot_is_nonnegative(names[k])});
    }
  }
  return result;
}

std::vector<std::pair<std::string, double*>> Optimizer::scalar_state() {
  std::vector<std::pair<std::string, double*>> result = own_scalar_state();
  for (auto& [name, value] : options_.learning_rate->state()) {
    result.emplace_back("schedule/" + name, value);
  }
  return result;
}

std::string Optimizer::state_problem() const {
  if (std::string problem = own_state_problem(); !problem.empty()) return problem;
  return options_.learning_rate->state_problem();
}

OptimizerRegistry& OptimizerRegistry::global() {
  static OptimizerRegistry registry;
  static std::once_flag registered;
  std::call_once(registered, [] { register_builtin_optimizers(registry); });
  return registry;
}

void OptimizerRegistry::add(const std::string& name, OptimizerDefinition definition) {
  if (contains(name)) throw InputError("optimizer '" + name + "' is registered twice");
  definitions_.emplace_back(name, std::move(definition));
}

bool OptimizerRegistry::contains(const std::string& name) const {
  return std::ranges::any_of(definitions_, [&](const auto& entry) { return entry.first == name; });
}

namespace {

std::optional<float> read_clip(ConfigNode& options, const std::string& key) {
  const auto node = options.find(key);
  if (!node || node->is_null()) return std::nullopt;
  const double value = node->as_real(0.0);
  if (value == 0.0) return std::nullopt;  // Keras: 0 means off
  return static_cast<float>(value);
}

CommonOptions read_common_options(ConfigNode& options, const OptimizerDefinition& definition) {
  CommonOptions common;
  const auto learning_rate = options.find("learning_rate");
  common.learning_rate = read_learning_rate(learning_rate ? *learning_rate : ConfigNode(),
                                            definition.default_learning_rate);
  common.weight_decay = options.get_real("weight_decay", definition.default_weight_decay, 0.0);
  common.clipping.norm = read_clip(options, "clipnorm");
  common.clipping.global_norm = read_clip(options, "global_clipnorm");
  common.clipping.value = read_clip(options, "clipvalue");
  const int set = int(common.clipping.norm.has_value()) +
                  int(common.clipping.global_norm.has_value()) +
                  int(common.clipping.value.has_value());
  if (set > 1) options.fail("only one of clipnorm, clipvalue and global_clipnorm can be set");
  return common;
}

}  // namespace

std::unique_ptr<Optimizer> OptimizerRegistry::create(const std::string& name,
                                                     ConfigNode& options) const {
  for (const auto& [known, definition] : definitions_) {
    if (known != name) continue;
    if (!options.is_null()) options.expect_map();
    CommonOptions common = read_common_options(options, definition);
    std::unique_ptr<Optimizer> optimizer = definition.create(options);
    optimizer->configure(std::move(common));
    if (!options.is_null()) options.finish("for optimizer '" + name + "'");
    return optimizer;
  }
  options.fail("unknown optimizer '" + name + "' (known: " + join_names(names()) + ")");
}

std::vector<std::string> OptimizerRegistry::names() const {
  std::vector<std::string> result;
  for (const auto& entry : definitions_) result.push_back(entry.first);
  std::ranges::sort(result);
  return result;
}

}  // namespace loom
