// Plugins that are wrong in one way each, for the loader's error messages. One source file,
// built once per defect with a different BAD_PLUGIN_KIND (see tests/CMakeLists.txt).

#include <csignal>
#include <stdexcept>

#include "engine/plugin/plugin.hpp"

#if BAD_PLUGIN_KIND == 1  // built for another plugin API version
extern "C" __attribute__((visibility("default"))) int loom_plugin_api_version() {
  return 0;
}
extern "C" __attribute__((visibility("default"))) void loom_plugin_register(
    loom::PluginRegistrar&) {}
#elif BAD_PLUGIN_KIND == 2  // throws while registering
LOOM_PLUGIN(registrar) {
  (void)registrar;
  throw std::runtime_error("cannot find my settings file");
}
#elif BAD_PLUGIN_KIND == 3  // registers a name the engine already has
namespace {
class FakeRelu final : public loom::Op {
 public:
  std::string_view name() const override { return "relu"; }
  loom::OpSignature signature() const override { return {.inputs = {"x"}}; }
  std::vector<loom::TensorType> infer(const loom::Node&,
                                      std::span<const loom::TensorType> inputs) const override {
    return {inputs[0]};
  }
  std::unique_ptr<loom::Kernel> compile(const loom::Node&, loom::CompileContext&) const override {
    return nullptr;
  }
};
}  // namespace
LOOM_PLUGIN(registrar) {
  registrar.ops.add(std::make_unique<FakeRelu>());
}
#elif BAD_PLUGIN_KIND == 4  // crashes while registering
// Raised rather than provoked: a null store is undefined behaviour that UBSan builds would
// report (and stop at) before the signal ever came.
LOOM_PLUGIN(registrar) {
  (void)registrar;
  std::raise(SIGSEGV);
}
#else                       // exports no entry point at all
extern "C" __attribute__((visibility("default"))) int some_other_function() {
  return 1;
}
#endif
