#include "base/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace tf {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError("x is odd: " + std::to_string(x));
  return x / 2;
}

StatusOr<int> Quarter(int x) {
  TF_ASSIGN_OR_RETURN(int half, Half(x));
  TF_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusTest, OkAndErrorCarryCodeAndMessage) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = DataLossError("tensor t: offset 5 past end");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "tensor t: offset 5 past end");
  EXPECT_EQ(s.WithContext("model.gguf").message(), "model.gguf: tensor t: offset 5 past end");
}

TEST(StatusTest, ParamAndReasonTravelAsDataThroughContext) {
  const Status s = InvalidArgumentError("temperature = 5: must be within [0, 2]").WithParam("temperature");
  EXPECT_EQ(s.param(), "temperature");
  EXPECT_TRUE(s.reason().empty());
  const Status wrapped = s.WithReason("out_of_range").WithContext("request 7");
  EXPECT_EQ(wrapped.param(), "temperature");
  EXPECT_EQ(wrapped.reason(), "out_of_range");
  EXPECT_EQ(wrapped.message(), "request 7: temperature = 5: must be within [0, 2]");
  EXPECT_EQ(wrapped.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Status::Ok().WithParam("x").param().empty());  // an OK status names nothing
}

TEST(StatusTest, AssignOrReturnPropagatesFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  StatusOr<int> bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "x is odd: 3");
}

TEST(StatusTest, StatusOrHoldsMoveOnlyValues) {
  StatusOr<std::unique_ptr<int>> p = std::make_unique<int>(7);
  ASSERT_TRUE(p.ok());
  std::unique_ptr<int> taken = std::move(p).value();
  EXPECT_EQ(*taken, 7);
}

TEST(StatusDeathTest, ValueOfErrorIsAnInvariantViolation) {
  StatusOr<int> bad = InvalidArgumentError("nope");
  EXPECT_DEATH({ (void)bad.value(); }, "nope");
}

}  // namespace
}  // namespace tf
