#pragma once
// Optimizers update the weights from their gradients with Keras 3's names, defaults and
// formulas (keras/src/optimizers). A step follows Keras's base optimizer:
//   1. clip the gradients (clipnorm, global_clipnorm or clipvalue: at most one of them),
//   2. lr = learning_rate schedule at `iterations` (0 at the first step),
//   3. per parameter, one fused pass: decoupled weight decay w -= w·weight_decay·lr, then the
//      optimizer's own update,
//   4. iterations += 1.
// Each optimizer owns its per-parameter state (its "slots") and declares its own options'
// schema; the registry finds it by name and applies the options every optimizer shares. The
// options arrive typed (an OptimizerSpec, resolved by the config against the schemas).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/aligned_buffer.hpp"
#include "engine/graph/option_schema.hpp"
#include "engine/optim/schedule.hpp"

namespace loom {

struct OptimizedParameter {
  std::string name;
  std::span<float> weights;
};

// A named piece of optimizer state, e.g. "dense/kernel/velocity" (what checkpoints save).
struct OptimizerState {
  std::string name;
  std::span<float> values;
  bool nonnegative = false;  // an accumulation of squares: a negative value is corrupt state
};

// Everything one parameter's update needs, with this step's scalars already computed.
struct UpdateStep {
  float* weights;
  const float* gradient;
  std::span<float* const> slots;  // slots[k] is the slot named slot_names()[k]
  int64_t size;
  float learning_rate;  // the schedule's value for this step
  float decay;          // weight_decay · learning_rate: apply w -= decay·w first (0: none)
  int64_t iteration;    // 0 at the first step; Adam's bias correction uses iteration + 1
};

struct GradientClipping {
  std::optional<float> norm;         // clipnorm: each gradient's L2 norm at most this
  std::optional<float> global_norm;  // global_clipnorm: all gradients' joint L2 norm
  std::optional<float> value;        // clipvalue: every element within [-value, value]
};

// The options every optimizer accepts.
struct CommonOptions {
  std::unique_ptr<LearningRateSchedule> learning_rate;
  double weight_decay = 0.0;
  GradientClipping clipping;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual std::string_view name() const = 0;

  void configure(CommonOptions options) { options_ = std::move(options); }
  void set_schedule(std::unique_ptr<LearningRateSchedule> schedule) {
    options_.learning_rate = std::move(schedule);
  }

  // Allocates the slots for each parameter, once, before training.
  void bind(std::vector<OptimizedParameter> parameters);
  // One update. gradients[i] belongs to the i-th bound parameter and has its size; clipping
  // rescales them in place.
  void step(std::span<float* const> gradients);
  // The epoch's metrics, for schedules driven by one (reduce_on_plateau).
  void epoch_end(const EpochMetrics& metrics) { options_.learning_rate->epoch_end(metrics); }

  // Slots per parameter, known before bind() (memory estimates size them in advance).
  size_t slot_count() const { return slot_names().size(); }
  int64_t iterations() const { return iterations_; }
  double learning_rate() const { return options_.learning_rate->rate(iterations_); }
  const LearningRateSchedule& schedule() const { return *options_.learning_rate; }
  std::vector<OptimizerState> state();
  // Scalar state by name, for checkpoints: the optimizer's own (Nadam's "u_product") and the
  // schedule's ("schedule/learning_rate", ...). The step count is iterations().
  std::vector<std::pair<std::string, double*>> scalar_state();
  void set_iterations(int64_t iterations) { iterations_ = iterations; }
  // After a checkpoint's scalars and iterations were restored: what they must be when they
  // are not that (the optimizer's own, then the schedule's), empty when they are acceptable.
  std::string state_problem() const;

 protected:
  Optimizer() = default;
  // The names of the slots each parameter gets ("momentum", "velocity", ...).
  virtual std::vector<std::string> slot_names() const = 0;
  // The value slot k starts from (Keras starts every slot at 0 but Adagrad's accumulator).
  virtual float initial_slot_value(size_t /*slot*/) const { return 0.f; }
  // Called once per step before any parameter is updated (Nadam's momentum cache).
  virtual void begin_step(int64_t /*iteration*/) {}
  // Scalars the optimizer keeps across steps besides its slots.
  virtual std::vector<std::pair<std::string, double*>> own_scalar_state() { return {}; }
  // Checks of the own scalars against their ranges and the step count (see state_problem).
  virtual std::string own_state_problem() const { return ""; }
  // Slots that accumulate squares can never be negative (the update takes their root).
  virtual bool slot_is_nonnegative(const std::string& /*slot*/) const { return false; }
  // Updates one parameter in place, weight decay included (see UpdateStep::decay).
  virtual void update(const UpdateStep& step) = 0;

 private:
  void clip(std::span<float* const> gradients);

  CommonOptions options_;
  int64_t iterations_ = 0;
  std::vector<OptimizedParameter> parameters_;
  std::vector<std::vector<AlignedBuffer>> slots_;   // [parameter][slot]
  std::vector<std::vector<float*>> slot_pointers_;  // the same, as raw pointers
};

// An optimizer as configured: its name, its options but the learning rate (the shared ones
// and its own, typed), and its learning rate.
struct OptimizerSpec {
  std::string name = "rmsprop";
  Attributes options;                             // absent ones take the schema's defaults
  std::optional<LearningRateSpec> learning_rate;  // absent: the optimizer's default constant
};

// The options every optimizer takes (learning_rate, weight_decay and the clipping options),
// with one optimizer's defaults. learning_rate is a number or one schedule: the config reads
// it apart (OptimizerSpec::learning_rate), the others are ordinary options.
OptionSchema shared_optimizer_options(double default_learning_rate, double default_weight_decay);
// At most one clipping option may be set.
std::optional<OptionProblem> check_clipping(const Attributes& options);

// How an optimizer is made: its defaults for the shared options, its own options' schema, a
// check across them where a range is not enough, and a factory taking the resolved values.
struct OptimizerDefinition {
  double default_learning_rate = 0.001;
  double default_weight_decay = 0.0;
  OptionSchema options;  // its own (rho, momentum, ...)
  OptionCheck check;     // may be empty
  std::function<std::unique_ptr<Optimizer>(const Attributes& options)> create;

  // The shared options (with this optimizer's defaults), then its own.
  OptionSchema schema() const;
  // The clipping check, then the optimizer's own.
  OptionCheck checks() const { return both(check_clipping, check); }
};

class OptimizerRegistry {
 public:
  static OptimizerRegistry& global();  // the built-in optimizers registered on first use

  void add(const std::string& name, OptimizerDefinition definition);  // a duplicate: error
  bool contains(const std::string& name) const;
  const OptimizerDefinition* find(const std::string& name) const;  // null: unknown
  // Fills in the defaults spec.options leaves out; an unknown name, a missing required option
  // or options that disagree are InputErrors (the config reports them at their position).
  std::unique_ptr<Optimizer> create(const OptimizerSpec& spec) const;
  std::vector<std::string> names() const;  // sorted

 private:
  std::vector<std::pair<std::string, OptimizerDefinition>> definitions_;
};

void register_builtin_optimizers(OptimizerRegistry& registry);  // engine/optim/builtin.cpp

}  // namespace loom
