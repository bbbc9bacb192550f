#pragma once
// Optimizers update the weights from their gradients, with Keras 3's names, defaults and
// formulas. Each one owns its per-parameter state (its "slots") and validates its own
// options; the registry finds them by name.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/config_node.hpp"
#include "engine/exec/aligned_buffer.hpp"

namespace loom {

struct OptimizedParameter {
  std::string name;
  std::span<float> weights;
};

// A named piece of optimizer state, e.g. "dense/kernel/velocity" (what checkpoints save).
struct OptimizerState {
  std::string name;
  std::span<float> values;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string_view name() const = 0;

  // Allocates the slots (zeros, as Keras does) for each parameter, once, before training.
  void bind(std::vector<OptimizedParameter> parameters);
  // One update. gradients[i] belongs to the i-th bound parameter and has its size.
  void step(std::span<const float* const> gradients);

  int64_t iterations() const { return iterations_; }
  double learning_rate() const { return learning_rate_; }
  std::vector<OptimizerState> state();

 protected:
  explicit Optimizer(double learning_rate) : learning_rate_(learning_rate) {}
  // The names of the slots each parameter gets ("momentum", "velocity", ...).
  virtual std::vector<std::string> slot_names() const = 0;
  // Updates one parameter in place; slots[k] is the slot named slot_names()[k].
  virtual void update(std::span<float> weights, const float* gradient,
                      std::span<float* const> slots, float learning_rate) = 0;

 private:
  double learning_rate_;
  int64_t iterations_ = 0;
  std::vector<OptimizedParameter> parameters_;
  std::vector<std::vector<AlignedBuffer>> slots_;   // [parameter][slot]
  std::vector<std::vector<float*>> slot_pointers_;  // the same, as raw pointers
};

using OptimizerFactory = std::function<std::unique_ptr<Optimizer>(ConfigNode& options)>;

class OptimizerRegistry {
 public:
  static OptimizerRegistry& global();  // the built-in optimizers registered on first use

  void add(const std::string& name, OptimizerFactory factory);
  bool contains(const std::string& name) const;
  // `options` is the optimizer's option map (or null for all defaults); unknown or
  // out-of-range options are errors at their position in the config.
  std::unique_ptr<Optimizer> create(const std::string& name, ConfigNode& options) const;
  std::vector<std::string> names() const;

 private:
  std::vector<std::pair<std::string, OptimizerFactory>> factories_;
};

void register_builtin_optimizers(OptimizerRegistry& registry);  // engine/optim/builtin.cpp

}  // namespace loom
