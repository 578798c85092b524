#include "data/idx.h"

#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <memory>

#include "core/error.h"
#include "core/io/atomic_file.h"

namespace nl::data {

namespace {

constexpr const char* kOp = "read_idx";
constexpr uint8_t kUnsignedByte = 0x08;

const char* element_type_name(uint8_t type) {
  switch (type) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
  }
  return nullptr;
}

// Where the bytes of an IDX file come from: the file itself, or a gzip stream
// decompressed incrementally (so only what the header declares is ever allocated).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Fills dst with exactly n bytes; `what` names them in the error when the data ends first.
  virtual void read_exact(void* dst, uint64_t n, const std::string& what) = 0;
  // After the last element: the source must hold nothing more.
  virtual void expect_end(uint64_t data_end) = 0;
};

class PlainSource : public ByteSource {
 public:
  explicit PlainSource(const io::InputFile& file) : file_(file) {}
  void read_exact(void* dst, uint64_t n, const std::string& what) override {
    if (n > file_.size() - offset_)
      file_.fail_with(fmt::format("the file of {} bytes ends inside the {}", file_.size(), what));
    file_.read(offset_, n, dst, what.c_str());
    offset_ += n;
  }
  void expect_end(uint64_t data_end) override {
    if (file_.size() != data_end)
      file_.fail_with(fmt::format("the header declares {} bytes in all, but the file has {}", data_end, file_.size()));
  }

 private:
  const io::InputFile& file_;
  uint64_t offset_ = 0;
};

// gzip (RFC 1952) through zlib's inflate, reading the compressed file in
// chunks. Concatenated gzip members (what `cat a.gz b.gz` makes) are one stream.
class GzipSource : public ByteSource {
 public:
  explicit GzipSource(const io::InputFile& file) : file_(file) {
    if (inflateInit2(&z_, 16 + MAX_WBITS) != Z_OK) file_.fail_with("zlib: inflateInit2 failed");
  }
  ~GzipSource() override { inflateEnd(&z_); }

  void read_exact(void* dst, uint64_t n, const std::string& what) override {
    if (read_some(static_cast<uint8_t*>(dst), n) != n)
      file_.fail_with(fmt::format("the decompressed data ends after {} bytes, inside the {}", produced_, what));
  }

  void expect_end(uint64_t data_end) override {
    uint8_t extra;
    if (read_some(&extra, 1) != 0)
      file_.fail_with(fmt::format("the decompressed data is longer than the {} bytes the header declares", data_end));
  }

 private:
  // Decompresses up to n bytes into dst; fewer only when the gzip stream has ended.
  uint64_t read_some(uint8_t* dst, uint64_t n) {
    uint64_t done = 0;
    while (done < n && !ended_) {
      uInt chunk = uInt(std::min<uint64_t>(n - done, uint64_t(1) << 30));  // zlib counts in uInt
      z_.next_out = dst + done;
      z_.avail_out = chunk;
      if (z_.avail_in == 0) refill();
      int rc = inflate(&z_, Z_NO_FLUSH);
      done += chunk - z_.avail_out;
      produced_ += chunk - z_.avail_out;
      if (rc == Z_STREAM_END) {
        if (z_.avail_in == 0 && offset_ == file_.size())
          ended_ = true;
        else if (inflateReset(&z_) != Z_OK)  // another gzip member follows
          file_.fail_with("zlib: inflateReset failed");
      } else if (rc == Z_DATA_ERROR) {
        file_.fail_with(fmt::format("corrupt gzip data after {} decompressed bytes: {}", produced_,
                                    z_.msg ? z_.msg : "invalid data"));
      } else if (rc == Z_MEM_ERROR) {
        file_.fail_with("zlib: out of memory");
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        file_.fail_with(fmt::format("zlib: inflate failed ({})", rc));
      }
    }
    return done;
  }

  // Next chunk of compressed bytes; the file ending before the gzip stream does means it was cut short.
  void refill() {
    if (offset_ == file_.size())
      file_.fail_with(fmt::format("the gzip stream is truncated: the file of {} bytes ends after {} decompressed bytes",
                                  file_.size(), produced_));
    uint64_t n = std::min<uint64_t>(buffer_.size(), file_.size() - offset_);
    file_.read(offset_, n, buffer_.data(), "gzip data");
    offset_ += n;
    z_.next_in = buffer_.data();
    z_.avail_in = uInt(n);
  }

  const io::InputFile& file_;
  z_stream z_{};
  std::array<uint8_t, 1 << 16> buffer_{};
  uint64_t offset_ = 0;    // compressed bytes consumed from the file
  uint64_t produced_ = 0;  // decompressed bytes handed out
  bool ended_ = false;
};

bool is_gzip(const io::InputFile& file) {
  if (file.size() < 2) return false;
  uint8_t magic[2];
  file.read(0, 2, magic, "gzip magic");
  return magic[0] == 0x1f && magic[1] == 0x8b;
}

}  // namespace

IdxArray read_idx(const std::string& path, uint64_t max_bytes) {
  io::InputFile file(path, kOp);
  const bool gzip = is_gzip(file);
  std::unique_ptr<ByteSource> source;
  if (gzip)
    source = std::make_unique<GzipSource>(file);
  else
    source = std::make_unique<PlainSource>(file);

  // magic: 0x00 0x00 <type> <k>
  uint8_t magic[4];
  source->read_exact(magic, 4, "IDX header (4 magic bytes)");
  if (magic[0] != 0 || magic[1] != 0)
    file.fail_with(
        fmt::format("not an IDX file: it starts with bytes 0x{:02x} 0x{:02x}, expected 0x00 0x00", magic[0], magic[1]));
  if (magic[2] != kUnsignedByte) {
    const char* name = element_type_name(magic[2]);
    file.fail_with(name ? fmt::format("element type 0x{:02x} ({}) is not supported; MNIST-format files hold unsigned "
                                      "bytes (0x08)",
                                      magic[2], name)
                        : fmt::format("unknown IDX element type 0x{:02x}", magic[2]));
  }
  int k = magic[3];
  if (k < 1 || k > kIdxMaxDims)
    file.fail_with(fmt::format("the header declares {} dims; expected 1 to {}", k, kIdxMaxDims));

  // k big-endian uint32 dims; their product must fit max_bytes before anything is allocated
  uint8_t raw_dims[4 * kIdxMaxDims];
  source->read_exact(raw_dims, uint64_t(4 * k), "IDX dims");
  IdxArray array;
  uint64_t count = 1;
  for (int i = 0; i < k; ++i) {
    const uint8_t* b = raw_dims + 4 * i;
    uint64_t d = uint64_t(b[0]) << 24 | uint64_t(b[1]) << 16 | uint64_t(b[2]) << 8 | uint64_t(b[3]);
    array.dims.push_back(int64_t(d));
    if (d != 0 && count > max_bytes / d)
      count = max_bytes + 1;  // saturate: no overflow
    else
      count *= d;
  }
  if (count > max_bytes)
    file.fail_with(fmt::format("the header declares dims {} — more than the limit of {} bytes",
                               fmt::join(array.dims, "x"), max_bytes));
  uint64_t header = 4 + 4 * uint64_t(k);
  if (!gzip) source->expect_end(header + count);  // a plain file's size is known: check it before allocating

  // A gzip stream's real length is known only by decompressing it, so the
  // buffer grows with the data that actually arrives: first 64 KiB, then as
  // much again as has arrived (doubling, so the copies add up to less than the
  // data). A header declaring a huge size costs at most twice the data behind
  // it plus 64 KiB, never what it declares. A plain file's size was checked.
  constexpr uint64_t kFirstChunk = uint64_t(1) << 16;
  std::string what = fmt::format("IDX data ({} header bytes + {} declared)", header, count);
  if (!gzip) array.data.reserve(size_t(count));
  while (array.data.size() < count) {
    uint64_t at = array.data.size(), n = gzip ? std::min(std::max(kFirstChunk, at), count - at) : count - at;
    array.data.resize(size_t(at + n));
    source->read_exact(array.data.data() + at, n, what);
  }
  if (gzip) source->expect_end(header + count);
  return array;
}

void write_idx(const std::string& path, const std::vector<int64_t>& dims, const std::vector<uint8_t>& data, bool gzip) {
  if (dims.empty() || dims.size() > size_t(kIdxMaxDims))
    fail("write_idx: {}: need 1 to {} dims, got {}", path, kIdxMaxDims, dims.size());
  uint64_t count = 1;
  for (int64_t d : dims) {
    if (d < 0 || d > int64_t(UINT32_MAX)) fail("write_idx: {}: dim {} does not fit an IDX uint32", path, d);
    count *= uint64_t(d);
  }
  if (count != data.size())
    fail("write_idx: {}: dims {} hold {} elements but {} were given", path, fmt::join(dims, "x"), count, data.size());

  std::vector<uint8_t> bytes = {0, 0, kUnsignedByte, uint8_t(dims.size())};
  for (int64_t d : dims)
    for (int shift : {24, 16, 8, 0}) bytes.push_back(uint8_t(uint64_t(d) >> shift));
  bytes.insert(bytes.end(), data.begin(), data.end());

  if (gzip) {
    if (bytes.size() > UINT32_MAX)
      fail("write_idx: {}: {} bytes are too many to compress in one call", path, bytes.size());
    z_stream z{};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      fail("write_idx: {}: zlib deflateInit2 failed", path);
    std::vector<uint8_t> compressed(deflateBound(&z, uLong(bytes.size())));
    z.next_in = bytes.data();
    z.avail_in = uInt(bytes.size());
    z.next_out = compressed.data();
    z.avail_out = uInt(compressed.size());
    int rc = deflate(&z, Z_FINISH);
    compressed.resize(z.total_out);
    deflateEnd(&z);
    if (rc != Z_STREAM_END) fail("write_idx: {}: zlib deflate failed ({})", path, rc);
    bytes = std::move(compressed);
  }
  io::write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) fail("write_idx: {}: write failed", path);
  });
}

}  // namespace nl::data
