#pragma once
// Files written so that a crash never leaves a half-written one behind, and
// files read with their size checked before any allocation.
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace nl::io {

// Writes `path` atomically: `write` fills a temporary file in the same
// directory, which is flushed, fsync'ed and renamed over `path` (rename is
// atomic on POSIX), then the directory is fsync'ed. If anything fails or
// `write` throws, the temporary is removed and `path` keeps its old content.
void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write);
// The same with the whole content given: writes `contents` to `path` atomically.
void write_file_atomically(const std::string& path, const std::string& contents);

// Creates dir and its parents when missing (an error names dir and the reason); returns dir.
std::string create_directories(const std::string& dir);

// A file opened for reading untrusted data: every read is checked against
// the file's size first, so a lying header can never make us read past the
// end or allocate more than the file holds. Errors name op and path.
class InputFile {
 public:
  InputFile(const std::string& path, const char* op);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  // Reads n bytes at offset into dst; an error if [offset, offset + n) is not inside the file.
  void read(uint64_t offset, uint64_t n, void* dst, const char* what) const;
  // Throws nl::Error "<op>: <path>: <message>".
  [[noreturn]] void fail_with(const std::string& message) const;

 private:
  std::string path_;
  const char* op_;
  std::FILE* file_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace nl::io
