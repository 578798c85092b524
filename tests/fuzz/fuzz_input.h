#pragma once
// Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.cpp): normlab's readers
// take a path, so each input is written to one temporary file per process,
// reused for every input, and removed when the process exits.
//
// The contract every harness asserts: a reader either returns or throws
// nl::Error. NORMLAB_FUZZ_EXPECT_LOAD_OR_ERROR catches exactly nl::Error;
// any other exception escapes LLVMFuzzerTestOneInput, std::terminate aborts,
// and libFuzzer records the input as a crash, as it does a sanitizer report.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/error.h"

namespace normlab_fuzz {

// /dev/shm when it exists (a write is a memcpy, not disk I/O), else $TMPDIR or /tmp.
inline std::string temp_dir() {
  if (access("/dev/shm", W_OK) == 0) return "/dev/shm";
  const char* tmp = std::getenv("TMPDIR");
  return tmp && *tmp ? tmp : "/tmp";
}

class InputFile {
 public:
  explicit InputFile(const char* name)
      : path_(temp_dir() + "/normlab-fuzz-" + name + "-" + std::to_string(getpid()) + suffix(name)) {}
  ~InputFile() { std::remove(path_.c_str()); }

  // Replaces the file's content with the input; returns its path.
  const std::string& write(const uint8_t* data, size_t size) const {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (!f) std::abort();  // the harness's own failure, not a finding in normlab
    if (size && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    return path_;
  }

 private:
  // Some readers look at the extension; none should care, so give the usual one.
  static std::string suffix(const std::string& name) {
    if (name == "safetensors" || name == "checkpoint") return ".safetensors";
    if (name == "npy") return ".npy";
    if (name == "idx") return ".idx";
    return ".txt";
  }
  std::string path_;
};

}  // namespace normlab_fuzz

#define NORMLAB_FUZZ_EXPECT_LOAD_OR_ERROR(...) \
  do {                                         \
    try {                                      \
      __VA_ARGS__;                             \
    } catch (const nl::Error&) {               \
    }                                          \
  } while (0)
