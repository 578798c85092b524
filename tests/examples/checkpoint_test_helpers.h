#pragma once
// What the checkpoint tests of the training programs look at
// (tests/examples/test_{lm,mlp}_checkpoints.cpp, test_disk_full.cpp and
// tests/dist/examples/test_dist_lm_checkpoints.cpp): the newest checkpoint in
// a directory, a write's leftover temporary file, and two checkpoints that
// must hold the same tensors bit for bit.
#include <fmt/format.h>
#include <sys/types.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "normlab.h"

namespace nl_test {

// The newest step_<N>.safetensors in dir (-1: none, or no such directory).
inline int64_t newest_step(const std::filesystem::path& dir) {
  int64_t newest = -1;
  for (auto& entry : nl::train::CheckpointDir(dir.string()).list()) newest = std::max(newest, entry.step);
  return newest;
}

// Whether dir holds a temporary file of a checkpoint write, one of `writer`'s
// when given (its name has the writer's pid: core/io/atomic_file.cpp).
inline bool has_temporary(const std::filesystem::path& dir, pid_t writer = 0) {
  std::string part = writer ? fmt::format(".tmp.{}.", writer) : ".tmp.";
  std::error_code ec;
  for (auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().filename().string().find(part) != std::string::npos) return true;
  return false;
}

// Both files hold the same tensors, byte for byte.
inline void require_same_tensors(const std::filesystem::path& a, const std::filesystem::path& b) {
  nl::StateDict ta = nl::io::load_safetensors(a.string()), tb = nl::io::load_safetensors(b.string());
  REQUIRE(ta.size() == tb.size());
  for (auto& [name, tensor] : ta) {
    INFO(name);
    REQUIRE(tb.count(name));
    CHECK(tensor.to_vector<double>() == tb.at(name).to_vector<double>());
  }
}

}  // namespace nl_test
