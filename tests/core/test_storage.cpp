// Storage: aligned blocks, huge-page-sized blocks, and the cache of freed
// blocks (core/storage.h).
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "normlab.h"

namespace {
uintptr_t address(const void* p) { return reinterpret_cast<uintptr_t>(p); }
}  // namespace

TEST_CASE("allocate_aligned: 64-byte blocks below 2 MB, 2 MB-aligned ones from 2 MB, all writable", "[core][storage]") {
  for (size_t nbytes :
       {size_t(1), size_t(100), size_t(64) << 10, (size_t(2) << 20) - 64, size_t(2) << 20, (size_t(5) << 20) + 12}) {
    void* p = nl::allocate_aligned(nbytes);
    REQUIRE(p != nullptr);
    CHECK(address(p) % 64 == 0);
    if (nbytes >= (size_t(2) << 20)) CHECK(address(p) % (size_t(2) << 20) == 0);
    std::memset(p, 0x5a, nbytes);  // every byte is ours (AddressSanitizer checks it in that build)
    CHECK(static_cast<unsigned char*>(p)[nbytes - 1] == 0x5a);
    std::free(p);
  }
}

TEST_CASE("Storage: a large block freed is cached and handed to the next tensor of its size class", "[core][storage]") {
  nl::empty_cache();
  CHECK(nl::cached_bytes() == 0);
  const int64_t n = 3 << 20;  // 12 MB of float32: huge-page sized
  const void* first = nullptr;
  {
    nl::Tensor t = nl::zeros({n});
    first = t.data<float>();
    CHECK(address(first) % (size_t(2) << 20) == 0);
  }
  if (nl::max_cached_bytes() == 0) return;  // AddressSanitizer build: nothing is cached
  CHECK(nl::cached_bytes() >= size_t(n) * 4);
  nl::Tensor again = nl::full({n - 1000}, 1.0);  // a little smaller: the same size class
  CHECK(again.data<float>() == first);
  CHECK(again.to_vector<float>()[size_t(n) - 1001] == 1.0f);
  nl::empty_cache();
  CHECK(nl::cached_bytes() == 0);
}
