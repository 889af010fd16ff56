// run_ip: iproute2's `ip` run as a child process, with a batch of commands on its stdin.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace ember::host::net {

// The path of `ip`: the first executable one on $PATH, /usr/sbin, /sbin, /usr/bin or /bin
// (a daemon's PATH often lacks the sbin folders). An error says to install iproute2.
Result<std::string> find_ip_binary();

// The commands as the input of `ip -batch -`: one a line.
std::string ip_batch(std::initializer_list<std::string> commands);

// Runs `<ip> <args...>` with `input` as its stdin (e.g. {"-batch", "-"} and one command a
// line) and waits for it. A failure's context holds what ip printed.
Status run_ip(const std::string& ip, const std::vector<std::string>& args,
              std::string_view input = {});

}  // namespace ember::host::net
