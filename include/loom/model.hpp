#pragma once
// loom's C++ inference API: load a model file that `trainer export` wrote and run it.
//
//   #include <loom/model.hpp>
//   loom::Model model = loom::Model::load("model.loom");
//   std::vector<float> probabilities(model.output_size());
//   model.predict(pixels, 1, probabilities.data());          // uint8 or float samples
//   std::string label = model.class_name(model.predicted_class(probabilities.data()));
//
// Inputs are raw samples, as the training data held them (uint8 pixels, CSV values): the
// model applies its own preprocessing (the scale its training data was read with; a
// normalization layer is part of the graph). Outputs read as `trainer predict` prints them.
// A Model is used from one thread at a time; several Models may run in parallel. Predicting
// one sample allocates nothing after the first call; other batch sizes compile a plan the
// first time they are seen.
//
// Link with loom::loom (CMake: find_package(loom)) or `pkg-config --cflags --libs loom`.

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace loom {

// Everything the API refuses or fails at: a missing or damaged model file, a model from a
// newer loom, an input of the wrong size.
class ModelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Model {
 public:
  // What the outputs are: class probabilities (a softmax classifier), one probability (a
  // sigmoid unit), or values (regression).
  enum class Outputs { class_probabilities, probability, values };

  // Reads and checks `file`, and compiles the one-sample plan.
  static Model load(const std::string& file);
  // The engine's worker threads for every model in the process (default: every core).
  static void set_threads(int threads);
  static std::string version();  // the loom library's version

  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;

  const std::string& name() const;                  // the experiment's name
  const std::vector<int64_t>& input_shape() const;  // one sample's, e.g. {28, 28, 1}
  int64_t input_size() const;                       // values per sample
  int64_t output_size() const;                      // values per sample
  Outputs outputs() const;
  // Empty when the classes are numbered only; class_name(i) is then std::to_string(i).
  const std::vector<std::string>& class_names() const;
  std::string class_name(int64_t index) const;

  // `count` samples of input_size() values each, row-major, into count × output_size() floats.
  void predict(const float* samples, int64_t count, float* outputs);
  void predict(const uint8_t* samples, int64_t count, float* outputs);
  // An image file (PNG or JPEG) as one sample: decoded and resized to input_shape() as the
  // trainer reads image folders (bilinear, grayscale or RGB by the input's channels).
  std::vector<uint8_t> read_image(const std::string& file) const;
  // The class of one sample's outputs (the most probable; 0/1 for a single probability);
  // -1 for values.
  int64_t predicted_class(const float* outputs) const;

 private:
  struct State;
  explicit Model(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace loom
