// libFuzzer harness for the safetensors reader (core/io/safetensors.h):
// load_safetensors and load_safetensors_metadata on arbitrary bytes either
// return or throw nl::Error. Both entry points run on every input, so a
// header the metadata reader accepts is also read in full.
#include <cstdint>

#include "core/io/safetensors.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const normlab_fuzz::InputFile file("safetensors");
  const std::string& path = file.write(data, size);
  NORMLAB_FUZZ_EXPECT_LOAD_OR_ERROR(nl::io::load_safetensors_metadata(path));
  NORMLAB_FUZZ_EXPECT_LOAD_OR_ERROR({
    nl::StateDict tensors = nl::io::load_safetensors(path);
    // Touch every element (in f64: an int64 sum may overflow), so a tensor whose storage is
    // smaller than its shape is an ASan report.
    for (auto& [name, t] : tensors) (void)t.to(nl::f64).sum();
  });
  return 0;
}
