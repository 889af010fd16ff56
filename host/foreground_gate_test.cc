// Tests for ForegroundGate: background work waits for the cold starts, within a bound.
#include "host/foreground_gate.h"

#include <gtest/gtest.h>

#include <future>
#include <optional>

namespace ember::host {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

TEST(ForegroundGate, NoColdStartMeansNoWait) {
  ForegroundGate gate;
  const auto start = Clock::now();
  gate.wait_for_turn(milliseconds(5000));
  EXPECT_LT(Clock::now() - start, milliseconds(100));
}

TEST(ForegroundGate, BackgroundWaitsUntilTheLastScopeEnds) {
  ForegroundGate gate;
  std::optional<ForegroundGate::Scope> first(gate.enter()), second(gate.enter());
  auto background = std::async(std::launch::async, [&] {
    gate.wait_for_turn(milliseconds(10000));
    return Clock::now();
  });
  EXPECT_EQ(background.wait_for(milliseconds(200)), std::future_status::timeout);
  first.reset();
  EXPECT_EQ(background.wait_for(milliseconds(200)), std::future_status::timeout);
  const auto released = Clock::now();
  second.reset();
  ASSERT_EQ(background.wait_for(milliseconds(2000)), std::future_status::ready);
  EXPECT_GE(background.get(), released);
}

TEST(ForegroundGate, AMovedScopeStillHoldsOnce) {
  ForegroundGate gate;
  std::optional<ForegroundGate::Scope> moved;
  {
    ForegroundGate::Scope scope = gate.enter();
    moved.emplace(std::move(scope));
  }  // the moved-from scope releases nothing
  const auto start = Clock::now();
  gate.wait_for_turn(milliseconds(300));
  EXPECT_GE(Clock::now() - start, milliseconds(250));
  moved.reset();
  const auto after = Clock::now();
  gate.wait_for_turn(milliseconds(5000));
  EXPECT_LT(Clock::now() - after, milliseconds(100));
}

TEST(ForegroundGate, WaitIsBoundedWhileAScopeIsHeld) {
  ForegroundGate gate;
  auto scope = gate.enter();
  const auto start = Clock::now();
  gate.wait_for_turn(milliseconds(200));
  const auto waited = Clock::now() - start;
  EXPECT_GE(waited, milliseconds(190));
  EXPECT_LT(waited, milliseconds(2000));
}

}  // namespace
}  // namespace ember::host
