// `trainer gradcheck`: generated gradients against central finite differences of the
// double-precision reference forward (engine/check), for every parameter of a CONFIG or for
// each input of one op (--op).

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

#include "engine/check/gradient_check.hpp"
#include "engine/config/config_node.hpp"
#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/core/random.hpp"
#include "engine/graph/op.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"
#include "tools/flags.hpp"

namespace loom {

namespace {

// Central differences run the op twice per element: beyond this an op check would run for
// hours, not seconds.
constexpr int64_t kMaxCheckedElements = int64_t{1} << 16;

// A double-precision forward per difference: a batch beyond this would take hours.
constexpr int64_t kMaxCheckedBatch = 1024;

struct GradcheckSettings {
  std::string op;
  std::vector<std::string> shapes;
  std::vector<std::string> attributes;
  std::vector<size_t> fixed;  // inputs without a gradient (targets)
  double low = -1.0, high = 1.0;
  std::string batch = "4";  // checked by parse_count: CLI11 saturates 1e20 silently
  std::string elements;     // per tensor; default every element (op), 16 (config)
  std::optional<double> step;
  GradientTolerance tolerance;  // its step is set from `step`
};

void print_check_header(const GradientTolerance& tolerance) {
  std::printf(
      "numeric gradients: central differences of the double-precision reference forward at "
      "h/100, corners looked for within h = %g·max(1, |x|)\n"
      "a gradient passes when |numeric - analytic| <= %g·scale + %g·|numeric| (scale: the "
      "tensor's largest |numeric|)\n",
      tolerance.step, tolerance.absolute, tolerance.relative);
  std::printf("%-34s %-16s %8s %6s %11s %11s  %s\n", "gradient of", "shape", "checked", "kinks",
              "worst abs", "worst rel", "result");
}

bool print_check_row(const std::string& name, const Shape& shape, int64_t checked, int64_t kinks,
                     double absolute, double relative, int64_t failures) {
  // Every element at a corner (a zero bias feeding a relu over zero pixels) is no verdict,
  // not a pass.
  const std::string result = failures > 0   ? std::to_string(failures) + " outside"
                             : checked == 0 ? "no verdict: every element at a corner"
                                            : "ok";
  std::printf("%-34s %-16s %8lld %6lld %11.3g %11.3g  %s\n", name.c_str(), to_string(shape).c_str(),
              static_cast<long long>(checked), static_cast<long long>(kinks), absolute, relative,
              result.c_str());
  return failures == 0;
}

// --shape once per input the op takes, --fixed naming one of them, --low < --high.
void check_op_flags(const Op& op, const GradcheckSettings& command) {
  if (command.shapes.empty())
    throw InputError("--op " + command.op + ": give each input's --shape");
  const OpSignature signature = op.signature();
  const size_t named = signature.inputs.size();
  const size_t required = named - signature.optional_inputs;
  if (command.shapes.size() < required || (!signature.variadic && command.shapes.size() > named)) {
    const std::string count = signature.variadic ? std::to_string(required) + " or more"
                              : required == named
                                  ? std::to_string(named)
                                  : std::to_string(required) + " to " + std::to_string(named);
    throw InputError("--op " + command.op + ": " + std::to_string(command.shapes.size()) +
                     " --shape given; the op takes " + count + " inputs (" +
                     join_names(signature.inputs) + (signature.variadic ? ", ..." : "") + ")");
  }
  for (const size_t fixed : command.fixed) {
    if (fixed >= command.shapes.size()) {
      throw InputError("--fixed " + std::to_string(fixed) + ": op '" + command.op +
                       "' has inputs 0 to " + std::to_string(command.shapes.size() - 1) + " here");
    }
  }
  expect_finite_in("--low", command.low, -1e6, 1e6);
  expect_finite_in("--high", command.high, -1e6, 1e6);
  if (!(command.low < command.high)) {
    throw InputError("--low " + fmt::format("{}", command.low) + " --high " +
                     fmt::format("{}", command.high) + ": expected low < high");
  }
}

// --attr name=value, read as the op's signature types the attribute.
void set_attributes(const Op& op, const GradcheckSettings& command, OpUnderTest& test) {
  for (const std::string& assignment : command.attributes) {
    const size_t equals = assignment.find('=');
    const std::string key = assignment.substr(0, equals);
    const auto specs = op.signature().attributes;
    const auto spec = std::ranges::find(specs, key, &AttributeSpec::name);
    if (equals == std::string::npos || spec == specs.end()) {
      std::vector<std::string> known;
      for (const AttributeSpec& s : specs) known.push_back(s.name);
      throw InputError("--attr " + assignment + ": expected name=value with a name of op '" +
                       command.op + "' (known: " + (known.empty() ? "none" : join_names(known)) +
                       ")");
    }
    const ConfigNode value =
        ConfigNode::parse(assignment.substr(equals + 1), "--attr " + assignment);
    test.attributes.set(key, read_attribute(value, spec->kind));
  }
}

// The op with random inputs in [--low, --high], drawn from the seed.
OpUnderTest op_under_test(const Op& op, const GradcheckSettings& command, uint64_t seed) {
  OpUnderTest test{.op = command.op, .seed = seed};
  for (size_t i = 0; i < command.shapes.size(); ++i) {
    const Shape shape = parse_shape(command.shapes[i], kMaxCheckedElements);
    const bool differentiable = std::ranges::find(command.fixed, i) == command.fixed.end();
    test.inputs.push_back(f32_input(shape,
                                    random_values(numel(shape), derive_seed(seed, 100 + i),
                                                  float(command.low), float(command.high)),
                                    differentiable));
  }
  set_attributes(op, command, test);
  return test;
}

int gradcheck_op(const CommandOptions& options, const GradcheckSettings& command,
                 int64_t elements) {
  for (const std::string& plugin : options.plugins) load_plugin(plugin);
  const Op& op = OpRegistry::global().get(command.op);
  check_op_flags(op, command);
  const uint64_t seed = options.seed.empty() ? 0 : parse_seed(options.seed);
  const OpUnderTest test = op_under_test(op, command, seed);
  print_check_header(command.tolerance);
  const std::vector<GradientReport> reports = check_gradients(test, command.tolerance, elements);
  bool passed = true;
  for (const GradientReport& report : reports) {
    const OpInput& input = test.inputs[report.input];
    const std::string name = command.op + " input " + std::to_string(report.input);
    passed &= print_check_row(name, input.type.shape, report.checked, report.kinks,
                              report.worst_absolute, report.worst_relative, report.failures);
  }
  if (!passed) throw RuntimeError("gradient check failed for op '" + command.op + "'");
  if (std::ranges::none_of(reports, [](const GradientReport& r) { return r.checked > 0; })) {
    throw RuntimeError("gradient check of op '" + command.op +
                       "' compared no element (every input fixed, or every element at a kink)");
  }
  std::printf("op '%s': every input's gradient passes\n", command.op.c_str());
  return kSucceeded;
}

int gradcheck(const CommandOptions& options, GradcheckSettings command) {
  const int64_t batch = parse_count("--batch", command.batch, kMaxCheckedBatch);
  const int64_t elements = command.elements.empty()
                               ? 0
                               : parse_count("--elements", command.elements, kMaxCheckedElements);
  command.tolerance.step =
      expect_finite_in("--step", command.step.value_or(command.tolerance.step), 1e-8, 0.1);
  if (!command.op.empty()) {
    if (!options.config.empty()) throw InputError("gradcheck: give a CONFIG or --op, not both");
    return gradcheck_op(options, command, elements);
  }
  if (options.config.empty()) throw InputError("gradcheck: give a CONFIG or --op NAME");
  apply_threads(options.threads);
  const Experiment experiment = load(options);
  print_check_header(command.tolerance);
  const std::vector<ParameterCheck> checks = check_experiment_gradients(
      experiment, batch, elements > 0 ? elements : 16, command.tolerance);
  int64_t failing = 0;
  for (const ParameterCheck& check : checks) {
    failing += !print_check_row(check.parameter, check.shape, check.checked, check.kinks,
                                check.worst_absolute, check.worst_relative, check.failures);
  }
  if (failing > 0) {
    throw RuntimeError("gradient check failed: " + std::to_string(failing) + " of " +
                       std::to_string(checks.size()) + " parameters outside the tolerance");
  }
  std::printf("all %zu parameters pass (batch of %lld training samples)\n", checks.size(),
              static_cast<long long>(batch));
  return kSucceeded;
}

using GradcheckFlags = CommandFlags<GradcheckSettings>;

void add_gradcheck_flags(CLI::App& command, GradcheckFlags& flags) {
  GradcheckSettings& settings = flags.settings;
  add_common_options(command, flags.options, /*config_required=*/false);
  command.add_option("--op", settings.op, "check this op alone");
  command.add_option("--shape", settings.shapes,
                     "with --op: an input's shape, e.g. 4,5 (once per input)");
  command.add_option("--attr", settings.attributes,
                     "with --op: an attribute, name=value (repeatable)");
  command.add_option("--fixed", settings.fixed,
                     "with --op: an input index that gets no gradient, e.g. a loss's "
                     "targets (repeatable)");
  command.add_option("--low", settings.low, "with --op: inputs' lowest value");
  command.add_option("--high", settings.high, "with --op: inputs' highest value");
  command.add_option("--batch", settings.batch,
                     "with CONFIG: training samples in the checked batch (4, at most 1024)");
  command.add_option("--elements", settings.elements,
                     "elements checked per tensor, drawn with the seed (default: 16 per parameter "
                     "of a CONFIG, every element of an --op input; at most 65536)");
  command.add_option(
      "--step", settings.step,
      "h: corners are looked for within h·max(1, |x|), differences taken at h/100 (1e-4)");
}

}  // namespace

Command gradcheck_command() {
  return make_command<GradcheckSettings>(
      "gradcheck",
      "check generated gradients against central finite differences, for a CONFIG's "
      "parameters or for one op (--op)",
      add_gradcheck_flags, [](const GradcheckFlags& flags, Communicator&) {
        return gradcheck(flags.options, flags.settings);
      });
}

}  // namespace loom
