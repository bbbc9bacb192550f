#pragma once
// An experiment file, validated, with every default filled in (Keras's where Keras has one).
// The model is always held in the explicit form: `layers:` sugar is expanded at load time
// into the same inputs, parameters and nodes an explicit `graph` section would write.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/config/config_node.hpp"
#include "engine/data/augmentation.hpp"
#include "engine/data/dataset_spec.hpp"
#include "engine/data/metrics.hpp"
#include "engine/data/targets.hpp"
#include "engine/graph/attributes.hpp"
#include "engine/graph/graph.hpp"
#include "engine/graph/initializer.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

struct DataSpec {
  DatasetSpec train;
  std::optional<DatasetSpec> validation;  // a separate validation set, or...
  double validation_split = 0.0;          // ...the last fraction of train, taken before shuffling
  std::optional<DatasetSpec> test;
  std::optional<double> scale;  // absent: default_scale (1/255 for uint8 images, else 1)
  // Seeded random augmentation of the training set's images (engine/data/augmentation.hpp).
  std::optional<AugmentationSpec> augmentation;
  std::string augmentation_where;
  // Keras's validation_split takes the last samples in file order; true takes them (and
  // K-fold's parts) from a seeded shuffle of the training set instead, for files sorted by
  // class or by date.
  bool shuffle_before_split = false;
};

struct InputSpec {
  std::string name;
  Shape shape;  // one sample's shape (the batch dimension is added when a graph is built)
  std::string where;
};

struct ParameterSpec {
  std::string name;
  Shape shape;
  Initializer initializer;
  bool trainable = true;
  double l2 = 0.0;  // an L2 penalty l2·Σw² added to the loss (Keras's kernel_regularizer)
  // A statistic of the training data (a normalization layer's), computed before training
  // per index along the sample's `adapt_axis`: engine/train/adapt.hpp.
  enum class Adapt { none, mean, variance, inverse_std } adapt = Adapt::none;
  int64_t adapt_axis = 0;
  std::string where;
};

struct NodeSpec {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  Attributes attributes;
  std::string where;
};

// An explicit graph's node count is bounded, so that an absurd config is one clear error
// rather than minutes of setup and gigabytes of memory (setup is linear in the nodes: a
// 100,000-node chain loads, plans and runs a step in seconds).
inline constexpr size_t kMaxGraphNodes = 1'000'000;

struct ModelSpec {
  InputSpec input;
  std::vector<ParameterSpec> parameters;
  std::vector<NodeSpec> nodes;  // in a valid topological order
  std::string output;           // the value the loss and the metrics read
  std::string output_where;
  // An imported model (`model: {onnx: FILE}`): the file, absolute, and its `freeze:` entries.
  // The resolved config names the file again rather than writing the graph out.
  std::filesystem::path onnx_file;
  std::vector<std::string> frozen;
};

struct LossSpec {
  std::string name;       // the loss op: categorical_crossentropy, huber, ...
  Attributes attributes;  // its options, e.g. huber's delta
  TargetFamily targets = TargetFamily::categorical;  // what its targets must be
  bool from_logits = false;  // the model's outputs are logits (metrics threshold sigmoids)
  std::string where;         // the options' config position: the loss op checks them at graph build
};

// Which way a monitored metric improves: "auto" means losses and errors fall, accuracies,
// the AUC, precision and recall rise.
struct MonitorSpec {
  std::string metric;  // loss, accuracy, val_loss, test_accuracy, ...
  std::string mode = "auto";
  std::string where;  // its config position, for messages about it
  bool maximize() const {
    if (mode != "auto") return mode == "max";
    // Keras's metric directions: accuracies, the AUC, precision and recall rise.
    for (const char* rising : {"accuracy", "auc", "precision", "recall"}) {
      if (metric.ends_with(rising)) return true;
    }
    return false;
  }
};

// Keras's EarlyStopping.
struct EarlyStoppingSpec {
  MonitorSpec monitor;
  int64_t patience = 0;
  double min_delta = 0.0;
  bool restore_best_weights = false;
};

// Checkpoints in the run directory: `last` after every epoch (and every `every_steps` steps
// when set), `best` when the monitored metric improves.
struct CheckpointSpec {
  int64_t every_steps = 0;
  MonitorSpec monitor;  // default: val_loss, else test_loss, else loss
};

// Keras's ReduceLROnPlateau callback, applied by the trainer as the optimizer's schedule
// (make_reduce_lr_on_plateau): its options, every default filled in.
struct ReduceLrOnPlateauSpec {
  Attributes options;
  std::string where;  // its config position, for messages about it
};

struct TrainerSpec {
  OptimizerSpec optimizer;
  LossSpec loss;
  std::vector<MetricSpec> metrics;
  int64_t batch_size = 32;
  std::string batch_size_where;  // for errors found once the data is read
  int64_t epochs = 1;
  bool shuffle = true;
  // A NaN or an infinity in the loss or a gradient: stop (Keras's TerminateOnNaN) or skip
  // the batch. check_numerics inspects every node's output after every step (slow).
  enum class OnNonFinite { stop, skip } on_nonfinite = OnNonFinite::stop;
  bool check_numerics = false;
  // Float32 subnormals read and written as zero on the kernels' threads, as TensorFlow (and
  // so Keras) does: arithmetic on them is tens of times slower on x86 (exec/denormals.hpp).
  bool flush_denormals = true;
  std::optional<EarlyStoppingSpec> early_stopping;
  std::optional<ReduceLrOnPlateauSpec> reduce_lr_on_plateau;
  CheckpointSpec checkpoint;
};

struct Experiment {
  std::string name;
  uint64_t seed = 42;
  std::filesystem::path source;
  std::vector<std::filesystem::path> plugins;  // loaded before the model was read
  DataSpec data;
  ModelSpec model;
  TrainerSpec trainer;
  YAML::Node resolved;  // the config with every default written out
  // The training graph at trainer.batch_size that loading built to check the shapes, kept
  // so that a run does not build it again (a graph is a pure function of the experiment, the
  // batch size and the purpose; engine/train/session.hpp caches the others).
  std::shared_ptr<const Graph> checked_training_graph;
};

// What a command reads: training reads every data file; evaluation and prediction read at
// most the set they evaluate, and may run where the training set is not; a model file's
// config (engine/train/model_file.hpp) describes data that need not exist where it is used.
enum class DataUse { training, inference, model };

// Loads and validates a config; `overrides` are "key.path=value" strings (--set).
// Data files must exist (for DataUse::inference, the training set's are only checked when
// read); their contents are checked when they are read.
Experiment load_experiment(const std::filesystem::path& file,
                           const std::vector<std::string>& overrides = {},
                           DataUse use = DataUse::training);
Experiment parse_experiment(const std::string& text, const std::string& label,
                            const std::filesystem::path& base_directory,
                            DataUse use = DataUse::training,
                            const std::vector<std::string>& overrides = {});

// An op attribute written in YAML, read as the kind the op declares.
AttributeValue read_attribute(const ConfigNode& node, AttributeKind kind);

// From the registries: the ops with the loss role, the metrics, and the ops with the
// activation role under Keras's names (plus `linear`, which is no op at all).
std::vector<std::string> known_losses();
// Keras's other spellings of losses (mse, bce, MeanSquaredError, ...), and the op each names
// (the name itself when it is not an alias).
std::vector<std::string> loss_aliases();
std::string loss_op(const std::string& loss);
std::vector<std::string> known_metrics();
std::vector<std::string> known_activations();
// The op a Keras activation name stands for ("exponential" is the exp op); empty for linear.
std::string activation_op(const std::string& activation);

}  // namespace loom
