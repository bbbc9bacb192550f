// The reference optimizers (see keras_reference.hpp), each written from its update_step in
// keras/src/optimizers/*.py and the base optimizer's clipping and weight decay. f32() marks
// every scalar Keras holds as float32; `k_*` are the `1 - hyperparameter` Keras writes in
// Python (double, then one rounding); `float` chains are Keras's float32 scalar arithmetic.

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "tests/support/keras_reference.hpp"

namespace loom::testing::reference {

namespace {

double f32(double value) {
  return double(float(value));
}

// ops.power(ops.cast(beta, float32), t): a float32 power, correctly rounded.
float float_power(double beta, int64_t t) {
  return float(std::pow(f32(beta), double(t)));
}

double squared_sum(const Values& values) {
  double sum = 0;
  for (const double v : values) sum += v * v;
  return sum;
}

// The slots each optimizer's build() makes, by Keras's names.
std::vector<std::string> slot_names(const OptimizerSpec& spec) {
  const std::string& kind = spec.name;
  if (kind == "sgd")
    return spec.momentum != 0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{};
  if (kind == "rmsprop") {
    std::vector<std::string> names = {"velocity"};
    if (spec.momentum > 0) names.push_back("momentum");
    if (spec.centered) names.push_back("average_gradient");
    return names;
  }
  if (kind == "adagrad") return {"accumulator"};
  if (kind == "adadelta") return {"accumulated_grad", "accumulated_delta_var"};
  if (kind == "adam" || kind == "adamw") {
    if (spec.amsgrad) return {"momentum", "velocity", "velocity_hat"};
    return {"momentum", "velocity"};
  }
  if (kind == "adamax") return {"momentum", "norm"};
  if (kind == "nadam") return {"momentum", "velocity"};
  if (kind == "lion") return {"momentum"};
  throw std::invalid_argument("no reference for " + kind);
}

// One parameter's update_step at step t (1 first), with Keras's scalars.
struct Update {
  const OptimizerSpec& spec;
  const std::function<Values&(const std::string&)>& slot;  // by Keras's slot name
  Values& w;
  const Values& g;
  double lr;
  int64_t t;
  double eps;
  double u_product;  // Nadam's, this step's
};

void sgd(const Update& u) {
  if (u.spec.momentum == 0) {
    for (size_t i = 0; i < u.w.size(); ++i) u.w[i] -= u.g[i] * u.lr;
    return;
  }
  const double mu = f32(u.spec.momentum);
  Values& m = u.slot("momentum");
  for (size_t i = 0; i < u.w.size(); ++i) {
    m[i] = m[i] * mu - u.g[i] * u.lr;
    u.w[i] += u.spec.nesterov ? m[i] * mu - u.g[i] * u.lr : m[i];
  }
}

void rmsprop(const Update& u) {
  const double rho = f32(u.spec.rho), k_rho = f32(1 - u.spec.rho), mu = f32(u.spec.momentum);
  Values& v = u.slot("velocity");
  Values* a = u.spec.centered ? &u.slot("average_gradient") : nullptr;
  Values* m = u.spec.momentum > 0 ? &u.slot("momentum") : nullptr;
  for (size_t i = 0; i < u.w.size(); ++i) {
    const double g = u.g[i];
    v[i] = rho * v[i] + k_rho * (g * g);
    double denominator = v[i] + u.eps;
    if (a) {
      (*a)[i] = rho * (*a)[i] + k_rho * g;
      denominator = v[i] - (*a)[i] * (*a)[i] + u.eps;
    }
    double increment = u.lr * g / std::sqrt(denominator);
    if (m) increment = (*m)[i] = mu * (*m)[i] + increment;
    u.w[i] -= increment;
  }
}

void adagrad(const Update& u) {
  Values& a = u.slot("accumulator");
  for (size_t i = 0; i < u.w.size(); ++i) {
    a[i] += u.g[i] * u.g[i];
    u.w[i] -= u.lr * u.g[i] / std::sqrt(a[i] + u.eps);
  }
}

void adadelta(const Update& u) {
  const double rho = f32(u.spec.rho), k_rho = f32(1 - u.spec.rho);
  Values& eg = u.slot("accumulated_grad");
  Values& edx = u.slot("accumulated_delta_var");
  for (size_t i = 0; i < u.w.size(); ++i) {
    eg[i] = rho * eg[i] + k_rho * (u.g[i] * u.g[i]);
    const double delta = -(std::sqrt(edx[i] + u.eps) * u.g[i] / std::sqrt(eg[i] + u.eps));
    edx[i] = rho * edx[i] + k_rho * (delta * delta);
    u.w[i] += u.lr * delta;
  }
}

void adam(const Update& u) {
  const float b1_power = float_power(u.spec.beta_1, u.t);
  const float b2_power = float_power(u.spec.beta_2, u.t);
  const double alpha = float(float(float(u.lr) * std::sqrt(1.f - b2_power)) / (1.f - b1_power));
  const double k1 = f32(1 - u.spec.beta_1), k2 = f32(1 - u.spec.beta_2);
  Values& m = u.slot("momentum");
  Values& v = u.slot("velocity");
  Values* v_hat = u.spec.amsgrad ? &u.slot("velocity_hat") : nullptr;
  for (size_t i = 0; i < u.w.size(); ++i) {
    m[i] += (u.g[i] - m[i]) * k1;
    v[i] += (u.g[i] * u.g[i] - v[i]) * k2;
    if (v_hat) (*v_hat)[i] = std::max((*v_hat)[i], v[i]);
    u.w[i] -= m[i] * alpha / (std::sqrt(v_hat ? (*v_hat)[i] : v[i]) + u.eps);
  }
}

void adamax(const Update& u) {
  const double correction = 1.f - float_power(u.spec.beta_1, u.t);
  const double k1 = f32(1 - u.spec.beta_1), b2 = f32(u.spec.beta_2);
  Values& m = u.slot("momentum");
  Values& norm = u.slot("norm");
  for (size_t i = 0; i < u.w.size(); ++i) {
    m[i] += (u.g[i] - m[i]) * k1;
    norm[i] = std::max(b2 * norm[i], std::abs(u.g[i]));
    u.w[i] -= u.lr * m[i] / (correction * (norm[i] + u.eps));
  }
}

// Keras casts beta_1, beta_2 and 0.96 to float32 first: every scalar here is float32.
void nadam(const Update& u) {
  const auto b1 = float(u.spec.beta_1), b2 = float(u.spec.beta_2);
  const float u_t = b1 * (1.f - 0.5f * float_power(0.96, u.t));
  const float u_next = b1 * (1.f - 0.5f * float_power(0.96, u.t + 1));
  const auto u_product = float(u.u_product);
  const float u_product_next = u_product * u_next;
  const float v_correction = 1.f - float_power(u.spec.beta_2, u.t);
  Values& m = u.slot("momentum");
  Values& v = u.slot("velocity");
  for (size_t i = 0; i < u.w.size(); ++i) {
    m[i] += (u.g[i] - m[i]) * double(1.f - b1);
    v[i] += (u.g[i] * u.g[i] - v[i]) * double(1.f - b2);
    const double m_hat = double(u_next) * m[i] / double(1.f - u_product_next) +
                         double(1.f - u_t) * u.g[i] / double(1.f - u_product);
    u.w[i] -= m_hat * u.lr / (std::sqrt(v[i] / double(v_correction)) + u.eps);
  }
}

// Keras casts the betas first here too: 1 - beta in float32.
void lion(const Update& u) {
  const auto b1 = float(u.spec.beta_1), b2 = float(u.spec.beta_2);
  Values& m = u.slot("momentum");
  for (size_t i = 0; i < u.w.size(); ++i) {
    const double c = m[i] * double(b1) + u.g[i] * double(1.f - b1);
    u.w[i] -= u.lr * double((c > 0) - (c < 0));
    m[i] = m[i] * double(b2) + u.g[i] * double(1.f - b2);
  }
}

}  // namespace

OptimizerSpec OptimizerSpec::defaults(const std::string& name) {
  OptimizerSpec spec{.name = name};
  if (name == "sgd") spec.learning_rate = 0.01;
  if (name == "adadelta") spec.rho = 0.95;
  if (name == "adamw") spec.weight_decay = 0.004;
  if (name == "lion") spec.beta_2 = 0.99;
  return spec;
}

OptimizerSpec OptimizerSpec::parse(const std::string& yaml) {
  static const std::map<std::string, double OptimizerSpec::*> kNumbers = {
      {"learning_rate", &OptimizerSpec::learning_rate},
      {"momentum", &OptimizerSpec::momentum},
      {"rho", &OptimizerSpec::rho},
      {"epsilon", &OptimizerSpec::epsilon},
      {"beta_1", &OptimizerSpec::beta_1},
      {"beta_2", &OptimizerSpec::beta_2},
      {"initial_accumulator_value", &OptimizerSpec::initial_accumulator_value},
      {"weight_decay", &OptimizerSpec::weight_decay},
      {"clipnorm", &OptimizerSpec::clipnorm},
      {"global_clipnorm", &OptimizerSpec::global_clipnorm},
      {"clipvalue", &OptimizerSpec::clipvalue}};
  static const std::map<std::string, bool OptimizerSpec::*> kFlags = {
      {"nesterov", &OptimizerSpec::nesterov},
      {"centered", &OptimizerSpec::centered},
      {"amsgrad", &OptimizerSpec::amsgrad}};
  const YAML::Node node = YAML::Load(yaml);
  if (node.IsScalar()) return defaults(node.as<std::string>());
  std::string name;
  YAML::Node options;
  for (const auto& entry : node) {  // {name: {options}}
    name = entry.first.as<std::string>();
    options = entry.second;
  }
  OptimizerSpec spec = defaults(name);
  for (const auto& option : options) {
    const auto key = option.first.as<std::string>();
    if (key == "learning_rate" && option.second.IsMap()) {
      spec.needs_schedule = true;
    } else if (kNumbers.contains(key)) {
      spec.*kNumbers.at(key) = option.second.as<double>();
    } else if (kFlags.contains(key)) {
      spec.*kFlags.at(key) = option.second.as<bool>();
    } else {
      throw std::invalid_argument(yaml + ": the reference has no option " + key);
    }
  }
  return spec;
}

Optimizer::Optimizer(OptimizerSpec spec, const std::vector<Parameter>& parameters)
    : spec_(std::move(spec)) {
  for (const Parameter& p : parameters) {
    for (const std::string& name : slot_names(spec_)) {
      // Adagrad's accumulator starts at initial_accumulator_value (a float32 constant).
      const double initial = name == "accumulator" ? f32(spec_.initial_accumulator_value) : 0.0;
      slot(p.name, name, p.values.size(), initial);
    }
  }
}

Values& Optimizer::slot(const std::string& parameter, const std::string& slot, size_t size,
                        double initial) {
  Values& values = slots_[parameter + "/" + slot];
  if (values.empty()) values.assign(size, initial);
  return values;
}

// base_optimizer._clip_gradients: clipnorm scales each gradient by c / max(‖g‖, c) (always,
// also below the limit); global_clipnorm scales all by c·min(1/N, 1/c) for their joint norm
// N (1/c a Python double, rounded); clipvalue clamps to [-v, v].
void Optimizer::clip(std::vector<Values>& gradients) const {
  if (spec_.clipnorm > 0) {
    const double c = f32(spec_.clipnorm);
    for (Values& g : gradients) {
      const double norm = std::sqrt(squared_sum(g));
      for (double& v : g) v = v * c / std::max(norm, c);
    }
  } else if (spec_.global_clipnorm > 0) {
    double total = 0;
    for (const Values& g : gradients) total += squared_sum(g);
    const double scale =
        f32(spec_.global_clipnorm) * std::min(1 / std::sqrt(total), f32(1 / spec_.global_clipnorm));
    for (Values& g : gradients) {
      for (double& v : g) v *= scale;
    }
  } else if (spec_.clipvalue > 0) {
    const double c = f32(spec_.clipvalue);
    for (Values& g : gradients) {
      for (double& v : g) v = std::clamp(v, -c, c);
    }
  }
}

void Optimizer::step(std::vector<Parameter>& parameters, std::vector<Values>& gradients) {
  clip(gradients);
  const double rate = spec_.schedule ? spec_.schedule(iterations_) : spec_.learning_rate;
  const double lr = f32(rate);  // the learning rate is a float32 variable or schedule value
  if (spec_.name == "nadam") {  // Nadam._backend_update_step, once per step, in float32
    const float cache =
        1.f - 0.5f * float_power(0.96, iterations_ + 1);  // ops.power(0.96, t): float32
    u_product_ = f32(float(float(u_product_) * float(spec_.beta_1)) * cache);
  }
  for (size_t i = 0; i < parameters.size(); ++i) {
    Values& w = parameters[i].values;
    if (spec_.weight_decay > 0) {  // variable - variable·wd·lr, before the update
      const double wd = f32(spec_.weight_decay);
      for (double& v : w) v = v - v * wd * lr;
    }
    update(parameters[i].name, w, gradients[i], lr);
  }
  ++iterations_;
}

void Optimizer::update(const std::string& name, Values& w, const Values& g, double lr) {
  static const std::map<std::string, void (*)(const Update&)> kUpdates = {
      {"sgd", sgd},           {"rmsprop", rmsprop}, {"adagrad", adagrad},
      {"adadelta", adadelta}, {"adam", adam},       {"adamw", adam},
      {"adamax", adamax},     {"nadam", nadam},     {"lion", lion}};
  const auto slot_of = [&](const std::string& slot_name) -> Values& {
    return slot(name, slot_name, w.size());
  };
  kUpdates.at(spec_.name)(
      {spec_, slot_of, w, g, lr, iterations_ + 1, f32(spec_.epsilon), u_product_});
}

}  // namespace loom::testing::reference
