// zip: the deployment-package checker and, for what it accepts, the extractor, which must
// never write outside its directory.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "host/store/test_zip.h"
#include "host/store/zip_check.h"
#include "host/store/zip_extract.h"

namespace ember::fuzz {
namespace {

namespace fs = std::filesystem;
using host::TestZipEntry;

// Small limits so that inputs of a few KiB reach them.
constexpr host::ZipLimits kLimits{.max_zipped_bytes = 1 << 20,
                                  .max_unzipped_bytes = 4 << 20,
                                  .max_entries = 64,
                                  .max_path_bytes = 128};

const fs::path& scratch() {
  static const fs::path dir = [] {
    char tmpl[] = "/tmp/ember-fuzz-zip-XXXXXX";
    EMBER_FUZZ_ASSERT(::mkdtemp(tmpl) != nullptr);
    return fs::path(tmpl);
  }();
  return dir;
}

// Everything extract_zip made lies inside root: no symlink leads out of it.
void check_tree(const fs::path& root) {
  const fs::path real_root = fs::canonical(root);
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    EMBER_FUZZ_ASSERT(entry.is_symlink() || entry.is_regular_file() || entry.is_directory());
    if (!entry.is_symlink()) continue;
    const fs::path target = fs::read_symlink(entry.path());
    EMBER_FUZZ_ASSERT(target.is_relative());
    const fs::path resolved = fs::weakly_canonical(entry.path().parent_path() / target);
    const auto [end, _] = std::mismatch(real_root.begin(), real_root.end(), resolved.begin(),
                                        resolved.end());
    EMBER_FUZZ_ASSERT(end == real_root.end());
  }
}

void write_seeds(const std::string& dir) {
  using Kind = TestZipEntry::Kind;
  write_seed(dir, "hello", host::hello_zip());
  write_seed(dir, "tree", host::make_zip({{"bin/", "", Kind::kDirectory, 0755},
                                          {"bin/bootstrap", "#!/bin/sh\necho hi\n", Kind::kFile, 0755},
                                          {"lib/util.py", "x = 1\n"},
                                          {"lib/link.py", "", Kind::kSymlink, 0777, "util.py"},
                                          {"data/zeros", "z", Kind::kFile, 0644, "", 4096}}));
  write_seed(dir, "escaping_symlink",
             host::make_zip({{"a/evil", "", Kind::kSymlink, 0777, "../../etc/passwd"}}));
  write_seed(dir, "dotdot", host::make_zip({{"../outside.txt", "no"}}));
  write_seed(dir, "fifo", host::make_zip({{"pipe", "", Kind::kFifo}}));
}

}  // namespace
}  // namespace ember::fuzz

EMBER_FUZZ_SEEDS(ember::fuzz::write_seeds)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ember::fuzz;
  namespace fs = std::filesystem;
  const std::string_view zip(reinterpret_cast<const char*>(data), size);
  auto summary = ember::host::check_zip(zip, kLimits);
  if (!summary.ok()) return 0;
  EMBER_FUZZ_ASSERT(summary->entries <= kLimits.max_entries);
  EMBER_FUZZ_ASSERT(summary->unzipped_bytes <= kLimits.max_unzipped_bytes);
  const fs::path root = scratch() / "pkg";
  fs::remove_all(root);
  fs::create_directory(root);
  if (ember::host::extract_zip(zip, root.string()).ok()) check_tree(root);
  // Nothing appeared next to the package directory.
  for (const auto& entry : fs::directory_iterator(scratch())) {
    EMBER_FUZZ_ASSERT(entry.path().filename() == "pkg");
  }
  fs::remove_all(root);
  return 0;
}
