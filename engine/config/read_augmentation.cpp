#include "engine/config/read_augmentation.hpp"

#include <array>
#include <string>
#include <utility>

#include "engine/config/read_values.hpp"
#include "engine/graph/attributes.hpp"

namespace loom {

namespace {

using Flip = AugmentationSpec::Flip;
using Fill = AugmentationSpec::Fill;

const std::array<std::pair<Flip, const char*>, 4> kFlips{
    {{Flip::none, "none"},
     {Flip::horizontal, "horizontal"},
     {Flip::vertical, "vertical"},
     {Flip::horizontal_and_vertical, "horizontal_and_vertical"}}};
const std::array<std::pair<Fill, const char*>, 3> kFills{
    {{Fill::reflect, "reflect"}, {Fill::nearest, "nearest"}, {Fill::constant, "constant"}}};

template <typename Enum, size_t N>
Enum read_choice(ConfigNode node, const std::array<std::pair<Enum, const char*>, N>& table,
                 const std::string& what) {
  std::vector<std::string> names;
  for (const auto& entry : table) names.push_back(entry.second);
  const std::string name = choose(node, names, what);
  for (const auto& entry : table) {
    if (name == entry.second) return entry.first;
  }
  return table[0].first;
}

template <typename Enum, size_t N>
const char* choice_name(Enum value, const std::array<std::pair<Enum, const char*>, N>& table) {
  for (const auto& entry : table) {
    if (value == entry.first) return entry.second;
  }
  return table[0].second;
}

// One fraction in [min, max] (below `below` when given, for an open upper end).
double read_fraction(const ConfigNode& node, double min, double max, std::optional<double> below,
                     const std::string& why) {
  const double value = node.as_real(min, max);
  if (below && value >= *below) node.fail("expected a number below " + shortest_text(*below) + why);
  return value;
}

// A number for both axes, or [height, width].
std::pair<double, double> read_pair(const ConfigNode& node, double min, double max,
                                    std::optional<double> below = std::nullopt,
                                    const std::string& why = "") {
  if (!node.is_sequence()) {
    const double value = read_fraction(node, min, max, below, why);
    return {value, value};
  }
  if (node.size() != 2) node.fail("expected a number, or [height, width]");
  return {read_fraction(node[0], min, max, below, why),
          read_fraction(node[1], min, max, below, why)};
}

YAML::Node flow_pair(double height, double width) {
  YAML::Node list(YAML::NodeType::Sequence);
  list.push_back(shortest_text(height));
  list.push_back(shortest_text(width));
  list.SetStyle(YAML::EmitterStyle::Flow);
  return list;
}

}  // namespace

std::optional<AugmentationSpec> read_augmentation(ConfigNode node) {
  if (node.is_null()) return std::nullopt;
  node.expect_map();
  AugmentationSpec spec;
  if (auto flip = node.find("flip")) spec.flip = read_choice(*flip, kFlips, "flip");
  spec.rotation = node.get_real("rotation", 0, 0, 0.5);
  if (auto zoom = node.find("zoom")) {
    const std::string why = " (the scale 1 ± zoom must stay positive)";
    if (zoom->is_sequence()) {
      std::tie(spec.zoom_height, spec.zoom_width) = read_pair(*zoom, 0, 1, 1, why);
      spec.zoom_width_given = true;
    } else {
      spec.zoom_height = spec.zoom_width = read_fraction(*zoom, 0, 1, 1, why);
    }
  }
  if (auto translation = node.find("translation")) {
    std::tie(spec.translation_height, spec.translation_width) = read_pair(*translation, 0, 1);
  }
  if (auto crop = node.find("crop")) {
    std::tie(spec.crop_height, spec.crop_width) =
        read_pair(*crop, 0, 1, std::nullopt, " (the window's fraction of the image)");
    if (spec.crop_height <= 0 || spec.crop_width <= 0) {
      crop->fail("expected fractions above 0 (the window's fraction of the image)");
    }
  }
  if (auto fill = node.find("fill_mode")) spec.fill = read_choice(*fill, kFills, "fill_mode");
  if (auto value = node.find("fill_value")) {
    if (spec.fill != Fill::constant) value->fail("fill_value needs fill_mode: constant");
    spec.fill_value = float(value->as_real());
  }
  node.finish("for data.augmentation");
  if (is_identity(spec)) return std::nullopt;
  return spec;
}

YAML::Node augmentation_yaml(const AugmentationSpec& spec) {
  YAML::Node node;
  node["flip"] = choice_name(spec.flip, kFlips);
  node["rotation"] = shortest_text(spec.rotation);
  node["zoom"] = spec.zoom_width_given ? flow_pair(spec.zoom_height, spec.zoom_width)
                                       : YAML::Node(shortest_text(spec.zoom_height));
  node["translation"] = flow_pair(spec.translation_height, spec.translation_width);
  node["crop"] = flow_pair(spec.crop_height, spec.crop_width);
  node["fill_mode"] = choice_name(spec.fill, kFills);
  if (spec.fill == Fill::constant) node["fill_value"] = shortest_text(spec.fill_value);
  node.SetStyle(YAML::EmitterStyle::Flow);
  return node;
}

}  // namespace loom
