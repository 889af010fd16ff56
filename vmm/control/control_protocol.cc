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

std::string status_reply(const Status& s) {
  return s.ok() ? dump(json{{"ok", true}}) : error_reply(s.error().message());
}

std::string stats_reply(const ControlStats& st) {
  json exits = json::object();
  for (const auto& [name, count] : st.exits) exits[name] = count;
  return dump(json{{"ok", true},
                   {"state", st.paused ? "paused" : "running"},
                   {"uptime_ms", st.uptime_ms},
                   {"exits", exits},
                   {"mem_mib", st.mem_mib},
                   {"vcpus", st.vcpus}});
}

}  // namespace

std::string handle_control_request(std::string_view line, ControlTarget& target) {
  const json request = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) {
    return error_reply("malformed JSON; send one object per line, e.g. {\"op\":\"stats\"}");
  }
  if (!request.is_object()) return error_reply("the request must be a JSON object");
  const auto op_it = request.find("op");
  if (op_it == request.end() || !op_it->is_string()) {
    return error_reply("missing \"op\": one of pause, resume, snapshot, stats");
  }
  const std::string& op = op_it->get_ref<const std::string&>();
  if (op == "pause") {
    if (target.paused()) return dump(json{{"ok", true}});
    return status_reply(target.pause());
  }
  if (op == "resume") {
    if (!target.paused()) return dump(json{{"ok", true}});
    return status_reply(target.resume());
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
    return status_reply(target.snapshot(dir_it->get_ref<const std::string&>()));
  }
  return error_reply("unknown op \"" + op + "\": use pause, resume, snapshot or stats");
}

}  // namespace ember::vmm
