// The thread pool tests load fixture models with (LoadModel repacks their
// weights on the pool it is given), shared by the tests of a process;
// tests compute with pools of their own.
#pragma once

#include "base/thread_pool.h"

namespace tf::testing {

inline ThreadPool* LoadPool() {
  static ThreadPool pool(2);
  return &pool;
}

}  // namespace tf::testing
