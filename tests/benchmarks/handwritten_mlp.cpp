// The yardstick for the engine's MLP step: the book model (Dense(512, relu) -> Dense(10,
// softmax), rmsprop, categorical crossentropy, batch 32) trained on Fashion-MNIST by a loop
// written by hand straight on oneDNN, as a careful user of oneDNN's examples would write it:
// inner-product primitives in plain layouts, the relu fused into the first layer as a post-op,
// the bias gradients from the weight-gradient primitives, oneDNN's softmax, the loss gradient
// and RMSprop (Keras's formula) as OpenMP loops. Only reading the idx files and
// flushing subnormals use the engine.
//
//   build/tests/handwritten_mlp [--epochs 3] [--batch 32] [--keep-denormals]
//                               [--data /usr/share/datasets/fashion-mnist]
//
// Threads follow OMP_NUM_THREADS. Subnormals are flushed (as `trainer train` does by default)
// unless --keep-denormals. Prints samples/s for each epoch (gather, step and update timed
// together, as the trainer's history.csv times an epoch) and their median.

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "dnnl.hpp"
#include "engine/data/idx.hpp"
#include "engine/exec/denormals.hpp"

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;
constexpr int64_t kInputs = 784, kHidden = 512, kClasses = 10;

struct Options {
  int epochs = 3;
  int64_t batch = 32;
  bool keep_denormals = false;
  std::string data = "/usr/share/datasets/fashion-mnist";
};

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--epochs" && has_value) {
      options.epochs = std::stoi(argv[++i]);
    } else if (arg == "--batch" && has_value) {
      options.batch = std::stoll(argv[++i]);
    } else if (arg == "--data" && has_value) {
      options.data = argv[++i];
    } else if (arg == "--keep-denormals") {
      options.keep_denormals = true;
    } else {
      std::fprintf(stderr, "usage: %s [--epochs N] [--batch N] [--keep-denormals] [--data DIR]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return options;
}

// Glorot-uniform weights and zero biases, as Keras's Dense.
struct Layer {
  std::vector<float> weights, bias, weight_gradient, bias_gradient, weight_velocity, bias_velocity;
  Layer(int64_t inputs, int64_t outputs, std::mt19937& random)
      : weights(size_t(inputs * outputs)),
        bias(size_t(outputs), 0.f),
        weight_gradient(weights.size()),
        bias_gradient(bias.size()),
        weight_velocity(weights.size(), 0.f),
        bias_velocity(bias.size(), 0.f) {
    const float limit = std::sqrt(6.f / float(inputs + outputs));
    std::uniform_real_distribution<float> uniform(-limit, limit);
    for (float& w : weights) w = uniform(random);
  }
};

void rmsprop(std::vector<float>& weights, const std::vector<float>& gradient,
             std::vector<float>& velocity) {
  const float rate = 0.001f, rho = 0.9f, keep = float(1.0 - 0.9), epsilon = 1e-7f;
  float* w = weights.data();
  const float* g = gradient.data();
  float* v = velocity.data();
  const auto size = int64_t(weights.size());
#pragma omp parallel for simd if (size > 32768)
  for (int64_t i = 0; i < size; ++i) {
    v[i] = rho * v[i] + keep * (g[i] * g[i]);
    w[i] -= rate * g[i] / std::sqrt(v[i] + epsilon);
  }
}

class Mlp {
 public:
  Mlp(int64_t batch, std::mt19937& random)
      : batch_(batch),
        stream_(engine_),
        first_(kInputs, kHidden, random),
        second_(kHidden, kClasses, random) {
    const memory::desc x({batch, kInputs}, f32, Tag::nc), h({batch, kHidden}, f32, Tag::nc),
        z({batch, kClasses}, f32, Tag::nc), w1({kHidden, kInputs}, f32, Tag::oi),
        b1({kHidden}, f32, Tag::x), w2({kClasses, kHidden}, f32, Tag::oi),
        b2({kClasses}, f32, Tag::x);
    dnnl::post_ops relu;
    relu.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    dnnl::primitive_attr with_relu;
    with_relu.set_post_ops(relu);
    const auto training = dnnl::prop_kind::forward_training;
    const dnnl::inner_product_forward::primitive_desc fc1({training, x, w1, b1, h}, with_relu,
                                                          engine_);
    const dnnl::inner_product_forward::primitive_desc fc2({training, h, w2, b2, z}, engine_);
    const dnnl::softmax_forward::primitive_desc softmax({training, z, 1}, engine_);
    const dnnl::eltwise_forward::primitive_desc relu_hint(
        {training, dnnl::algorithm::eltwise_relu_use_dst_for_bwd, h, 0.f, 0.f}, engine_);
    fc1_ = dnnl::inner_product_forward(fc1);
    fc2_ = dnnl::inner_product_forward(fc2);
    softmax_ = dnnl::softmax_forward(softmax);
    fc2_data_ = dnnl::inner_product_backward_data(
        dnnl::inner_product_backward_data::primitive_desc({h, w2, z}, engine_, fc2));
    fc2_weights_ = dnnl::inner_product_backward_weights(
        dnnl::inner_product_backward_weights::primitive_desc({h, w2, b2, z}, engine_, fc2));
    relu_backward_ = dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(
        {dnnl::algorithm::eltwise_relu_use_dst_for_bwd, h, h, 0.f, 0.f}, engine_, relu_hint));
    fc1_weights_ = dnnl::inner_product_backward_weights(
        dnnl::inner_product_backward_weights::primitive_desc({x, w1, b1, h}, engine_, fc1));
    auto wrap = [&](const memory::desc& desc, float* data) { return memory(desc, engine_, data); };
    input_ = memory(x, engine_);
    hidden_ = memory(h, engine_);
    hidden_gradient_ = memory(h, engine_);
    logits_ = memory(z, engine_);
    probabilities_ = memory(z, engine_);
    logit_gradient_ = memory(z, engine_);
    w1_ = wrap(w1, first_.weights.data());
    b1_ = wrap(b1, first_.bias.data());
    dw1_ = wrap(w1, first_.weight_gradient.data());
    db1_ = wrap(b1, first_.bias_gradient.data());
    w2_ = wrap(w2, second_.weights.data());
    b2_ = wrap(b2, second_.bias.data());
    dw2_ = wrap(w2, second_.weight_gradient.data());
    db2_ = wrap(b2, second_.bias_gradient.data());
  }

  float* input() { return static_cast<float*>(input_.get_data_handle()); }

  // One training step on the batch in input(): returns the batch's mean loss.
  float step(const uint8_t* labels) {
    fc1_.execute(stream_, {{DNNL_ARG_SRC, input_},
                           {DNNL_ARG_WEIGHTS, w1_},
                           {DNNL_ARG_BIAS, b1_},
                           {DNNL_ARG_DST, hidden_}});
    fc2_.execute(stream_, {{DNNL_ARG_SRC, hidden_},
                           {DNNL_ARG_WEIGHTS, w2_},
                           {DNNL_ARG_BIAS, b2_},
                           {DNNL_ARG_DST, logits_}});
    softmax_.execute(stream_, {{DNNL_ARG_SRC, logits_}, {DNNL_ARG_DST, probabilities_}});
    const float loss = crossentropy_gradient(labels);
    fc2_data_.execute(stream_, {{DNNL_ARG_DIFF_DST, logit_gradient_},
                                {DNNL_ARG_WEIGHTS, w2_},
                                {DNNL_ARG_DIFF_SRC, hidden_gradient_}});
    fc2_weights_.execute(stream_, {{DNNL_ARG_SRC, hidden_},
                                   {DNNL_ARG_DIFF_DST, logit_gradient_},
                                   {DNNL_ARG_DIFF_WEIGHTS, dw2_},
                                   {DNNL_ARG_DIFF_BIAS, db2_}});
    relu_backward_.execute(stream_, {{DNNL_ARG_DST, hidden_},
                                     {DNNL_ARG_DIFF_DST, hidden_gradient_},
                                     {DNNL_ARG_DIFF_SRC, hidden_gradient_}});
    fc1_weights_.execute(stream_, {{DNNL_ARG_SRC, input_},
                                   {DNNL_ARG_DIFF_DST, hidden_gradient_},
                                   {DNNL_ARG_DIFF_WEIGHTS, dw1_},
                                   {DNNL_ARG_DIFF_BIAS, db1_}});
    stream_.wait();
    for (Layer* layer : {&first_, &second_}) {
      rmsprop(layer->weights, layer->weight_gradient, layer->weight_velocity);
      rmsprop(layer->bias, layer->bias_gradient, layer->bias_velocity);
    }
    return loss;
  }

 private:
  // Softmax followed by crossentropy: the logits' gradient is (p - onehot) / batch.
  float crossentropy_gradient(const uint8_t* labels) {
    const auto* p = static_cast<const float*>(probabilities_.get_data_handle());
    auto* gradient = static_cast<float*>(logit_gradient_.get_data_handle());
    float loss = 0.f;
    for (int64_t r = 0; r < batch_; ++r) {
      for (int64_t c = 0; c < kClasses; ++c) {
        const float target = c == labels[r] ? 1.f : 0.f;
        gradient[r * kClasses + c] = (p[r * kClasses + c] - target) / float(batch_);
      }
      loss -= std::log(std::max(p[r * kClasses + labels[r]], 1e-7f));
    }
    return loss / float(batch_);
  }

  int64_t batch_;
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_;
  Layer first_, second_;
  dnnl::primitive fc1_, fc2_, softmax_, fc2_data_, fc2_weights_, relu_backward_, fc1_weights_;
  memory input_, hidden_, hidden_gradient_, logits_, probabilities_, logit_gradient_;
  memory w1_, b1_, dw1_, db1_, w2_, b2_, dw2_, db2_;
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  loom::set_flush_denormals(!options.keep_denormals);
  const loom::IdxArray images = loom::read_idx(options.data + "/train-images-idx3-ubyte.gz");
  const loom::IdxArray labels = loom::read_idx(options.data + "/train-labels-idx1-ubyte.gz");
  const int64_t samples = images.dims[0];
  std::mt19937 random(42);
  Mlp mlp(options.batch, random);
  std::vector<uint32_t> order(static_cast<size_t>(samples));
  std::iota(order.begin(), order.end(), 0u);
  std::vector<uint8_t> batch_labels(size_t(options.batch));
  std::vector<double> rates;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), random);
    const auto start = std::chrono::steady_clock::now();
    double loss = 0;
    const int64_t steps = samples / options.batch;
    for (int64_t s = 0; s < steps; ++s) {
      float* input = mlp.input();
      for (int64_t r = 0; r < options.batch; ++r) {
        const uint32_t row = order[size_t(s * options.batch + r)];
        const uint8_t* pixels = images.data.data() + int64_t(row) * kInputs;
        for (int64_t i = 0; i < kInputs; ++i) input[r * kInputs + i] = float(pixels[i]) / 255.f;
        batch_labels[size_t(r)] = labels.data[row];
      }
      loss += mlp.step(batch_labels.data());
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(double(steps * options.batch) / seconds);
    std::printf("epoch %d: %.0f samples/s, loss %.4f\n", epoch, rates.back(), loss / double(steps));
  }
  std::sort(rates.begin(), rates.end());
  std::printf("hand-written oneDNN MLP, batch %lld, %d threads%s: median %.0f samples/s\n",
              static_cast<long long>(options.batch), omp_get_max_threads(),
              options.keep_denormals ? ", subnormals kept" : "", rates[rates.size() / 2]);
}
