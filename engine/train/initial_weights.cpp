#include "engine/train/initial_weights.hpp"

#include <cstring>

#include "engine/core/error.hpp"
#include "engine/core/join_names.hpp"
#include "engine/train/checkpoint_fields.hpp"

namespace loom {

namespace {

constexpr std::string_view kWeightPrefix = "weights/";

// The parameters' names a checkpoint holds weights for.
std::vector<std::string> weight_names(const SafetensorsFile& file) {
  std::vector<std::string> names;
  for (const std::string& tensor : file.names()) {
    if (tensor.starts_with(kWeightPrefix)) names.push_back(tensor.substr(kWeightPrefix.size()));
  }
  return names;
}

// The refusal of a load the flags did not ask for, saying which flag would allow it.
[[noreturn]] void refuse(const SafetensorsFile& file, const std::string& what,
                         const std::string& remedy) {
  throw InputError("--init-weights " + file.path().string() + ": " + what + "; " + remedy);
}

// Sorts the model's parameters into loaded, kept and skipped, and refuses what `matching`
// does not allow; copies nothing.
WeightLoadReport match_weights(const SafetensorsFile& file, const ParameterStore& parameters,
                               WeightMatching matching) {
  WeightLoadReport report;
  for (const auto& [name, shape] : parameters.shapes()) {
    const std::string tensor = std::string(kWeightPrefix) + name;
    if (!file.contains(tensor)) {
      report.kept.push_back(name);
      continue;
    }
    const Shape stored = file.tensor(tensor).shape;
    if (stored == shape) {
      report.loaded.push_back(name);
      continue;
    }
    const std::string mismatch =
        name + ": " + to_string(stored) + " in the file, " + to_string(shape) + " here";
    if (!matching.skip_mismatch) {
      refuse(file, "the weights of " + mismatch,
             "--by-name --skip-mismatch loads the others and skips it");
    }
    report.skipped.push_back(mismatch);
  }
  for (const std::string& name : weight_names(file)) {
    if (!parameters.shapes().contains(name)) report.unused.push_back(name);
  }
  if (!matching.by_name && !(report.kept.empty() && report.unused.empty())) {
    const std::string difference =
        !report.kept.empty() ? "the file has no weights for " + join_names(report.kept)
                             : "this model has no parameters " + join_names(report.unused);
    refuse(file, difference, "--by-name loads the parameters both have under the same name");
  }
  if (report.loaded.empty()) {
    refuse(file, "no parameter of this model has weights of the same name and shape in it",
           "nothing would be loaded");
  }
  return report;
}

}  // namespace

std::string WeightLoadReport::summary() const {
  std::string text = std::to_string(loaded.size()) + " of " +
                     std::to_string(loaded.size() + kept.size() + skipped.size()) +
                     " parameters loaded";
  if (!kept.empty()) text += "; not in the file, kept as initialized: " + join_names(kept);
  if (!skipped.empty()) text += "; skipped, another shape: " + join_names(skipped);
  if (!unused.empty()) text += "; in the file, not in this model: " + join_names(unused);
  return text;
}

WeightLoadReport load_initial_weights(const SafetensorsFile& file, ParameterStore& parameters,
                                      WeightMatching matching) {
  if (matching.skip_mismatch && !matching.by_name) {
    throw InputError("--skip-mismatch needs --by-name (as in Keras's load_weights)");
  }
  WeightLoadReport report = match_weights(file, parameters, matching);
  std::vector<std::span<const std::byte>> weights;
  for (const std::string& name : report.loaded) {
    const std::string tensor = std::string(kWeightPrefix) + name;
    weights.push_back(file.bytes(tensor, "F32", parameters.shapes().at(name)));
    check_finite_tensor(file, tensor, weights.back());
  }
  for (size_t i = 0; i < report.loaded.size(); ++i) {
    std::span<float> into = parameters.at(report.loaded[i]);
    std::memcpy(into.data(), weights[i].data(), weights[i].size());
  }
  return report;
}

}  // namespace loom
