#include "core/storage.h"

#include <cstdlib>
#include <new>

#include "core/error.h"

namespace nl {

Storage::Storage(std::string_view op, size_t nbytes) : nbytes_(nbytes) {
  constexpr size_t kAlign = 64;  // one cache line, and the widest SIMD register
  size_t rounded = (nbytes + kAlign - 1) / kAlign * kAlign;
  if (rounded == 0) rounded = kAlign;
  data_ = std::aligned_alloc(kAlign, rounded);
  if (!data_) fail("{}: cannot allocate {} bytes", op, nbytes);
}

Storage::~Storage() { std::free(data_); }

}  // namespace nl
