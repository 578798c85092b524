#include "train/checkpoint_dir.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>

#include "core/io/atomic_file.h"

namespace nl::train {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kPrefix = "step_", kSuffix = ".safetensors";

// The step of a file named step_<N>.safetensors (N decimal digits); -1 for any other name.
int64_t step_of(const std::string& name) {
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return -1;
  std::string_view digits(name.data() + kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  int64_t step = -1;
  auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), step);
  if (digits.empty() || error != std::errc() || end != digits.data() + digits.size() || !std::isdigit(digits[0]))
    return -1;
  return step;
}

// What write_file_atomically names its temporaries: <path>.tmp.<pid>.<n>.
bool is_leftover_temporary(const std::string& name) {
  size_t at = name.find(std::string(kSuffix) + ".tmp.");
  return at != std::string::npos && step_of(name.substr(0, at + kSuffix.size())) >= 0;
}
}  // namespace

CheckpointDir::CheckpointDir(std::string dir, int64_t keep) : dir_(std::move(dir)), keep_(keep) {
  if (keep_ < 1) fail("CheckpointDir: {}: keep must be at least 1, not {}", dir_, keep_);
}

std::string CheckpointDir::path(int64_t step) const {
  return (fs::path(dir_) / fmt::format("step_{}.safetensors", step)).string();
}

std::vector<CheckpointDir::Entry> CheckpointDir::list() const {
  std::vector<Entry> entries;
  if (!fs::exists(dir_)) return entries;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec))
    if (int64_t step = step_of(e.path().filename().string()); step >= 0 && e.is_regular_file())
      entries.push_back({step, e.path().string()});
  if (ec) fail("checkpoints: cannot list {}: {}", dir_, ec.message());
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.step < b.step; });
  return entries;
}

std::string CheckpointDir::save(int64_t step, const layers::Module& model, const optim::Optimizer* optimizer,
                                const optim::LRScheduler* scheduler, const io::Metadata& metadata) {
  io::create_directories(dir_);
  std::string written = path(step);
  save_checkpoint(written, model, optimizer, scheduler, step, metadata);
  std::vector<Entry> entries = list();
  for (size_t i = 0; i + size_t(keep_) < entries.size(); ++i) fs::remove(entries[i].path);
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(dir_, ec))
    if (is_leftover_temporary(e.path().filename().string())) fs::remove(e.path(), ec);
  return written;
}

CheckpointFile CheckpointDir::newest_valid(const io::Metadata& expected) const {
  std::vector<Entry> entries = list();
  if (entries.empty()) fail("resume: nothing to resume in {}: it holds no step_<N>.safetensors checkpoint", dir_);
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    CheckpointFile file;
    try {
      file = read_checkpoint(it->path);
    } catch (const Error& e) {
      fmt::print(stderr, "warning: skipping checkpoint {}: it does not read back: {}\n", it->path, e.what());
      continue;
    }
    require_same_run(file, expected);
    return file;
  }
  fail("resume: nothing to resume in {}: none of its {} checkpoints reads back (warnings above)", dir_, entries.size());
}

void require_same_run(const CheckpointFile& file, const io::Metadata& expected) {
  std::string differences;
  for (const auto& [key, value] : expected) {
    auto it = file.metadata.find(key);
    std::string found = it == file.metadata.end() ? "missing" : fmt::format("\"{}\"", it->second);
    if (it == file.metadata.end() || it->second != value)
      differences += fmt::format("\n  {}: {} in the checkpoint, \"{}\" in this run", key, found, value);
  }
  if (!differences.empty())
    fail("resume: {} is a checkpoint of a different run; it differs in{}", file.path, differences);
}

}  // namespace nl::train
