// ember-jailer's flag parser and formatter.
#include "host/jail/jail_args.h"

#include <gtest/gtest.h>

namespace ember::host::jail {
namespace {

std::vector<std::string> base() {
  return {"ember-jailer", "--root", "/s/jail/1/root", "--uid", "900001", "--gid", "900001"};
}

std::vector<std::string> with(std::vector<std::string> extra) {
  auto argv = base();
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

TEST(JailArgsTest, ParsesEveryFlag) {
  auto a = parse_jailer_args(with({"--netns", "/run/netns/x", "--bind-ro", "/k", "--bind-ro", "/r",
                                   "--bind-rw", "/run", "--keep-fd", "3", "--rlimit-nofile", "128",
                                   "--rlimit-fsize", "4096", "--rlimit-nproc", "10", "--",
                                   "/usr/bin/ember-vmm", "--kernel", "/k"}));
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->root, "/s/jail/1/root");
  EXPECT_EQ(a->uid, 900001u);
  EXPECT_EQ(a->gid, 900001u);
  EXPECT_EQ(a->netns, "/run/netns/x");
  EXPECT_EQ(a->bind_ro, (std::vector<std::string>{"/k", "/r"}));
  EXPECT_EQ(a->bind_rw, (std::vector<std::string>{"/run"}));
  EXPECT_EQ(a->keep_fds, (std::vector<int>{3}));
  EXPECT_EQ(a->rlimit_nofile, 128u);
  EXPECT_EQ(a->rlimit_fsize, 4096u);
  EXPECT_EQ(a->rlimit_nproc, 10u);
  EXPECT_EQ(a->command, (std::vector<std::string>{"/usr/bin/ember-vmm", "--kernel", "/k"}));
}

TEST(JailArgsTest, FormatRoundTrips) {
  JailerArgs a;
  a.root = "/j/root";
  a.uid = 5;
  a.gid = 6;
  a.netns = "/run/netns/n";
  a.bind_ro = {"/a", "/b"};
  a.bind_rw = {"/c"};
  a.keep_fds = {3, 7};
  a.rlimit_nofile = 99;
  a.rlimit_fsize = 1ull << 33;
  a.rlimit_nproc = 12;
  a.command = {"/vmm", "--", "--x"};  // the command's own "--" is kept
  auto argv = format_jailer_args("/bin/ember-jailer", a);
  EXPECT_EQ(argv[0], "/bin/ember-jailer");
  auto back = parse_jailer_args(argv);
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->root, a.root);
  EXPECT_EQ(back->uid, a.uid);
  EXPECT_EQ(back->gid, a.gid);
  EXPECT_EQ(back->netns, a.netns);
  EXPECT_EQ(back->bind_ro, a.bind_ro);
  EXPECT_EQ(back->bind_rw, a.bind_rw);
  EXPECT_EQ(back->keep_fds, a.keep_fds);
  EXPECT_EQ(back->rlimit_nofile, a.rlimit_nofile);
  EXPECT_EQ(back->rlimit_fsize, a.rlimit_fsize);
  EXPECT_EQ(back->rlimit_nproc, a.rlimit_nproc);
  EXPECT_EQ(back->command, a.command);
}

TEST(JailArgsTest, RefusesWhatWouldNotBeAJail) {
  auto message = [](std::vector<std::string> argv) {
    auto a = parse_jailer_args(argv);
    return a.ok() ? std::string("accepted") : a.error().message();
  };
  auto ok = parse_jailer_args(with({"--", "/vmm"}));
  EXPECT_TRUE(ok.ok());
  EXPECT_NE(message({"j", "--uid", "1", "--gid", "1", "--", "/vmm"}).find("--root"),
            std::string::npos);
  EXPECT_NE(message({"j", "--root", "/r", "--gid", "1", "--", "/vmm"}).find("--uid"),
            std::string::npos);
  EXPECT_NE(message({"j", "--root", "/r", "--uid", "0", "--gid", "1", "--", "/vmm"}).find("--uid"),
            std::string::npos);
  EXPECT_NE(message({"j", "--root", "/r", "--uid", "1", "--gid", "0", "--", "/vmm"}).find("--gid"),
            std::string::npos);
  EXPECT_NE(message({"j", "--root", "/", "--uid", "1", "--gid", "1", "--", "/vmm"}).find("--root"),
            std::string::npos);
  EXPECT_NE(message({"j", "--root", "rel", "--uid", "1", "--gid", "1", "--", "/vmm"}).find("absolute"),
            std::string::npos);
  EXPECT_NE(message(with({"--bind-ro", "/a/../etc", "--", "/vmm"})).find(".."), std::string::npos);
  EXPECT_NE(message(with({"--bind-rw", "/", "--", "/vmm"})).find("whole host"), std::string::npos);
  EXPECT_NE(message(with({"--keep-fd", "2", "--", "/vmm"})).find("--keep-fd"), std::string::npos);
  EXPECT_NE(message(with({"--uid", "x1", "--", "/vmm"})).find("--uid"), std::string::npos);
  EXPECT_NE(message(with({"--bogus", "1", "--", "/vmm"})).find("unknown flag --bogus"),
            std::string::npos);
  EXPECT_NE(message(with({})).find("after --"), std::string::npos);
  EXPECT_NE(message(with({"--"})).find("after --"), std::string::npos);
  EXPECT_NE(message(with({"--", "ember-vmm"})).find("absolute"), std::string::npos);
  EXPECT_NE(message(with({"--rlimit-nofile"})).find("needs a value"), std::string::npos);
}

}  // namespace
}  // namespace ember::host::jail
