// ember-bench-coldstart's flags with Boost.Program_options.
#include "tests/bench/coldstart_config.h"

#include <unistd.h>

#include <boost/program_options.hpp>
#include <sstream>

namespace po = boost::program_options;

namespace ember::bench {
namespace {

po::options_description describe_flags() {
  po::options_description d(
      "ember-bench-coldstart: request -> response of a trivial Python invocation through boot + "
      "init, a restore of the init snapshot and a ready pool; memory of restored clones against "
      "fresh boots. Needs real KVM (scripts/bench-coldstart runs it where that is).\n\nOptions");
  // clang-format off
  d.add_options()
      ("help,h", "print this help and exit")
      ("vmm", po::value<std::string>()->required(), "the ember-vmm binary")
      ("kernel", po::value<std::string>()->required(), "guest kernel (vmlinux)")
      ("rootfs", po::value<std::string>()->required(), "guest root image (erofs)")
      ("initramfs", po::value<std::string>()->required(), "initramfs with ember-agent as /init")
      ("mkfs-erofs", po::value<std::string>()->default_value("mkfs.erofs"),
       "mkfs.erofs, to pack the function's code image")
      ("work-dir", po::value<std::string>(),
       "scratch folder for the code image, the snapshot and sockets (default "
       "/tmp/ember-bench-coldstart-<pid>; must not exist; removed at the end)")
      ("runs", po::value<uint32_t>()->default_value(5), "measurements per path (1..100)")
      ("mem-vms", po::value<uint32_t>()->default_value(10),
       "VMs alive at once in each memory group (0 skips the memory comparison; at most 64)")
      ("mem-mib", po::value<uint32_t>()->default_value(128), "guest RAM per VM (128..3072)");
  // clang-format on
  return d;
}

Error usage_error(const std::string& message) { return make_error("usage", message); }

}  // namespace

std::string coldstart_usage() {
  std::ostringstream out;
  out << "Usage: ember-bench-coldstart --vmm VMM --kernel VMLINUX --rootfs IMAGE --initramfs CPIO "
         "[--runs N] [--mem-vms N] [options]\n\n"
      << describe_flags() << "\n"
      << "Exit codes: 0 measured (targets met or not), 1 a VM failed, 2 usage error.\n";
  return out.str();
}

Result<ColdstartFlags> parse_coldstart_flags(int argc, const char* const argv[]) {
  po::variables_map vm;
  ColdstartFlags flags;
  try {
    po::store(po::command_line_parser(argc, argv).options(describe_flags()).run(), vm);
    if (vm.count("help")) {
      flags.help = true;
      return flags;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }
  ColdstartConfig& c = flags.config;
  c.vmm = vm["vmm"].as<std::string>();
  c.kernel = vm["kernel"].as<std::string>();
  c.rootfs = vm["rootfs"].as<std::string>();
  c.initramfs = vm["initramfs"].as<std::string>();
  c.mkfs_erofs = vm["mkfs-erofs"].as<std::string>();
  c.work_dir = vm.count("work-dir") ? vm["work-dir"].as<std::string>()
                                    : "/tmp/ember-bench-coldstart-" + std::to_string(::getpid());
  c.runs = vm["runs"].as<uint32_t>();
  c.mem_vms = vm["mem-vms"].as<uint32_t>();
  c.mem_mib = vm["mem-mib"].as<uint32_t>();
  if (c.runs < 1 || c.runs > 100) return usage_error("--runs must be 1..100");
  if (c.mem_vms > 64) return usage_error("--mem-vms must be 0..64");
  if (c.mem_mib < 128 || c.mem_mib > 3072) return usage_error("--mem-mib must be 128..3072");
  if (c.work_dir.empty() || c.work_dir.front() != '/') {
    return usage_error("--work-dir must be an absolute path");
  }
  // The VMs' Unix sockets go under it, and a socket path must fit in 108 bytes.
  if (c.work_dir.size() > 60) return usage_error("--work-dir must be at most 60 characters");
  return flags;
}

}  // namespace ember::bench
