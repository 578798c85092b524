#include "train/run_checkpoints.h"

#include <fmt/format.h>

#include <cstdio>
#include <filesystem>

namespace nl::train {

RunCheckpoints::RunCheckpoints(const CheckpointOptions& options, const std::function<io::Metadata()>& identity,
                               int64_t steps)
    : options_(options), steps_(steps) {
  if (options_.dir.empty()) return;
  identity_ = identity();
  dir_.emplace(options_.dir, options_.keep);
  interrupt_.emplace();
}

namespace {

// Starting afresh in a directory that already holds checkpoints would mix two runs.
void refuse_used_directory(const CheckpointDir& dir) {
  if (auto entries = dir.list(); !entries.empty())
    fail(
        "{} already holds checkpoints (the newest: {}); add --resume to continue that run, or choose another "
        "--checkpoint-dir",
        dir.dir(), entries.back().path);
}

}  // namespace

std::optional<CheckpointFile> RunCheckpoints::start() const {
  if (!dir_) return std::nullopt;
  if (!options_.resume) {
    refuse_used_directory(*dir_);
    return std::nullopt;
  }
  CheckpointFile file = dir_->newest_valid(identity_);
  // require_same_run compares the entries of this run's identity; a job's
  // "processes" is one only under --distributed, so a single process checks it here
  if (auto p = file.metadata.find("processes"); p != file.metadata.end() && !identity_.count("processes"))
    fail(
        "resume: {} is a checkpoint of a --distributed run of {} processes: resume it with --distributed under "
        "mpirun -np {}",
        file.path, p->second, p->second);
  int64_t step = state_scalar(file.tensors, "step", i64, "resume: " + file.path).item<int64_t>();
  fmt::print(stderr, "resuming from {} (step {} of {})\n", file.path, step, steps_);
  return file;
}

void RunCheckpoints::after_step(int64_t step, const layers::Module& model, const optim::Optimizer* optimizer,
                                const optim::LRScheduler* scheduler, const std::function<io::Metadata()>& log) {
  if (!dir_) return;
  int signal = this->signal();
  if (!due(step, signal)) return;
  std::string path = save(step, model, optimizer, scheduler, log());
  if (signal != 0) throw interrupted(signal, step, path);
}

int RunCheckpoints::signal() const { return interrupt_ ? interrupt_->signal() : 0; }

bool RunCheckpoints::due(int64_t step, int signal) const {
  return dir_ && (signal != 0 || step == steps_ || (options_.every > 0 && step % options_.every == 0));
}

std::string RunCheckpoints::save(int64_t step, const layers::Module& model, const optim::Optimizer* optimizer,
                                 const optim::LRScheduler* scheduler, const io::Metadata& log) {
  if (!dir_) fail("RunCheckpoints::save: no --checkpoint-dir");
  io::Metadata metadata = identity_;
  for (auto& [key, value] : log) {
    if (metadata.count(key)) fail("RunCheckpoints: the log's entry \"{}\" is an identity entry too", key);
    metadata[key] = value;
  }
  return dir_->save(step, model, optimizer, scheduler, metadata);
}

Interrupted RunCheckpoints::interrupted(int signal, int64_t step, const std::string& path,
                                        const std::string& how) const {
  return Interrupted(signal, fmt::format("interrupted by {} after step {} of {}: wrote {}\nto continue, run the same "
                                         "command{} with --resume (it resumes from the newest checkpoint in {})",
                                         signal_name(signal), step, steps_, path, how, dir_->dir()));
}

const std::string& metadata_entry(const CheckpointFile& file, const std::string& key) {
  auto it = file.metadata.find(key);
  if (it == file.metadata.end())
    fail("resume: {}: no \"{}\" in its metadata: not a checkpoint of this program", file.path, key);
  return it->second;
}

CheckpointOptions member_options(const CheckpointOptions& sequence, const std::string& name) {
  CheckpointOptions member = sequence;
  if (sequence.dir.empty()) return member;
  member.dir = (std::filesystem::path(sequence.dir) / name).string();
  member.resume = sequence.resume && !CheckpointDir(member.dir, sequence.keep).list().empty();
  return member;
}

void check_sequence(const CheckpointOptions& sequence, const std::vector<std::string>& names) {
  if (sequence.dir.empty()) return;
  std::string newest;  // the newest checkpoint of the first run that has any
  for (const std::string& name : names) {
    auto entries = CheckpointDir((std::filesystem::path(sequence.dir) / name).string(), sequence.keep).list();
    if (!entries.empty()) {
      newest = entries.back().path;
      break;
    }
  }
  if (sequence.resume && newest.empty())
    fail("resume: nothing to resume in {}: none of its run directories ({}) holds a step_<N>.safetensors checkpoint",
         sequence.dir, fmt::join(names, ", "));
  if (!sequence.resume && !newest.empty())
    fail(
        "{} already holds checkpoints (one: {}); add --resume to continue those runs, or choose another "
        "--checkpoint-dir",
        sequence.dir, newest);
}

std::string exact_text(double v) { return fmt::format("{:.17g}", v); }

io::Metadata data_identity(const std::string& name, const std::vector<Tensor>& tensors) {
  uint64_t h = fnv1a(nullptr, 0);
  for (const Tensor& t : tensors) h = fnv1a(t, h);
  return {{name + "_size", tensors.empty() ? "0" : std::to_string(tensors.front().size(0))},
          {name + "_fnv1a", fmt::format("{:016x}", h)}};
}

}  // namespace nl::train
