// libFuzzer harness for the .npy reader (core/io/npy.h): load_npy on
// arbitrary bytes either returns a tensor or throws nl::Error.
#include <cstdint>

#include "core/io/npy.h"
#include "core/ops.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const normlab_fuzz::InputFile file("npy");
  const std::string& path = file.write(data, size);
  NORMLAB_FUZZ_EXPECT_LOAD_OR_ERROR({
    nl::Tensor t = nl::io::load_npy(path);
    (void)t.to(nl::f64).sum();  // every element is readable (in f64: an int64 sum may overflow)
  });
  return 0;
}
