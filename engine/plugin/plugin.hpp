#pragma once
// The plugin interface. A plugin is a shared library that adds ops, optimizers and layers
// (engine/plugin/layer.hpp) to the engine's registries; the trainer loads it with dlopen from a
// config's `plugins:` list or from `--plugin FILE`. A plugin is one .cpp file:
//
//   #include "engine/plugin/plugin.hpp"
//   LOOM_PLUGIN(registrar) {
//     registrar.ops.add(std::make_unique<MyOp>());
//     registrar.optimizers.add("my_optimizer",
//                              {.options = {real_option("beta", 0.9, between(0, 1), "...")},
//                               .create = [](const Attributes& options) { ... }});
//   }
//
// built against the engine's headers and linked to its shared library (examples/custom_op
// has the CMake for it).

#include "engine/exec/kernel.hpp"
#include "engine/graph/op.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/plugin/layer.hpp"

// Raised whenever a type a plugin sees (Op, Kernel, Optimizer, the registries) changes in a
// way that breaks plugins built earlier; the loader refuses a plugin built for another value.
// 2: Optimizer, LearningRateSchedule and Metric gained checkpoint validation.
// 3: Op gained has_reference() and reference(), the double-precision forward.
// 4: OptimizerDefinition declares its options' schema and creates from typed options.
// 5: PluginRegistrar gained the layer registry.
#define LOOM_PLUGIN_API_VERSION 5

namespace loom {

struct PluginRegistrar {
  OpRegistry& ops;
  OptimizerRegistry& optimizers;
  LayerRegistry& layers;
};

}  // namespace loom

// Defines the two functions every plugin exports; the body registers what the plugin adds
// and may throw (the loader reports the message with the plugin's path).
#define LOOM_PLUGIN(registrar)                                                      \
  extern "C" __attribute__((visibility("default"))) int loom_plugin_api_version() { \
    return LOOM_PLUGIN_API_VERSION;                                                 \
  }                                                                                 \
  extern "C" __attribute__((visibility("default"))) void loom_plugin_register(      \
      loom::PluginRegistrar& registrar)
