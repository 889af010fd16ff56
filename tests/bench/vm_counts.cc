// VmCounts: ember-vmm's stats reply, flattened, and differences between two of them.
#include "tests/bench/vm_counts.h"

#include <chrono>

#include <nlohmann/json.hpp>

#include "host/vm_control.h"

namespace ember::bench {
namespace {

// Adds every unsigned number under `node` as prefix.name (objects nest with dots).
void flatten(const nlohmann::json& node, const std::string& prefix, VmCounts& out) {
  for (const auto& [key, value] : node.items()) {
    const std::string name = prefix.empty() ? key : prefix + "." + key;
    if (value.is_object()) {
      flatten(value, name, out);
    } else if (value.is_number_unsigned()) {
      out[name] = value.get<uint64_t>();
    }
  }
}

}  // namespace

Result<VmCounts> parse_vm_counts(const std::string& reply) {
  const auto parsed = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object() || parsed.value("ok", false) != true) {
    return make_error("ember-vmm stats", "unexpected reply: " + reply.substr(0, 300));
  }
  VmCounts counts;
  for (const char* section : {"kvm", "exits", "host_faults"}) {
    if (parsed.contains(section) && parsed[section].is_object()) {
      flatten(parsed[section], section, counts);
    }
  }
  return counts;
}

Result<VmCounts> read_vm_counts(const std::string& api_sock) {
  EMBER_TRY(std::string reply,
            host::vm_control_request(api_sock, R"({"op":"stats"})", std::chrono::seconds(30)));
  return parse_vm_counts(reply);
}

VmCounts counts_between(const VmCounts& before, const VmCounts& after) {
  VmCounts added;
  for (const auto& [name, value] : after) {
    auto was = before.find(name);
    if (was == before.end()) continue;
    added[name] = value > was->second ? value - was->second : 0;
  }
  return added;
}

const std::vector<std::string>& reported_counts() {
  static const std::vector<std::string> names = {
      "kvm.vcpus.pf_taken",    "kvm.vcpus.pf_fixed",   "kvm.vcpus.pf_emulate",
      "kvm.vcpus.pf_spurious", "kvm.vcpus.pf_fast",    "kvm.vcpus.pf_guest",
      "kvm.vcpus.exits",       "kvm.vcpus.halt_exits", "kvm.vcpus.io_exits",
      "kvm.vcpus.mmio_exits",  "kvm.vcpus.irq_exits",  "kvm.vcpus.insn_emulation",
      "exits.io",              "exits.mmio",           "exits.hlt",
      "exits.intr",            "exits.other",          "host_faults.minor",
      "host_faults.major"};
  return names;
}

}  // namespace ember::bench
