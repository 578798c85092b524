#include "core/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "core/error.h"

namespace nl::io {

namespace {
std::atomic<uint64_t> temp_counter{0};

void fsync_directory_of(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: the rename itself already happened
  ::fsync(fd);
  ::close(fd);
}

// Test-only: NORMLAB_TEST_ATOMIC_WRITE_DELAY_MS=<ms> sleeps between writing
// the temporary file and renaming it into place, so that a test can kill the
// process in the middle of a write (tests/examples/test_lm_checkpoints.cpp) and
// check that the old file survives and the leftover temporary is harmless.
void test_delay_before_rename() {
  static const long ms = [] {
    const char* value = std::getenv("NORMLAB_TEST_ATOMIC_WRITE_DELAY_MS");
    return value ? std::strtol(value, nullptr, 10) : 0L;
  }();
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}
}  // namespace

void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write) {
  std::string temp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(temp_counter++);
  std::FILE* f = std::fopen(temp.c_str(), "wb");
  if (!f) fail("write {}: cannot create {}: {}", path, temp, std::strerror(errno));
  auto abandon = [&] {
    if (f) std::fclose(f);
    std::remove(temp.c_str());
  };
  try {
    write(f);
    if (std::fflush(f) != 0 || std::ferror(f))
      fail("write {}: writing {} failed: {}", path, temp, std::strerror(errno));
    if (::fsync(::fileno(f)) != 0) fail("write {}: fsync failed: {}", path, std::strerror(errno));
    int closed = std::fclose(f);
    f = nullptr;
    if (closed != 0) fail("write {}: closing {} failed: {}", path, temp, std::strerror(errno));
    test_delay_before_rename();
    if (std::rename(temp.c_str(), path.c_str()) != 0)
      fail("write {}: renaming {} into place failed: {}", path, temp, std::strerror(errno));
  } catch (...) {
    abandon();
    throw;
  }
  fsync_directory_of(path);
}

std::string create_directories(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("cannot create {}: {}", dir, ec.message());
  return dir;
}

void write_file_atomically(const std::string& path, const std::string& contents) {
  write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(contents.data(), 1, contents.size(), f) != contents.size())
      fail("write {}: cannot write {} bytes: {}", path, contents.size(), std::strerror(errno));
  });
}

InputFile::InputFile(const std::string& path, const char* op) : path_(path), op_(op) {
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) fail("{}: {}: cannot open: {}", op, path, std::strerror(errno));
  long size = -1;
  if (std::fseek(file_, 0, SEEK_END) == 0) size = std::ftell(file_);
  if (size < 0) {
    std::fclose(file_);
    fail("{}: {}: not a regular, seekable file", op, path);
  }
  size_ = uint64_t(size);
}

InputFile::~InputFile() {
  if (file_) std::fclose(file_);
}

void InputFile::fail_with(const std::string& message) const { fail("{}: {}: {}", op_, path_, message); }

void InputFile::read(uint64_t offset, uint64_t n, void* dst, const char* what) const {
  if (offset > size_ || n > size_ - offset)
    fail_with(fmt::format("{} at bytes [{}, {}) lies outside the file of {} bytes", what, offset, offset + n, size_));
  if (n == 0) return;
  if (std::fseek(file_, long(offset), SEEK_SET) != 0 || std::fread(dst, 1, size_t(n), file_) != size_t(n))
    fail_with(fmt::format("reading {} failed", what));
}

}  // namespace nl::io
