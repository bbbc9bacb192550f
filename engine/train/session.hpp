#pragma once
// A model ready to run: the experiment, its parameters, the oneDNN runtime, and its graphs
// and plans, each built once per (purpose, batch size) and kept. Evaluation and prediction
// use a Session alone: they read no training data and compile no training plan. The
// training loop (trainer.hpp) runs its steps through the same Session.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/data/dataset.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/exec/parameter_store.hpp"
#include "engine/exec/plan.hpp"
#include "engine/exec/runtime.hpp"
#include "engine/graph/graph.hpp"

namespace loom {

// Training graphs have the backward pass and train-mode ops (dropout drops); inference
// graphs are the forward pass and the loss.
enum class Purpose { training, inference };

// A compiled plan with the addresses the loops touch, looked up once.
struct BoundPlan {
  std::unique_ptr<Plan> plan;
  int64_t batch = 0;
  float* images = nullptr;
  void* labels = nullptr;
  const float* loss = nullptr;
  const float* prediction = nullptr;
  // Training plans: in the order of Session::trainable_parameters() (clipping scales them).
  std::vector<float*> gradients;
  std::vector<size_t> gradient_writers;  // the node writing each of them last
};

// One batch of an inference pass, as the plan left it.
struct InferenceBatch {
  int64_t first = 0;                   // the position of its first sample in the pass
  std::span<const uint32_t> indices;   // its samples, in the data set
  const float* predictions = nullptr;  // [indices.size(), classes], row-major
  int64_t classes = 0;
  const void* labels = nullptr;  // the targets the plan was given (the data set's encoding)
  double loss = 0;               // the batch's mean loss (against the data set's labels)
};

class Session {
 public:
  explicit Session(Experiment experiment);

  const Experiment& experiment() const { return experiment_; }
  Runtime& runtime() { return runtime_; }
  const Runtime& runtime() const { return runtime_; }
  int64_t classes();  // the model output's last dimension
  // The class names the model was trained with (from the training set, or its checkpoint);
  // empty when its classes are numbered only.
  const std::vector<std::string>& class_names() const { return class_names_; }
  void set_class_names(std::vector<std::string> names) { class_names_ = std::move(names); }

  // Built on first request and kept; the training graph at the config's batch size is the
  // one loading built to check the shapes.
  const Graph& graph(Purpose purpose, int64_t batch);
  // Compiled on first request (from graph(purpose, batch)) and kept.
  BoundPlan& plan(Purpose purpose, int64_t batch);
  bool has_plan(Purpose purpose, int64_t batch) const { return plans_.contains({purpose, batch}); }

  // Created and initialized from the seed on first use (so a memory estimate can read the
  // graphs before anything large is allocated). Every graph holds the same parameters in
  // the same order, so which graph they come from does not change a value.
  ParameterStore& parameters();
  // The trainable parameters, in the order the optimizer and the plans' gradients use.
  const std::vector<std::string>& trainable_parameters();
  // Every parameter's weights from a checkpoint, each checked finite before any is copied
  // (a refused file leaves the weights as they were), and the class names it records.
  void load_weights(const std::filesystem::path& checkpoint);

  // Writes samples `indices` of `data` into the plan's input buffers.
  void load_batch(const BoundPlan& plan, const Dataset& data, std::span<const uint32_t> indices);

  // Runs samples [part.begin, part.end) of `data` through the inference plans in batches of
  // the config's batch size (a last one smaller), handing each batch to `consume`.
  void infer(const Dataset& data, Shard part,
             const std::function<void(const InferenceBatch&)>& consume);
  // Compiles the inference plans such a pass will use, ahead of it.
  void prepare_inference(int64_t samples);

 private:
  using Key = std::pair<Purpose, int64_t>;
  BoundPlan bind(const Graph& graph, int64_t batch);
  void bind_gradients(BoundPlan& bound);

  Experiment experiment_;
  Runtime runtime_;
  std::map<Key, std::shared_ptr<const Graph>> graphs_;
  std::map<Key, BoundPlan> plans_;  // std::map: references stay valid as plans are added
  ParameterStore parameters_;
  bool parameters_ready_ = false;
  int64_t classes_ = 0;  // 0 until first asked
  std::vector<std::string> class_names_;
  std::vector<std::string> trainable_;
};

}  // namespace loom
