// The per-source budget (of UDP replies, of log lines): a burst, a refill rate, sources kept
// apart, and a bounded table that forgets only sources whose bucket is full.
#include "supervisor/source_budget.h"

#include <gtest/gtest.h>

#include <string>

namespace gatehouse {
namespace {

int Taken(SourceBudget& budget, const std::string& source, int tries, double now) {
  int taken = 0;
  for (int i = 0; i < tries; ++i) taken += budget.Take(source, now) ? 1 : 0;
  return taken;
}

TEST(SourceBudget, ABurstThenTheRate) {
  SourceBudget budget(256, 128);
  EXPECT_EQ(Taken(budget, "127.0.0.1", 1000, 100.0), 256);
  EXPECT_FALSE(budget.Take("127.0.0.1", 100.0));
  // Half a second refills 64, no more.
  EXPECT_EQ(Taken(budget, "127.0.0.1", 1000, 100.5), 64);
  // Never more than the burst, however long the pause.
  EXPECT_EQ(Taken(budget, "127.0.0.1", 1000, 1000.0), 256);
}

TEST(SourceBudget, AClientBelowTheRateIsAlwaysAnswered) {
  SourceBudget budget(256, 128);
  double now = 5;
  for (int i = 0; i < 10000; ++i, now += 1.0 / 100) EXPECT_TRUE(budget.Take("192.0.2.1", now)) << i;
}

TEST(SourceBudget, SourcesHaveBudgetsOfTheirOwn) {
  SourceBudget budget(4, 1);
  EXPECT_EQ(Taken(budget, "127.0.0.1", 10, 1.0), 4);
  EXPECT_EQ(Taken(budget, "127.0.0.2", 10, 1.0), 4);
  EXPECT_EQ(budget.sources(), 2u);
}

TEST(SourceBudget, TheTableIsBoundedAndForgetsOnlyFullBuckets) {
  SourceBudget budget(2, 1, 3);
  for (const char* source : {"a", "b", "c"}) EXPECT_TRUE(budget.Take(source, 10.0));
  // Full table, every source still spending: a new one shares the spare bucket.
  EXPECT_EQ(Taken(budget, "d", 5, 10.0), 2);
  EXPECT_EQ(Taken(budget, "e", 5, 10.0), 0);
  EXPECT_EQ(budget.sources(), 3u);
  // "a" keeps its spent budget: it is not forgotten while it would be short.
  EXPECT_EQ(Taken(budget, "a", 5, 10.0), 1);
  // Two seconds on every bucket is full again: the least recently used goes.
  EXPECT_EQ(Taken(budget, "f", 5, 12.0), 2);
  EXPECT_EQ(budget.sources(), 3u);
}

}  // namespace
}  // namespace gatehouse
