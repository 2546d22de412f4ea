// A fixed set of worker threads that run one parallel region at a time. The
// calling thread takes part as thread 0, so ThreadPool(2) starts one worker.
// Workers spin briefly between regions (decode runs hundreds of short regions
// per token) and then sleep, so an idle pool costs no CPU.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace tf {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(thread_index) on every thread (caller is 0) and returns when all
  // have finished. Not reentrant: fn must not call Run on the same pool.
  template <typename Fn>
  void Run(Fn&& fn) {
    if (num_threads_ == 1) {
      fn(0);
      return;
    }
    auto trampoline = [](void* ctx, int index) { (*static_cast<std::remove_reference_t<Fn>*>(ctx))(index); };
    RunImpl(trampoline, &fn);
  }

  // Splits [0, n) into one contiguous range per thread, each a multiple of
  // `grain` (but the last), and calls fn(begin, end) for the non-empty ones.
  template <typename Fn>
  void ParallelFor(int64_t n, int64_t grain, Fn&& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(grain, 1);
    const int64_t num_chunks = (n + grain - 1) / grain;
    const int threads = static_cast<int>(std::min<int64_t>(num_threads_, num_chunks));
    if (threads <= 1) {
      fn(int64_t{0}, n);
      return;
    }
    Run([&](int index) {
      if (index >= threads) return;
      const int64_t chunk_begin = num_chunks * index / threads;
      const int64_t chunk_end = num_chunks * (index + 1) / threads;
      const int64_t begin = chunk_begin * grain;
      const int64_t end = std::min(n, chunk_end * grain);
      if (begin < end) fn(begin, end);
    });
  }

  // Calls fn(item, thread_index) for every item in [0, n); threads claim
  // items one at a time as they finish, so uneven items still end together
  // (order items heaviest first for the best balance).
  template <typename Fn>
  void ParallelForDynamic(int64_t n, Fn&& fn) {
    if (n <= 0) return;
    if (num_threads_ == 1 || n == 1) {
      for (int64_t i = 0; i < n; ++i) fn(i, 0);
      return;
    }
    std::atomic<int64_t> next{0};
    Run([&](int index) {
      for (int64_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i, index);
    });
  }

 private:
  using JobFn = void (*)(void* ctx, int index);
  void RunImpl(JobFn fn, void* ctx);
  void WorkerLoop(int index);

  const int num_threads_;
  std::vector<std::thread> workers_;

  JobFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> num_sleeping_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
};

// Threads to use when the user gives none: the cores the process may run on.
int DefaultThreadCount();

}  // namespace tf
