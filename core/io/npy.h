#pragma once
// NumPy .npy arrays (https://numpy.org/neps/nep-0001-npy-format.html):
//
//   "\x93NUMPY", major, minor version bytes
//   header length: u16 (version 1) or u32 (versions 2, 3), little-endian
//   header: a Python dict literal, e.g.
//     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//   padded with spaces and a newline so the data starts 64-byte aligned
//   data: the array's bytes
//
// normlab writes version 1.0 with '<f4', '<f8' or '<i8'; it reads versions
// 1-3 with those dtypes, C or Fortran order (Fortran arrays are transposed
// into a row-major copy). Loading treats the file as untrusted.
#include <string>

#include "core/tensor.h"

namespace nl::io {

void save_npy(const std::string& path, const Tensor& t);  // atomic (temporary file + rename)
Tensor load_npy(const std::string& path);

}  // namespace nl::io
