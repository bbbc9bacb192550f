// to_json(BenchReport): the figures `trainer bench --json` writes, under the names scripts
// read, with the layouts as a word and every node's timing.

#include "engine/train/bench_json.hpp"

#include <gtest/gtest.h>

#include <string>

namespace loom {
namespace {

BenchReport small_report() {
  BenchReport report;
  report.batch = 64;
  report.threads = 2;
  report.arena_bytes = 1234;
  report.negotiated_layouts = false;
  report.cpu = "Test CPU";
  report.cpu_isa = "avx2";
  report.nodes.push_back({.name = "dense1",
                          .op = "matmul",
                          .milliseconds = 0.5,
                          .flops = 4096,
                          .implementation = "brg:avx2"});
  report.nodes.push_back({.name = "dense1_grad", .op = "matmul", .backward = true});
  return report;
}

TEST(BenchJson, NamesEveryFigure) {
  const std::string text = to_json(small_report());
  for (const char* key : {"batch",
                          "threads",
                          "repetitions",
                          "train_samples_per_second",
                          "train_samples_per_second_min",
                          "train_samples_per_second_max",
                          "inference_samples_per_second",
                          "step_milliseconds",
                          "data_milliseconds",
                          "graph_milliseconds",
                          "allreduce_milliseconds",
                          "optimizer_milliseconds",
                          "ranks",
                          "cpu",
                          "cpu_isa",
                          "step_flops",
                          "achieved_gflops",
                          "peak_gflops",
                          "arena_bytes",
                          "unplanned_bytes",
                          "plan_bytes",
                          "scratchpad_bytes",
                          "parameter_bytes",
                          "optimizer_state_bytes",
                          "peak_rss_bytes",
                          "layouts",
                          "training_reorders",
                          "inference_reorders",
                          "nodes"}) {
    EXPECT_NE(text.find("\"" + std::string(key) + "\":"), std::string::npos) << key;
  }
  EXPECT_NE(text.find("\"batch\": 64"), std::string::npos) << text;
  EXPECT_NE(text.find("\"arena_bytes\": 1234"), std::string::npos) << text;
  EXPECT_NE(text.find("\"layouts\": \"plain\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"cpu_isa\": \"avx2\""), std::string::npos) << text;
}

TEST(BenchJson, ListsEachNodeInOrder) {
  const std::string text = to_json(small_report());
  const size_t first = text.find("\"name\": \"dense1\"");
  const size_t second = text.find("\"name\": \"dense1_grad\"");
  ASSERT_NE(first, std::string::npos) << text;
  ASSERT_NE(second, std::string::npos) << text;
  EXPECT_LT(first, second);
  EXPECT_NE(text.find("\"backward\": true"), std::string::npos);
  EXPECT_NE(text.find("\"flops\": 4096"), std::string::npos);
  EXPECT_NE(text.find("\"implementation\": \"brg:avx2\""), std::string::npos) << text;
}

TEST(BenchJson, IsIndentedAndEndsInANewline) {
  const std::string text = to_json(small_report());
  EXPECT_TRUE(text.starts_with("{\n  \"")) << text;
  EXPECT_TRUE(text.ends_with("}\n")) << text;
}

}  // namespace
}  // namespace loom
