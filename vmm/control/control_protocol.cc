// Control protocol dispatch with nlohmann-json in its non-throwing modes.
#include "vmm/control/control_protocol.h"

#include <nlohmann/json.hpp>

namespace ember::vmm {
namespace {

using nlohmann::json;

std::string dump(const json& j) {
  // Replace invalid UTF-8 (a path from the request, an errno text) instead of throwing.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string error_reply(const std::string& message) {
  return dump(json{{"ok", false}, {"error", message}});
}


std::string stats_reply(const ControlStats& st) {
  json exits = json::object();
  for (const auto& [name, count] : st.exits) exits[name] = count;
  return dump(json{{"ok", true},
                   {"state", st.paused ? "paused" : "running"},
                   {"uptime_ms", st.uptime_ms},
                   {"exits", exits},
                   {"mem_mib", st.mem_mib},
                   {"vcpus", st.vcpus},
                   {"kvm", {{"vm", st.kvm_vm}, {"vcpus", st.kvm_vcpus}}},
                   {"host_faults",
                    {{"minor", st.host_minor_faults}, {"major", st.host_major_faults}}}});
}

// The request as a JSON object, or an error naming what is wrong with it.
Result<json> parse_object(std::string_view line) {
  json request = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) {
    return make_error("control request",
                      "malformed JSON; send one object per line, e.g. {\"op\":\"stats\"}");
  }
  if (!request.is_object()) return make_error("control request", "the request must be a JSON object");
  return request;
}

Error bad_restore(const std::string& message) { return make_error("restore request", message); }

}  // namespace

std::string control_status_reply(const Status& status) {
  return status.ok() ? dump(json{{"ok", true}}) : error_reply(status.error().message());
}

Result<RestoreRequest> parse_restore_request(std::string_view line) {
  EMBER_TRY(json request, parse_object(line));
  const auto op = request.find("op");
  if (op == request.end() || *op != "restore") {
    return bad_restore("this VMM is on standby and takes only {\"op\":\"restore\",\"dir\":\"DIR\"}");
  }
  RestoreRequest r;
  const auto dir = request.find("dir");
  if (dir == request.end() || !dir->is_string() || dir->get_ref<const std::string&>().empty()) {
    return bad_restore("\"dir\" must name the snapshot directory");
  }
  r.dir = dir->get<std::string>();
  if (const auto uds = request.find("vsock_uds"); uds != request.end()) {
    if (!uds->is_string() || uds->get_ref<const std::string&>().empty()) {
      return bad_restore("\"vsock_uds\" must be a non-empty path");
    }
    r.vsock_uds = uds->get<std::string>();
  }
  if (const auto disks = request.find("disks"); disks != request.end()) {
    if (!disks->is_array()) return bad_restore("\"disks\" must be an array of paths");
    for (const json& d : *disks) {
      if (!d.is_string() || d.get_ref<const std::string&>().empty()) {
        return bad_restore("\"disks\" must be an array of non-empty paths");
      }
      r.disks.push_back(d.get<std::string>());
    }
  }
  if (const auto paused = request.find("start_paused"); paused != request.end()) {
    if (!paused->is_boolean()) return bad_restore("\"start_paused\" must be true or false");
    r.start_paused = paused->get<bool>();
  }
  return r;
}

std::string handle_control_request(std::string_view line, ControlTarget& target) {
  auto parsed = parse_object(line);
  if (!parsed.ok()) return error_reply(parsed.error().message());
  const json& request = *parsed;
  const auto op_it = request.find("op");
  if (op_it == request.end() || !op_it->is_string()) {
    return error_reply("missing \"op\": one of pause, resume, snapshot, stats");
  }
  const std::string& op = op_it->get_ref<const std::string&>();
  if (op == "pause") {
    if (target.paused()) return dump(json{{"ok", true}});
    return control_status_reply(target.pause());
  }
  if (op == "resume") {
    if (!target.paused()) return dump(json{{"ok", true}});
    return control_status_reply(target.resume());
  }
  if (op == "stats") return stats_reply(target.stats());
  if (op == "snapshot") {
    const auto dir_it = request.find("dir");
    if (dir_it == request.end() || !dir_it->is_string() ||
        dir_it->get_ref<const std::string&>().empty()) {
      return error_reply("snapshot needs \"dir\": the directory to write state.bin and memory.bin");
    }
    if (!target.paused()) {
      return error_reply("the VM is running; send {\"op\":\"pause\"} before taking a snapshot");
    }
    return control_status_reply(target.snapshot(dir_it->get_ref<const std::string&>()));
  }
  return error_reply("unknown op \"" + op + "\": use pause, resume, snapshot or stats");
}

}  // namespace ember::vmm
