// FdStream: a socket as a Beast sync stream whose reads and writes time out (poll).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <chrono>

namespace ember::host {

class FdStream {
 public:
  // Borrows fd; its owner closes it.
  FdStream(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}

  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers, boost::system::error_code& ec) {
    const auto buffer = first_nonempty<boost::asio::mutable_buffer>(buffers);
    ec = {};
    if (buffer.size() == 0) return 0;
    if (!wait(POLLIN, ec)) return 0;
    while (true) {
      const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
      if (n > 0) return static_cast<size_t>(n);
      if (n == 0) {
        ec = boost::asio::error::eof;
        return 0;
      }
      if (errno == EINTR) continue;
      ec = boost::system::error_code(errno, boost::system::system_category());
      return 0;
    }
  }

  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers, boost::system::error_code& ec) {
    const auto buffer = first_nonempty<boost::asio::const_buffer>(buffers);
    ec = {};
    if (buffer.size() == 0) return 0;
    if (!wait(POLLOUT, ec)) return 0;
    while (true) {
      const ssize_t n = ::send(fd_, buffer.data(), buffer.size(), MSG_NOSIGNAL);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno == EINTR) continue;
      ec = boost::system::error_code(errno, boost::system::system_category());
      return 0;
    }
  }

  // The throwing forms the stream concepts require; Ember calls the error_code forms.
  template <typename MutableBuffers>
  size_t read_some(const MutableBuffers& buffers) {
    boost::system::error_code ec;
    const size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <typename ConstBuffers>
  size_t write_some(const ConstBuffers& buffers) {
    boost::system::error_code ec;
    const size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  template <typename Buffer, typename Buffers>
  static Buffer first_nonempty(const Buffers& buffers) {
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      Buffer buffer(*it);
      if (buffer.size() > 0) return buffer;
    }
    return Buffer();
  }

  bool wait(short events, boost::system::error_code& ec) const {
    pollfd p{fd_, events, 0};
    while (true) {
      const int rc = ::poll(&p, 1, static_cast<int>(timeout_.count()));
      if (rc > 0) return true;
      if (rc == 0) {
        ec = boost::asio::error::timed_out;
        return false;
      }
      if (errno != EINTR) {
        ec = boost::system::error_code(errno, boost::system::system_category());
        return false;
      }
    }
  }

  int fd_;
  std::chrono::milliseconds timeout_;
};

}  // namespace ember::host
