// The C++ inference API (include/loom/model.hpp) over a Session: the model file's experiment,
// its inference plans (one per batch size, compiled on first use and kept), and its output
// reading. Engine errors cross the boundary as ModelError, with the engine's message.

#include "loom/model.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "engine/config/build_graph.hpp"
#include "engine/data/image_folder.hpp"
#include "engine/train/model_file.hpp"
#include "engine/train/prediction.hpp"
#include "engine/train/session.hpp"

namespace loom {

namespace {

// Runs `work`, turning any engine error into the API's.
template <typename Work>
auto guarded(Work&& work) -> decltype(work()) {
  try {
    return work();
  } catch (const ModelError&) {
    throw;
  } catch (const std::exception& error) {
    throw ModelError(error.what());
  }
}

// One compiled batch size: its plan and the bytes of its labels buffer, which the loss node
// reads (zeroed: inference has no targets).
struct PlanUse {
  BoundPlan* bound = nullptr;
  size_t label_bytes = 0;
};

}  // namespace

struct Model::State {
  explicit State(Experiment experiment) : session(std::move(experiment)) {}

  PlanUse& plan(int64_t size) {
    auto found = plans.find(size);
    if (found != plans.end()) return found->second;
    BoundPlan& bound = session.plan(Purpose::inference, size);
    const Graph& graph = bound.plan->graph();
    const size_t label_bytes = graph.value(graph.value_named(kLabelsValue)).type.bytes();
    return plans.emplace(size, PlanUse{&bound, label_bytes}).first->second;
  }

  template <typename Element>
  void predict(const Element* samples, int64_t count, float* outputs) {
    if (count < 0 || (count > 0 && (!samples || !outputs))) {
      throw ModelError("predict: expected count >= 0 and non-null buffers");
    }
    for (int64_t first = 0; first < count; first += batch) {
      const int64_t size = std::min(batch, count - first);
      PlanUse& use = plan(size);
      float* images = use.bound->images;
      const Element* from = samples + first * input_size;
      for (int64_t i = 0; i < size * input_size; ++i) images[i] = float(from[i]) * scale;
      std::memset(use.bound->labels, 0, use.label_bytes);
      use.bound->plan->run();
      for (int64_t r = 0; r < size; ++r) {
        reading.read(use.bound->prediction + r * output_size, outputs + (first + r) * output_size);
      }
    }
  }

  Session session;
  std::string name;
  std::vector<int64_t> input_shape;
  int64_t input_size = 0, output_size = 0;
  int64_t batch = 1;  // larger inputs run in batches of the config's batch size
  float scale = 1.f;
  OutputReading reading;
  std::vector<std::string> class_names;
  std::map<int64_t, PlanUse> plans;
};

Model::Model(std::unique_ptr<State> state) : state_(std::move(state)) {}
Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

Model Model::load(const std::string& file) {
  return guarded([&] {
    const SafetensorsFile model = SafetensorsFile::read(file);
    auto state = std::make_unique<State>(model_experiment(model));
    Session& session = state->session;
    session.load_weights(file);
    const Experiment& experiment = session.experiment();
    state->name = experiment.name;
    state->input_shape = experiment.model.input.shape;
    state->input_size = numel(experiment.model.input.shape);
    state->output_size = session.classes();
    state->batch = experiment.trainer.batch_size;
    state->scale = float(experiment.data.scale.value_or(1.0));
    state->reading = output_reading(experiment, state->output_size);
    state->class_names = session.class_names();
    state->plan(1);  // the one-sample plan, so a first prediction allocates nothing
    return Model(std::move(state));
  });
}

void Model::set_threads(int threads) {
  if (threads < 1) throw ModelError("set_threads: expected at least 1 thread");
  omp_set_num_threads(threads);
}

std::string Model::version() {
  return LOOM_VERSION;
}

const std::string& Model::name() const {
  return state_->name;
}
const std::vector<int64_t>& Model::input_shape() const {
  return state_->input_shape;
}
int64_t Model::input_size() const {
  return state_->input_size;
}
int64_t Model::output_size() const {
  return state_->output_size;
}

Model::Outputs Model::outputs() const {
  switch (state_->reading.kind) {
    case OutputKind::classes:
      return Outputs::class_probabilities;
    case OutputKind::probability:
      return Outputs::probability;
    case OutputKind::values:
      break;
  }
  return Outputs::values;
}

const std::vector<std::string>& Model::class_names() const {
  return state_->class_names;
}

std::string Model::class_name(int64_t index) const {
  const auto& names = state_->class_names;
  return index >= 0 && index < std::ssize(names) ? names[size_t(index)] : std::to_string(index);
}

void Model::predict(const float* samples, int64_t count, float* outputs) {
  guarded([&] { state_->predict(samples, count, outputs); });
}

void Model::predict(const uint8_t* samples, int64_t count, float* outputs) {
  guarded([&] { state_->predict(samples, count, outputs); });
}

std::vector<uint8_t> Model::read_image(const std::string& file) const {
  return guarded([&] {
    const SourceData image = read_images_to_predict(
        file,
        {.model_input = Shape(state_->input_shape), .targets_required = false, .where = file});
    if (image.features.count() != 1) throw ModelError(file + ": expected one image file");
    const std::span<const std::byte> pixels = image.features.sample(0);
    std::vector<uint8_t> sample(pixels.size());
    std::memcpy(sample.data(), pixels.data(), pixels.size());
    return sample;
  });
}

int64_t Model::predicted_class(const float* outputs) const {
  return state_->reading.predicted_class(outputs);
}

}  // namespace loom
