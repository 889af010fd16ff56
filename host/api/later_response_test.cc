// Tests for LaterResponse: one answer, handed over whichever side comes first.
#include "host/api/later_response.h"

#include <gtest/gtest.h>

#include <thread>

namespace ember::host {
namespace {

HttpResponse answer(int status) {
  HttpResponse response;
  response.status = status;
  return response;
}

TEST(LaterResponse, AnAnswerGivenBeforeThenIsPassedOnAtOnce) {
  LaterResponse later;
  later.give(answer(201));
  std::optional<HttpResponse> got;
  later.then([&](std::optional<HttpResponse> response) { got = std::move(response); });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, 201);
}

TEST(LaterResponse, AnAnswerGivenLaterReachesThenOnTheGivingThreadAndOnlyTheFirstCounts) {
  LaterResponse later;
  std::optional<HttpResponse> got;
  std::thread::id on;
  later.then([&](std::optional<HttpResponse> response) {
    got = std::move(response);
    on = std::this_thread::get_id();
  });
  EXPECT_FALSE(got.has_value());
  std::thread giver([&] {
    later.give(answer(200));
    later.give(answer(500));
  });
  const std::thread::id giver_id = giver.get_id();
  giver.join();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(on, giver_id);
  EXPECT_EQ(later.wait().status, 200);
}

TEST(LaterResponse, OneNeverGivenEndsWithNoAnswer) {
  bool called = false;
  std::optional<HttpResponse> got = answer(200);
  {
    auto later = std::make_shared<LaterResponse>();
    later->then([&](std::optional<HttpResponse> response) {
      called = true;
      got = std::move(response);
    });
  }
  EXPECT_TRUE(called);
  EXPECT_FALSE(got.has_value());
}

TEST(LaterResponse, SettledWaitsForADeferredAnswer) {
  auto later = std::make_shared<LaterResponse>();
  std::thread giver([later] { later->give(answer(202)); });
  EXPECT_EQ(settled(deferred_response(later)).status, 202);
  giver.join();
  EXPECT_EQ(settled(answer(404)).status, 404);
}

}  // namespace
}  // namespace ember::host
