// A config whose model is an ONNX file: it trains like any model, its SGD steps are the
// textbook (and PyTorch's) w -= lr·∂L/∂w computed here in double, `freeze:` keeps weights
// fixed, and the trainer tool trains and evaluates it.

#include <gtest/gtest.h>

#include <cmath>

#include "engine/config/experiment.hpp"
#include "engine/train/progress.hpp"
#include "engine/train/trainer.hpp"
#include "tests/onnx/onnx_models.hpp"
#include "tests/support/npy_writer.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

constexpr int kSamples = 64, kFeatures = 6, kHidden = 8, kClasses = 3;

// Three classes by the sign pattern of two features, and an MLP for them as PyTorch exports
// one (written by onnx_models.cpp).
struct OnnxJob {
  TemporaryDirectory directory;
  std::vector<float> x;
  std::vector<int32_t> y;
  MlpWeights weights = random_mlp(kFeatures, kHidden, kClasses, 11);
  OnnxJob() {
    for (int i = 0; i < kSamples; ++i) {
      for (int f = 0; f < kFeatures; ++f) x.push_back(std::sin(float(i * 7 + f * 3)));
      y.push_back(x[size_t(i * 6)] > 0 ? (x[size_t(i * 6 + 1)] > 0 ? 2 : 1) : 0);
    }
    write_file(directory.file("x.npy"), npy_header("<f4", "(64, 6)") + bytes_of(x));
    write_file(directory.file("y.npy"), npy_header("<i4", "(64,)") + bytes_of(y));
    write_mlp(weights, directory.file("mlp.onnx"));
  }
  std::string config(const std::string& model_extra = "", int epochs = 1) const {
    return "seed: 3\n"
           "data: {train: {format: npy, features: x.npy, targets: y.npy}}\n"
           "model: {onnx: mlp.onnx" +
           model_extra +
           "}\n"
           "trainer: {optimizer: {sgd: {learning_rate: 0.5}}, loss: "
           "sparse_categorical_crossentropy, metrics: [accuracy], batch_size: 16, shuffle: false, "
           "epochs: " +
           std::to_string(epochs) + "}\n";
  }
  Experiment experiment(const std::string& model_extra = "", int epochs = 1) const {
    return parse_experiment(config(model_extra, epochs), "onnx.yaml", directory.path());
  }
};

// One SGD step of the MLP on rows [begin, begin + rows) in double: softmax crossentropy's
// gradient (p - onehot) / rows, back through Gemm (W stored [out, in], as PyTorch does).
void sgd_step(MlpWeights& w, const std::vector<float>& x, const std::vector<int32_t>& y, int begin,
              int rows, double lr) {
  std::vector<double> dw1(w.w1.size()), db1(w.b1.size()), dw2(w.w2.size()), db2(w.b2.size());
  for (int r = begin; r < begin + rows; ++r) {
    const std::vector<float> row(x.begin() + r * kFeatures, x.begin() + (r + 1) * kFeatures);
    std::vector<double> h(kHidden);
    for (int j = 0; j < kHidden; ++j) {
      double sum = w.b1[size_t(j)];
      for (int i = 0; i < kFeatures; ++i)
        sum += double(w.w1[size_t(j * kFeatures + i)]) * row[size_t(i)];
      h[size_t(j)] = std::max(sum, 0.0);
    }
    const std::vector<double> p = mlp_forward(w, row, 1);
    std::vector<double> dh(kHidden, 0.0);
    for (int c = 0; c < kClasses; ++c) {
      const double dz = (p[size_t(c)] - (y[size_t(r)] == c ? 1.0 : 0.0)) / rows;
      db2[size_t(c)] += dz;
      for (int j = 0; j < kHidden; ++j) {
        dw2[size_t(c * kHidden + j)] += dz * h[size_t(j)];
        dh[size_t(j)] += dz * w.w2[size_t(c * kHidden + j)];
      }
    }
    for (int j = 0; j < kHidden; ++j) {
      if (h[size_t(j)] <= 0.0) continue;
      db1[size_t(j)] += dh[size_t(j)];
      for (int i = 0; i < kFeatures; ++i)
        dw1[size_t(j * kFeatures + i)] += dh[size_t(j)] * row[size_t(i)];
    }
  }
  auto apply = [lr](std::vector<float>& values, const std::vector<double>& gradient) {
    for (size_t i = 0; i < values.size(); ++i) values[i] = float(values[i] - lr * gradient[i]);
  };
  apply(w.w1, dw1), apply(w.b1, db1), apply(w.w2, dw2), apply(w.b2, db2);
}

std::vector<float> values(Trainer& trainer, const std::string& name) {
  const auto span = trainer.parameters().at(name);
  return {span.begin(), span.end()};
}

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected,
                 const std::string& name) {
  ASSERT_EQ(actual.size(), expected.size()) << name;
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 2e-6) << name << "[" << i << "]";
  }
}

TEST(OnnxConfig, TrainsFromTheFilesWeightsWithPlainSgdSteps) {
  const OnnxJob job;
  Trainer trainer(job.experiment());
  EXPECT_EQ(values(trainer, "fc1.weight"), job.weights.w1);  // starts from the file's weights
  ASSERT_EQ(trainer.fit(*make_silent_reporter()), FitOutcome::finished);
  MlpWeights expected = job.weights;
  for (int step = 0; step < kSamples / 16; ++step)
    sgd_step(expected, job.x, job.y, step * 16, 16, 0.5);
  expect_near(values(trainer, "fc1.weight"), expected.w1, "fc1.weight");
  expect_near(values(trainer, "fc1.bias"), expected.b1, "fc1.bias");
  expect_near(values(trainer, "fc2.weight"), expected.w2, "fc2.weight");
  expect_near(values(trainer, "fc2.bias"), expected.b2, "fc2.bias");
}

TEST(OnnxConfig, FreezeKeepsTheNamedWeights) {
  const OnnxJob job;
  Trainer trainer(job.experiment(", freeze: [fc1.]"));
  ASSERT_EQ(trainer.fit(*make_silent_reporter()), FitOutcome::finished);
  EXPECT_EQ(values(trainer, "fc1.weight"), job.weights.w1);
  EXPECT_EQ(values(trainer, "fc1.bias"), job.weights.b1);
  EXPECT_NE(values(trainer, "fc2.weight"), job.weights.w2);
}

TEST(OnnxConfig, RefusesAFreezeEntryNamingNoWeight) {
  const OnnxJob job;
  expect_input_error([&] { job.experiment(", freeze: [fc3.]"); },
                     {"onnx.yaml:3", "'fc3.'", "fc1.weight, fc1.bias, fc2.weight, fc2.bias"});
}

TEST(OnnxConfig, TheResolvedConfigNamesTheFileAgain) {
  const OnnxJob job;
  const Experiment experiment = job.experiment(", freeze: [fc1.weight]");
  EXPECT_EQ(experiment.resolved["model"]["onnx"].as<std::string>(), job.directory.file("mlp.onnx"));
  EXPECT_EQ(experiment.resolved["model"]["freeze"][0].as<std::string>(), "fc1.weight");
}

TEST(OnnxConfig, RefusesABrokenModelFileAtItsConfigPosition) {
  const OnnxJob job;
  write_file(job.directory.file("mlp.onnx"), "not a protobuf at all");
  expect_input_error([&] { job.experiment(); }, {"onnx.yaml:3", "mlp.onnx", "not an ONNX model"});
}

TEST(OnnxConfig, TheTrainerToolTrainsAndEvaluatesIt) {
  const OnnxJob job;
  write_file(job.directory.file("job.yaml"), job.config("", 30));
  const auto trained = run_command(trainer_path() + " train " + job.directory.file("job.yaml") +
                                   " --out " + job.directory.file("run") + " --threads 1");
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const auto evaluated = run_command(trainer_path() + " evaluate " + job.directory.file("run") +
                                     " --data train" + " --threads 1");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  // The three sign-pattern classes are learnt (0.98 here; chance is 0.5 at best).
  const size_t at = evaluated.out.find("accuracy: ");
  ASSERT_NE(at, std::string::npos) << evaluated.out;
  EXPECT_GT(std::stod(evaluated.out.substr(at + 10)), 0.9) << evaluated.out;
}

}  // namespace
}  // namespace loom::testing
