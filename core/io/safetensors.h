#pragma once
// safetensors files (https://github.com/huggingface/safetensors), the format
// of normlab checkpoints and of PyTorch/Hugging Face weights:
//
//   [8 bytes]  N, little-endian u64: length of the header
//   [N bytes]  JSON: {"name": {"dtype": "F32", "shape": [2, 3],
//                              "data_offsets": [begin, end]}, ...,
//                     "__metadata__": {"key": "value"}}
//   [rest]     the tensors' bytes, row-major little-endian; offsets are
//              relative to the start of this buffer
//
// normlab reads and writes F32, F64 and I64. Loading treats the file as
// untrusted: every field is validated before a byte of tensor data is read.
#include <map>
#include <string>

#include "core/state_dict.h"

namespace nl::io {

using Metadata = std::map<std::string, std::string>;

// Writes atomically (temporary file + rename): a crash leaves the old file intact.
void save_safetensors(const std::string& path, const StateDict& tensors, const Metadata& metadata = {});
StateDict load_safetensors(const std::string& path);
Metadata load_safetensors_metadata(const std::string& path);

}  // namespace nl::io
