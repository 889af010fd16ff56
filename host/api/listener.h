// Listener: a listening Unix or TCP socket owned with RAII (a Unix socket's file goes with it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace ember::host {

class Listener {
 public:
  // Creates the parent directory (0755) when missing, replaces a stale socket file (but
  // refuses when a process still accepts on it, or when the path is not a socket), binds,
  // sets the file's mode and listens.
  static Result<Listener> unix_socket(const std::string& path, mode_t mode = 0660);
  // "HOST:PORT" ("127.0.0.1:9000", "[::1]:9000", "localhost:9000", ":9000" for every
  // interface). Port 0 picks a free port: see port().
  static Result<Listener> tcp(const std::string& host_port);

  Listener(Listener&& other) noexcept;
  Listener& operator=(Listener&& other) = delete;
  Listener(const Listener&) = delete;
  ~Listener();

  int fd() const { return fd_.get(); }
  // "unix:/run/ember/ember.sock" or "tcp:127.0.0.1:9000", for logs.
  const std::string& description() const { return description_; }
  uint16_t port() const { return port_; }  // 0 for Unix sockets

 private:
  Listener(UniqueFd fd, std::string description, std::string unix_path, uint16_t port)
      : fd_(std::move(fd)),
        description_(std::move(description)),
        unix_path_(std::move(unix_path)),
        port_(port) {}

  UniqueFd fd_;
  std::string description_;
  std::string unix_path_;  // removed on destruction when set
  uint16_t port_ = 0;
};

}  // namespace ember::host
