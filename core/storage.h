#pragma once
// Storage: one reference-counted, 64-byte-aligned block of memory that any
// number of tensors (a base and its views) share.
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
};

}  // namespace nl
