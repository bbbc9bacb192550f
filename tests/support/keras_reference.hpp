#pragma once
// An independent reference of Keras 3's training step, for the step-exact oracle test
// (tests/unit/keras_oracle_test.cpp): a small Sequential model's forward and backward pass
// and every optimizer's update, written from Keras's formulas as plain loops over doubles.
// Nothing of the engine is used (no oneDNN, no ops, no optimizer code), so agreeing with it
// means agreeing with Keras, not with the engine's own arithmetic.
//
// Tensors are double; the scalars are Keras's own float32 values. Keras hands its tensor
// ops float32 scalars — a Python float hyperparameter becomes the nearest float32, `1 - beta`
// written in Python is taken in double and then rounded, and bias corrections such as
// `ops.power(ops.cast(beta_1, float32), t)` are float32 arithmetic — and those roundings are
// part of what Keras computes (1 - 0.999 in float32 is 1.3e-5 smaller than in double), so the
// reference reproduces them exactly and takes everything else in double.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace loom::testing::reference {

using Values = std::vector<double>;

struct Layer {
  enum class Kind { dense, conv2d, max_pool2d, flatten };
  Kind kind = Kind::dense;
  int64_t size = 0;      // dense: units; conv2d: filters (3×3 kernels, valid, stride 1)
  bool softmax = false;  // dense: softmax (the last layer) instead of tanh
  double l2 = 0.0;       // kernel_regularizer l2: l2·Σw² joins the loss
};

struct Parameter {
  std::string name;  // Keras's: "dense/kernel", "conv2d_1/bias"
  std::vector<int64_t> shape;
  Values values;
};

// A Sequential model with channels-last images: conv2d (+ tanh), max_pool2d (2×2, stride 2),
// flatten, dense (+ tanh, or softmax last), trained with categorical crossentropy.
class Network {
 public:
  Network(std::vector<int64_t> input_shape, std::vector<Layer> layers);

  // The parameters, named and shaped as Keras makes them, zero-filled.
  std::vector<Parameter> parameters() const;

  // Keras's loss of one batch — the mean over the samples of -log(clip(p_label, 1e-7,
  // 1 - 1e-7)) plus the L2 penalties — and its gradient with respect to each parameter (same
  // order as parameters()). `images` holds batch × input elements already scaled.
  double loss_and_gradients(const std::vector<Parameter>& parameters, const Values& images,
                            const std::vector<int>& labels, std::vector<Values>& gradients) const;

  // Probabilities clipped by the last call (the engine's fused loss differs from Keras's there).
  int64_t clipped() const { return clipped_; }

 private:
  struct Stage {
    Layer layer;
    std::vector<int64_t> in, out;  // per-sample shapes
    int parameter = -1;            // index of its kernel (the bias follows), -1 without
  };
  Values forward(size_t k, const Values& x, const std::vector<Parameter>& parameters, int64_t batch,
                 std::vector<int64_t>& pool_from) const;
  Values backward(size_t k, const Values& x, const Values& y, Values d,
                  const std::vector<Parameter>& parameters, int64_t batch,
                  const std::vector<int64_t>& pool_from, std::vector<Values>& gradients) const;
  std::vector<Stage> stages_;
  std::vector<int64_t> input_;
  mutable int64_t clipped_ = 0;
};

// An optimizer and its options, with Keras 3's defaults for `name` (see defaults()).
struct OptimizerSpec {
  std::string name;
  double learning_rate = 0.001;
  std::function<double(int64_t)> schedule;  // the rate at a step (0 first); replaces it when set
  double momentum = 0, rho = 0.9, epsilon = 1e-7, beta_1 = 0.9, beta_2 = 0.999;
  double initial_accumulator_value = 0.1, weight_decay = 0;
  bool nesterov = false, centered = false, amsgrad = false;
  double clipnorm = 0, global_clipnorm = 0, clipvalue = 0;  // 0: off
  bool needs_schedule = false;  // parse() met a schedule (the caller supplies its function)

  static OptimizerSpec defaults(const std::string& name);
  // The engine's `trainer.optimizer` text (`adam`, `{adam: {beta_1: 0.8}}`): Keras's defaults
  // for the name, as the reference knows them, then each option given.
  static OptimizerSpec parse(const std::string& yaml);
};

// Keras's base optimizer around each update_step: clip the gradients, apply decoupled weight
// decay, update, count the step.
class Optimizer {
 public:
  Optimizer(OptimizerSpec spec, const std::vector<Parameter>& parameters);
  void step(std::vector<Parameter>& parameters, std::vector<Values>& gradients);
  // Every slot, by "<parameter>/<slot>" with Keras's slot names.
  const std::map<std::string, Values>& slots() const { return slots_; }

 private:
  void clip(std::vector<Values>& gradients) const;
  void update(const std::string& name, Values& w, const Values& g, double lr);
  Values& slot(const std::string& parameter, const std::string& slot, size_t size,
               double initial = 0.0);

  OptimizerSpec spec_;
  int64_t iterations_ = 0;
  double u_product_ = 1.0;  // Nadam's, a float32 variable in Keras
  std::map<std::string, Values> slots_;
};

}  // namespace loom::testing::reference
