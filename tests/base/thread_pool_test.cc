#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <vector>

namespace tf {
namespace {

TEST(ThreadPoolTest, RunCallsEveryThreadOnce) {
  ThreadPool pool(4);
  std::vector<std::atomic<int>> calls(4);
  for (int round = 0; round < 100; ++round) {
    pool.Run([&](int index) { calls[index].fetch_add(1); });
  }
  for (auto& c : calls) EXPECT_EQ(c.load(), 100);
}

TEST(ThreadPoolTest, ParallelForCoversRangeExactlyOnceOnGrainBoundaries) {
  ThreadPool pool(3);
  for (int64_t n : {1, 7, 64, 1000, 1001}) {
    std::vector<std::atomic<int>> hits(n);
    std::atomic<bool> misaligned{false};
    pool.ParallelFor(n, 16, [&](int64_t begin, int64_t end) {
      if (begin % 16 != 0) misaligned = true;
      for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
    });
    EXPECT_FALSE(misaligned) << n;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
  }
}

TEST(ThreadPoolTest, WorkersWakeAfterSleeping) {
  ThreadPool pool(2);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // workers go to sleep
  std::atomic<int> sum{0};
  pool.Run([&](int index) { sum += index + 1; });
  EXPECT_EQ(sum.load(), 3);
}

TEST(ThreadPoolTest, SingleThreadPoolRunsInline) {
  ThreadPool pool(1);
  std::vector<int> order;
  pool.ParallelFor(10, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) order.push_back(static_cast<int>(i));
  });
  std::vector<int> expected(10);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(order, expected);
}

}  // namespace
}  // namespace tf
