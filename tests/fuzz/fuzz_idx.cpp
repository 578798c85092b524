// libFuzzer harness for the IDX reader (data/idx.h), plain and gzip: read_idx
// on arbitrary bytes either returns an array whose data matches its dims or
// throws nl::Error. The gzip path is chosen by the input's first two bytes
// (0x1f 0x8b), so the seed corpus holds both kinds.
#include <cstdint>
#include <cstdlib>

#include "data/idx.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const normlab_fuzz::InputFile file("idx");
  const std::string& path = file.write(data, size);
  NORMLAB_FUZZ_EXPECT_LOAD_OR_ERROR({
    nl::data::IdxArray a = nl::data::read_idx(path);
    uint64_t count = 1;
    for (int64_t d : a.dims) count *= uint64_t(d);
    if (a.dims.empty() || count != a.data.size()) std::abort();  // read_idx promises prod(dims) bytes
  });
  return 0;
}
