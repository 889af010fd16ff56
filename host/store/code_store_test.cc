// Tests for CodeStore and extract_zip: content addressing, the erofs image, modes, GC.
#include "host/store/code_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "host/store/encoding.h"
#include "host/store/sha256.h"
#include "host/store/test_zip.h"
#include "host/store/zip_extract.h"

namespace ember::host {
namespace {

namespace fs = std::filesystem;
using Kind = TestZipEntry::Kind;

class CodeStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ember-code-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  static unsigned mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }

  std::string dir_;
};

const std::vector<TestZipEntry> kPackage = {
    {.path = "bootstrap", .data = "#!/bin/sh\necho hi\n", .mode = 0700},
    {.path = "lib/data.txt", .data = "data\n", .mode = 0600},
    {.path = "lib/alias", .kind = Kind::kSymlink, .target = "data.txt"},
};

TEST_F(CodeStoreTest, ExtractSetsModesTheGuestCanUse) {
  const std::string root = dir_ + "/root";
  ASSERT_EQ(::mkdir(root.c_str(), 0700), 0);
  auto extracted = extract_zip(make_zip(kPackage), root);
  ASSERT_TRUE(extracted.ok()) << extracted.error().message();
  EXPECT_EQ(mode_of(root + "/bootstrap"), 0755u);  // the exec bit is kept
  EXPECT_EQ(mode_of(root + "/lib/data.txt"), 0644u);
  EXPECT_EQ(mode_of(root + "/lib"), 0755u);  // made implicitly, still world-readable
  EXPECT_EQ(fs::read_symlink(root + "/lib/alias"), "data.txt");
  EXPECT_EQ(read(root + "/bootstrap"), "#!/bin/sh\necho hi\n");
}

TEST_F(CodeStoreTest, PutStoresTheZipAndAnErofsImageByHash) {
  auto store = CodeStore::open(dir_ + "/code");
  ASSERT_TRUE(store.ok()) << store.error().message();
  const std::string zip = make_zip(kPackage);
  auto stored = store->put(zip);
  ASSERT_TRUE(stored.ok()) << stored.error().message();
  EXPECT_EQ(stored->sha256_hex, hex_encode(sha256(zip)));
  EXPECT_EQ(stored->sha256_base64, base64_encode(sha256(zip)));
  EXPECT_EQ(stored->size, zip.size());
  EXPECT_EQ(store->zip_path(stored->sha256_hex), dir_ + "/code/" + stored->sha256_hex + ".zip");
  EXPECT_EQ(read(store->zip_path(stored->sha256_hex)), zip);
  EXPECT_EQ(store->read_zip(stored->sha256_hex).value(), zip);
  EXPECT_TRUE(store->contains(stored->sha256_hex));
  EXPECT_TRUE(fs::is_empty(dir_ + "/code/tmp"));  // the scratch space is gone

  // The image holds the files with their modes (fsck.erofs unpacks it to compare).
  const std::string image = store->image_path(stored->sha256_hex);
  EXPECT_EQ(read(image).substr(1024, 4), std::string("\xe2\xe1\xf5\xe0", 4));  // erofs magic
  const std::string unpacked = dir_ + "/unpacked";
  const std::string fsck = "fsck.erofs --extract=" + unpacked + " " + image + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(fsck.c_str()), 0);
  EXPECT_EQ(read(unpacked + "/bootstrap"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(mode_of(unpacked + "/bootstrap"), 0755u);
  EXPECT_EQ(mode_of(unpacked + "/lib/data.txt"), 0644u);
  EXPECT_EQ(fs::read_symlink(unpacked + "/lib/alias"), "data.txt");
}

TEST_F(CodeStoreTest, TheSameZipTwiceIsStoredOnce) {
  auto store = CodeStore::open(dir_ + "/code");
  ASSERT_TRUE(store.ok());
  auto first = store->put(hello_zip());
  ASSERT_TRUE(first.ok());
  const auto written = fs::last_write_time(store->image_path(first->sha256_hex));
  auto second = store->put(hello_zip());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->sha256_hex, first->sha256_hex);
  EXPECT_EQ(fs::last_write_time(store->image_path(first->sha256_hex)), written);
}

TEST_F(CodeStoreTest, GarbageCollectionKeepsOnlyWhatIsInUse) {
  auto store = CodeStore::open(dir_ + "/code");
  ASSERT_TRUE(store.ok());
  auto kept = store->put(hello_zip("kept"));
  auto dropped = store->put(hello_zip("dropped"));
  ASSERT_TRUE(kept.ok() && dropped.ok());
  std::ofstream(dir_ + "/code/notes.txt") << "not a package";
  ASSERT_TRUE(store->collect_garbage({kept->sha256_hex}).ok());
  EXPECT_TRUE(store->contains(kept->sha256_hex));
  EXPECT_FALSE(fs::exists(store->zip_path(dropped->sha256_hex)));
  EXPECT_FALSE(fs::exists(store->image_path(dropped->sha256_hex)));
  EXPECT_TRUE(fs::exists(dir_ + "/code/notes.txt"));  // only packages are collected
  ASSERT_TRUE(store->remove(kept->sha256_hex).ok());
  EXPECT_FALSE(store->contains(kept->sha256_hex));
  EXPECT_TRUE(store->remove(kept->sha256_hex).ok());  // already gone is fine
}

TEST_F(CodeStoreTest, AnImageInUseIsRemovedWithItsLastUse) {
  auto store = CodeStore::open(dir_ + "/code");
  ASSERT_TRUE(store.ok());
  auto code = store->put(hello_zip("used"));
  ASSERT_TRUE(code.ok());
  const std::string image = store->image_path(code->sha256_hex);
  {
    auto first = store->use(code->sha256_hex);
    auto second = store->use(code->sha256_hex);
    ASSERT_TRUE(first.ok() && second.ok());
    ASSERT_TRUE(store->remove(code->sha256_hex).ok());
    EXPECT_FALSE(store->contains(code->sha256_hex));  // its zip went at once
    EXPECT_TRUE(fs::exists(image));
    EXPECT_EQ(store->use(code->sha256_hex).error().code, ENOENT);  // no new uses
    { CodeUse moved = std::move(first).value(); }
    EXPECT_TRUE(fs::exists(image));  // the second use still holds it
  }
  EXPECT_FALSE(fs::exists(image));
}

TEST_F(CodeStoreTest, APackageStoredAgainOutlivesTheLastUseOfItsRemovedCopy) {
  auto store = CodeStore::open(dir_ + "/code");
  ASSERT_TRUE(store.ok());
  auto code = store->put(hello_zip("back"));
  ASSERT_TRUE(code.ok());
  {
    auto use = store->use(code->sha256_hex);
    ASSERT_TRUE(use.ok());
    ASSERT_TRUE(store->remove(code->sha256_hex).ok());
    ASSERT_TRUE(store->put(hello_zip("back")).ok());
  }
  EXPECT_TRUE(store->contains(code->sha256_hex));
}

TEST_F(CodeStoreTest, OpenClearsLeftoversOfInterruptedPuts) {
  fs::create_directories(dir_ + "/code/tmp/put-abc/root");
  auto store = CodeStore::open(dir_ + "/code");
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE(fs::is_empty(dir_ + "/code/tmp"));
}

TEST_F(CodeStoreTest, AFailingMkfsIsAnErrorAndLeavesNothing) {
  auto store = CodeStore::open(dir_ + "/code", "/bin/false");
  ASSERT_TRUE(store.ok());
  auto stored = store->put(hello_zip());
  ASSERT_FALSE(stored.ok());
  EXPECT_NE(stored.error().message().find("exited with 1"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir_ + "/code/tmp"));
  EXPECT_FALSE(store->contains(hex_encode(sha256(hello_zip()))));
}

TEST_F(CodeStoreTest, AFullFileSystemIsNamedAndWhatIsStoredStays) {
  if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
  const std::string small = dir_ + "/small";
  fs::create_directories(small);
  ASSERT_EQ(::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{small};
  auto store = CodeStore::open(small + "/code");
  ASSERT_TRUE(store.ok()) << store.error().message();
  auto first = store->put(hello_zip());
  ASSERT_TRUE(first.ok()) << first.error().message();
  // Stored uncompressed: the unpacked tree alone does not fit.
  std::string noise(700 * 1024, '\0');
  for (size_t i = 0; i < noise.size(); ++i) noise[i] = static_cast<char>((i * 2654435761u) >> 13);
  const std::string big = make_zip({{.path = "blob.bin", .data = noise, .mode = 0644}});
  auto stored = store->put(big);
  ASSERT_FALSE(stored.ok());
  const std::string message = stored.error().message();
  EXPECT_EQ(stored.error().code, ENOSPC) << message;
  EXPECT_NE(message.find("the file system mounted at " + fs::canonical(small).string()),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("is full"), std::string::npos) << message;
  EXPECT_NE(message.find("--state-dir"), std::string::npos) << message;
  EXPECT_TRUE(fs::is_empty(small + "/code/tmp"));
  auto kept = store->read_zip(first->sha256_hex);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, hello_zip());
  EXPECT_TRUE(fs::exists(store->image_path(first->sha256_hex)));
}

TEST_F(CodeStoreTest, ReadZipOfUnknownHashIsEnoent) {
  auto store = CodeStore::open(dir_ + "/code");
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(store->read_zip(std::string(64, 'c')).error().code, ENOENT);
  EXPECT_EQ(store->read_zip("../../etc/passwd").error().code, ENOENT);
}

}  // namespace
}  // namespace ember::host
