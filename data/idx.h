#pragma once
// IDX files, the format of MNIST and Fashion-MNIST (LeCun et al.):
//
//   bytes 0–1   0x00 0x00
//   byte  2     element type; 0x08 = unsigned byte (the only one MNIST-format data uses)
//   byte  3     number of dims k
//   then        k dims, each a big-endian uint32
//   then        the elements, row-major, prod(dims) bytes
//
// Files may be gzip-compressed (detected by the gzip magic 0x1f 0x8b, not by
// the name). Files are untrusted: the header is validated before anything is
// allocated, a plain file must be exactly header + data long, and a gzip
// stream must decompress to exactly that many bytes — a truncated, oversized
// or corrupt file is an nl::Error naming the file and what is wrong.
//
//   nl::data::IdxArray labels = nl::data::read_idx("t10k-labels-idx1-ubyte.gz");
//   labels.dims;   // {10000}
//   labels.data;   // 10000 bytes, 0..9
#include <cstdint>
#include <string>
#include <vector>

namespace nl::data {

struct IdxArray {
  std::vector<int64_t> dims;  // e.g. {60000, 28, 28}
  std::vector<uint8_t> data;  // prod(dims) unsigned bytes, row-major
};

// No IDX file nearly this large exists (Fashion-MNIST's training images are 47 MB);
// the cap keeps a lying header from allocating without bound.
inline constexpr uint64_t kIdxDefaultMaxBytes = uint64_t(1) << 31;  // 2 GiB
inline constexpr int kIdxMaxDims = 8;

// Reads a plain or gzip IDX file of unsigned bytes whose data is at most max_bytes.
IdxArray read_idx(const std::string& path, uint64_t max_bytes = kIdxDefaultMaxBytes);

// Writes an unsigned-byte IDX file (gzip-compressed when gzip is true) atomically.
// data.size() must equal prod(dims); each dim must fit in a uint32.
void write_idx(const std::string& path, const std::vector<int64_t>& dims, const std::vector<uint8_t>& data,
               bool gzip = false);

}  // namespace nl::data
