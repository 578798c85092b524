#pragma once
// Storage: one reference-counted, 64-byte-aligned block of memory that any
// number of tensors (a base and its views) share.
//
// Large blocks come from a cache: a training step allocates the same sizes
// every step, and a block freed by one step is handed to the next instead of
// going back to the operating system (which would zero fresh pages again on
// every first touch — page faults that cost as much as a LayerNorm pass).
// The cache keeps at most max_cached_bytes() of free blocks; empty_cache()
// returns them all. Blocks under 32 KB are kept per thread (at most 64 of
// each size and 16 MB in all, freed when the thread ends): small ops then
// rarely call malloc. Blocks of 2 MB and up sit on transparent huge pages
// (allocate_aligned, below). Under AddressSanitizer nothing is cached, so a read of a
// freed tensor is still caught.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace nl {

class Storage {
 public:
  // Allocates nbytes (uninitialized); throws nl::Error naming op if it can't.
  Storage(std::string_view op, size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  size_t capacity_ = 0;  // the block's real size (its size class)
};

// nbytes of uninitialized memory on a 64-byte boundary (a 2 MB one, on
// transparent huge pages where the OS has them, from 2 MB up); nullptr if
// there is none; std::free() releases it. Storage's blocks come from here.
void* allocate_aligned(size_t nbytes);

// Bytes held in free cached blocks now, and the most the cache keeps
// (NORMLAB_CACHE_MB, default 1024).
size_t cached_bytes();
size_t max_cached_bytes();
// Frees every cached block of 32 KB and up (like torch.cuda.empty_cache()); the
// per-thread small blocks stay until their thread ends.
void empty_cache();

}  // namespace nl
