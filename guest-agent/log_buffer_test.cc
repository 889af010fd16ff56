// Tests for LogBuffer: the cap, the dropped-bytes line, and starting over after take().
#include "guest-agent/log_buffer.h"

#include <gtest/gtest.h>

namespace ember::agent {
namespace {

TEST(LogBuffer, KeepsTheHeadAndSaysWhatWasDropped) {
  LogBuffer log(10);
  log.append("12345");
  log.append("67890abc");
  log.append("def");
  EXPECT_EQ(log.take(), "1234567890\n[ember-agent: 6 more bytes of output dropped]\n");
  EXPECT_EQ(log.take(), "");
  log.append("fits\n");
  EXPECT_EQ(log.take(), "fits\n");
}

}  // namespace
}  // namespace ember::agent
