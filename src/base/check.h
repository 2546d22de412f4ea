// TF_CHECK for invariants only: a failed check is a bug in tokenfab, never a
// consequence of what a file or a client sent (those return a Status).
//   TF_CHECK(ref_count_[id] > 0) << "double free of block " << id;
#pragma once

#include <sstream>

namespace tf::internal {

class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  [[noreturn]] ~CheckFailure();
  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

// Lets `TF_CHECK(c) << x;` parse as a void expression in the ternary below.
struct CheckVoidify {
  void operator&(const CheckFailure&) {}
};

}  // namespace tf::internal

#define TF_CHECK(condition)                        \
  (__builtin_expect(!!(condition), 1))             \
      ? (void)0                                    \
      : ::tf::internal::CheckVoidify() &           \
            ::tf::internal::CheckFailure(__FILE__, __LINE__, #condition)

#ifdef NDEBUG
#define TF_DCHECK(condition) \
  while (false) TF_CHECK(condition)
#else
#define TF_DCHECK(condition) TF_CHECK(condition)
#endif
