// Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<target>/)
// with normlab's own writers: small valid files of each format and corrupt
// variants of them (truncated, lying lengths, wrong types). Run by
// `scripts/fuzz.sh seeds`; the output is committed, so this only reruns when
// the seeds should change.
//   make_fuzz_seeds <corpus dir>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>
#include <string>

#include "core/io/npy.h"
#include "core/io/safetensors.h"
#include "core/ops.h"
#include "core/random.h"
#include "data/idx.h"
#include "layers/batch_norm.h"
#include "layers/linear.h"
#include "layers/sequential.h"
#include "optim/adam.h"
#include "optim/lr_scheduler.h"
#include "optim/sgd.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;

namespace {
std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_all(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }
// Corrupt variants of a valid file: cut short at a few places, and one byte flipped.
void variants(const fs::path& valid) {
  std::string bytes = read_all(valid), stem = valid.stem().string(), ext = valid.extension().string();
  for (size_t cut : {size_t(1), size_t(9), bytes.size() / 2, bytes.size() - 1})
    if (cut < bytes.size())
      write_all(valid.parent_path() / (stem + "_cut" + std::to_string(cut) + ext), bytes.substr(0, cut));
  if (bytes.size() > 12) {
    std::string flipped = bytes;
    flipped[bytes.size() / 3] = char(flipped[bytes.size() / 3] ^ 0x5a);
    write_all(valid.parent_path() / (stem + "_flip" + ext), flipped);
  }
}
std::string u64_le(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }

void safetensors(const fs::path& dir) {
  nl::Tensor f32 = nl::arange(6).reshape({2, 3}).to(nl::f32);
  nl::io::save_safetensors(
      dir / "mixed.safetensors",
      {{"w", f32}, {"b", nl::ones({3}, nl::f64)}, {"n", nl::zeros({}, nl::i64)}, {"empty", nl::zeros({0, 4})}},
      {{"format", "pt"}});
  nl::io::save_safetensors(dir / "one.safetensors", {{"x", nl::ones({4})}});
  variants(dir / "mixed.safetensors");
  auto with_header = [&](const char* name, const std::string& json, const std::string& data) {
    write_all(dir / name, u64_le(json.size()) + json + data);
  };
  with_header(
      "overlap.safetensors",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, '\0'));
  with_header("bad_dtype.safetensors", R"({"a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}})", "\0\0");
  with_header("huge_shape.safetensors", R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}})",
              std::string(8, '\0'));
  with_header("nested.safetensors", R"({"__metadata__":{"k":[[[[1]]]]}})", "");
  write_all(dir / "lying_length.safetensors", u64_le(uint64_t(1) << 40) + "{}");
}

void npy(const fs::path& dir) {
  nl::io::save_npy(dir / "f4_2x3.npy", nl::arange(6).reshape({2, 3}).to(nl::f32));
  nl::io::save_npy(dir / "f8_scalar.npy", nl::ones({}, nl::f64));
  nl::io::save_npy(dir / "i8_5.npy", nl::arange(5).to(nl::i64));
  nl::io::save_npy(dir / "f4_empty.npy", nl::zeros({0, 4}));
  variants(dir / "f4_2x3.npy");
  // Hand-made headers: Fortran order, version 2, a Python 2 long, an unsupported dtype.
  auto v1 = [&](const char* name, const std::string& dict, const std::string& data) {
    std::string header = dict + std::string((64 - (10 + dict.size() + 1) % 64) % 64, ' ') + "\n";
    uint16_t n = uint16_t(header.size());
    write_all(dir / name,
              std::string("\x93NUMPY\x01\x00", 8) + std::string(reinterpret_cast<char*>(&n), 2) + header + data);
  };
  v1("fortran.npy", "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", std::string(48, '\x01'));
  v1("long.npy", "{'descr': '<i8', 'fortran_order': False, 'shape': (2L,), }", std::string(16, '\x02'));
  v1("i4.npy", "{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }", std::string(12, '\x03'));
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }";
  std::string header = dict + std::string((64 - (12 + dict.size() + 1) % 64) % 64, ' ') + "\n";
  uint32_t n = uint32_t(header.size());
  write_all(dir / "v2.npy", std::string("\x93NUMPY\x02\x00", 8) + std::string(reinterpret_cast<char*>(&n), 4) + header +
                                std::string(4, '\0'));
}

void idx(const fs::path& dir) {
  std::vector<uint8_t> digits(2 * 3 * 4);
  for (size_t i = 0; i < digits.size(); ++i) digits[i] = uint8_t(i * 7);
  nl::data::write_idx(dir / "images.idx", {2, 3, 4}, digits);
  nl::data::write_idx(dir / "images.idx.gz", {2, 3, 4}, digits, /*gzip=*/true);
  nl::data::write_idx(dir / "labels.idx", {5}, {0, 1, 2, 3, 9});
  nl::data::write_idx(dir / "labels.idx.gz", {5}, {0, 1, 2, 3, 9}, true);
  variants(dir / "images.idx");
  variants(dir / "images.idx.gz");
  std::string gz = read_all(dir / "labels.idx.gz");
  write_all(dir / "two_members.idx.gz", gz + gz);  // decompresses to a file twice too long
  write_all(dir / "int32.idx", std::string("\0\0\x0c\x01\0\0\0\x01\0\0\0\0", 12));
  write_all(dir / "huge_dims.idx", std::string("\0\0\x08\x02\xff\xff\xff\xff\xff\xff\xff\xff", 12));
  // A plain file whose header declares 2^31 - 1 bytes behind one real one.
  nl::data::write_idx(dir / "lying.idx", {1}, {7});
  std::string lying = read_all(dir / "lying.idx");
  lying[4] = 0x7f, lying[5] = lying[6] = lying[7] = char(0xff);
  fs::remove(dir / "lying.idx");
  write_all(dir / "lying_plain.idx", lying);
}

void text(const fs::path& dir) {
  write_all(dir / "fortunes.txt", "A fortune.\n%\nAnother one,\n  on two lines.\n%\r\nLast.\n");
  write_all(dir / "plain.txt", "hello world\n");
  write_all(dir / "one_byte.txt", "x");
  write_all(dir / "binary.txt", std::string("\0\x01\xff%\n%", 6));
}

void checkpoint(const fs::path& dir) {
  // The same model, optimizer and schedule as the harness (fuzz_checkpoint.cpp).
  nl::manual_seed(1);
  nl::layers::Sequential model{std::make_shared<nl::layers::Linear>(3, 4), std::make_shared<nl::layers::BatchNorm1d>(4),
                               std::make_shared<nl::layers::Linear>(4, 2)};
  nl::optim::AdamW opt{model.parameters(), {.lr = 0.01}};
  nl::optim::WarmupDecayLR schedule{opt, 2, 10};
  nl::train::save_checkpoint(dir / "fresh.safetensors", model, &opt, &schedule, 0);
  nl::Tensor loss = model(nl::randn({8, 3})).sum();
  loss.backward();
  opt.step();
  schedule.step();
  nl::train::save_checkpoint(dir / "stepped.safetensors", model, &opt, &schedule, 1);
  nl::train::save_checkpoint(dir / "model_only.safetensors", model, nullptr, nullptr, 1);
  nl::optim::SGD sgd(model.parameters(), {.lr = 0.1});
  nl::train::save_checkpoint(dir / "sgd.safetensors", model, &sgd, nullptr, 1);
  variants(dir / "stepped.safetensors");
  // Regressions (docs/architecture.md, "Fuzzing"): values a file may hold that once
  // overflowed or converted out of range when loaded or stepped on (UBSan reports).
  nl::StateDict state = nl::io::load_safetensors(dir / "stepped.safetensors");
  auto regress = [&](const char* name, const std::string& key, const nl::Tensor& value) {
    nl::StateDict bad = state;
    bad[key] = value;
    nl::io::save_safetensors(dir / name, bad, {{"format", "normlab-checkpoint-1"}});
  };
  nl::Tensor int64_max = nl::zeros({}, nl::i64);
  *int64_max.data<int64_t>() = std::numeric_limits<int64_t>::max();
  regress("regress_float_count.safetensors", "model.1.num_batches_tracked", nl::full({}, 1e300, nl::f64));
  regress("regress_count_max.safetensors", "model.1.num_batches_tracked", int64_max);
  regress("regress_step_max.safetensors", "optimizer.state.0.step", int64_max);
  regress("regress_last_epoch_max.safetensors", "scheduler.last_epoch", int64_max);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_fuzz_seeds <corpus dir>\n";
    return 2;
  }
  fs::path root = argv[1];
  for (auto [name, make] : {std::pair{"safetensors", &safetensors},
                            {"npy", &npy},
                            {"idx", &idx},
                            {"text_corpus", &text},
                            {"checkpoint", &checkpoint}}) {
    fs::create_directories(root / name);
    make(root / name);
  }
  return 0;
}
