// make_zip: builds zip files in memory with libarchive's writer, for tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember::host {

struct TestZipEntry {
  enum class Kind { kFile, kDirectory, kSymlink, kFifo };
  std::string path;
  std::string data;  // file contents
  Kind kind = Kind::kFile;
  unsigned mode = 0644;
  std::string target;  // symlink target
  uint64_t zeros = 0;  // appended to data: large, highly compressible contents
};

// A deflate-compressed zip of the entries, in order.
std::string make_zip(const std::vector<TestZipEntry>& entries);

// A zip with one Python handler file, "lambda_function.py".
std::string hello_zip(const std::string& greeting = "hello");

}  // namespace ember::host
