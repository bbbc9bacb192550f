#include "engine/optim/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "engine/core/error.hpp"
#include "engine/core/join_names.hpp"
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

const OptimizerDefinition* OptimizerRegistry::find(const std::string& name) const {
  for (const auto& [known, definition] : definitions_) {
    if (known == name) return &definition;
  }
  return nullptr;
}

OptionSchema shared_optimizer_options(double default_learning_rate, double default_weight_decay) {
  return {
      real_option("learning_rate", default_learning_rate, at_least(0.0),
                  "a number, or one schedule: {exponential_decay: {...}}"),
      real_option("weight_decay", default_weight_decay, at_least(0.0),
                  "decoupled: w -= w·weight_decay·lr before the update"),
      switch_option("clipnorm", at_least(0.0), "each gradient's L2 norm at most this (0: off)"),
      switch_option("global_clipnorm", at_least(0.0),
                    "all gradients' joint L2 norm at most this (0: off)"),
      switch_option("clipvalue", at_least(0.0), "every gradient element within ±this (0: off)"),
  };
}

namespace {

std::optional<float> clip_option(const Attributes& options, const std::string& name) {
  const std::optional<double> value = options.optional_real(name);
  if (!value || *value == 0.0) return std::nullopt;  // Keras: 0 means off
  return static_cast<float>(*value);
}

GradientClipping read_clipping(const Attributes& options) {
  return {.norm = clip_option(options, "clipnorm"),
          .global_norm = clip_option(options, "global_clipnorm"),
          .value = clip_option(options, "clipvalue")};
}

}  // namespace

std::optional<OptionProblem> check_clipping(const Attributes& options) {
  const GradientClipping clipping = read_clipping(options);
  const int set = int(clipping.norm.has_value()) + int(clipping.global_norm.has_value()) +
                  int(clipping.value.has_value());
  if (set > 1) {
    return OptionProblem{"", std::nullopt,
                         "only one of clipnorm, clipvalue and global_clipnorm can be set"};
  }
  return std::nullopt;
}

OptionSchema OptimizerDefinition::schema() const {
  OptionSchema result = shared_optimizer_options(default_learning_rate, default_weight_decay);
  result.insert(result.end(), options.begin(), options.end());
  return result;
}

std::unique_ptr<Optimizer> OptimizerRegistry::create(const OptimizerSpec& spec) const {
  const OptimizerDefinition* definition = find(spec.name);
  if (!definition) {
    throw InputError("unknown optimizer '" + spec.name + "' (known: " + join_names(names()) + ")");
  }
  const std::string owner = "optimizer '" + spec.name + "'";
  const OptionSchema schema = without(definition->schema(), {"learning_rate"});
  const Attributes options = with_defaults(schema, spec.options, owner);
  if (const auto problem = definition->checks()(options)) {
    throw InputError(owner + ": " + (problem->key.empty() ? "" : problem->key + ": ") +
                     problem->message);
  }
  CommonOptions common{.learning_rate = make_schedule(spec.learning_rate.value_or(
                           LearningRateSpec{.constant = definition->default_learning_rate})),
                       .weight_decay = options.real("weight_decay"),
                       .clipping = read_clipping(options)};
  std::unique_ptr<Optimizer> optimizer = definition->create(options);
  optimizer->configure(std::move(common));
  return optimizer;
}

std::vector<std::string> OptimizerRegistry::names() const {
  std::vector<std::string> result;
  for (const auto& entry : definitions_) result.push_back(entry.first);
  std::ranges::sort(result);
  return result;
}

}  // namespace loom
