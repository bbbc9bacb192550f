// Classifies with a model that `trainer export` wrote: an image (.png, .jpg), or each row of
// a CSV file of numbers (the model's input values, no header). Prints index,predicted,p.
//   classify model.loom photo.png
//   classify model.loom rows.csv
#include <cstdio>
#include <fstream>
#include <loom/model.hpp>
#include <sstream>
#include <string>
#include <vector>

int main(int argc, char** argv) try {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL (IMAGE | CSV)\n", argv[0]);
    return 2;
  }
  loom::Model model = loom::Model::load(argv[1]);
  const std::string input = argv[2];
  std::vector<float> outputs(size_t(model.output_size()));
  auto report = [&](int64_t index) {
    const int64_t predicted = model.predicted_class(outputs.data());
    const float p = model.output_size() == 1 ? outputs[0] : outputs[size_t(predicted)];
    std::printf("%lld,%s,%.6g\n", static_cast<long long>(index),
                model.class_name(predicted).c_str(), p);
  };
  if (input.ends_with(".csv")) {
    std::ifstream rows(input);
    int64_t index = 0;
    for (std::string line; std::getline(rows, line); ++index) {
      std::vector<float> sample;
      std::stringstream cells(line);
      for (std::string cell; std::getline(cells, cell, ',');) sample.push_back(std::stof(cell));
      if (std::ssize(sample) != model.input_size()) throw loom::ModelError(input + ": row width");
      model.predict(sample.data(), 1, outputs.data());
      report(index);
    }
  } else {
    model.predict(model.read_image(input).data(), 1, outputs.data());
    report(0);
  }
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "error: %s\n", error.what());
  return 1;
}
