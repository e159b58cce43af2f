#pragma once
// GoogleTest assertions on tensors, shared by the op suites: element values compared in double
// (every supported dtype converts to double exactly), with the first mismatches printed.

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>
#include <vector>

namespace torch_ext_test {

inline std::vector<double> to_vector(const at::Tensor& t) {
  at::Tensor d = t.detach().to(at::kCPU).to(at::kDouble).contiguous();
  const double* p = d.data_ptr<double>();
  return std::vector<double>(p, p + d.numel());
}

// |actual - expected| <= atol + rtol * |expected| elementwise; NaN must meet NaN and an infinity
// the same infinity.
inline ::testing::AssertionResult AllClose(const at::Tensor& actual, const at::Tensor& expected, double rtol,
                                           double atol) {
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != expected " << expected.sizes();
  }
  const auto a = to_vector(actual);
  const auto e = to_vector(expected);
  int64_t bad = 0;
  double worst_rel = 0.0;
  std::ostringstream msg;
  for (size_t i = 0; i < a.size(); ++i) {
    bool ok;
    if (std::isnan(a[i]) || std::isnan(e[i])) {
      ok = std::isnan(a[i]) && std::isnan(e[i]);
    } else if (std::isinf(a[i]) || std::isinf(e[i])) {
      ok = a[i] == e[i];
    } else {
      const double diff = std::abs(a[i] - e[i]);
      ok = diff <= atol + rtol * std::abs(e[i]);
      if (e[i] != 0.0) worst_rel = std::max(worst_rel, diff / std::abs(e[i]));
    }
    if (!ok && bad++ < 5) {
      msg << "\n  [" << i << "] actual " << std::setprecision(17) << a[i] << " expected " << e[i];
    }
  }
  if (bad) {
    return ::testing::AssertionFailure() << bad << " of " << a.size() << " elements differ (rtol " << rtol
                                         << ", atol " << atol << ", worst rel " << worst_rel << "):" << msg.str();
  }
  return ::testing::AssertionSuccess();
}

// Bitwise-equal values: the same dtype and shape, NaN meets NaN, and zeros carry the same sign
// (unless zero_sign is false).
inline ::testing::AssertionResult Identical(const at::Tensor& actual, const at::Tensor& expected,
                                            bool zero_sign = true) {
  if (actual.scalar_type() != expected.scalar_type()) {
    return ::testing::AssertionFailure() << "dtype " << actual.scalar_type() << " != " << expected.scalar_type();
  }
  if (actual.sizes() != expected.sizes()) {
    return ::testing::AssertionFailure() << "shape " << actual.sizes() << " != expected " << expected.sizes();
  }
  const auto a = to_vector(actual);
  const auto e = to_vector(expected);
  int64_t bad = 0;
  std::ostringstream msg;
  for (size_t i = 0; i < a.size(); ++i) {
    const bool ok = (std::isnan(a[i]) && std::isnan(e[i])) ||
                    (a[i] == e[i] && (!zero_sign || std::signbit(a[i]) == std::signbit(e[i])));
    if (!ok && bad++ < 5) {
      msg << "\n  [" << i << "] actual " << std::setprecision(17) << a[i] << " expected " << e[i];
    }
  }
  if (bad) {
    return ::testing::AssertionFailure() << bad << " of " << a.size() << " elements differ:" << msg.str();
  }
  return ::testing::AssertionSuccess();
}

// The dtype's name in test names (gtest allows only [A-Za-z0-9_]).
inline std::string dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return "Float";
    case at::kDouble:
      return "Double";
    case at::kHalf:
      return "Half";
    case at::kBFloat16:
      return "BFloat16";
    default:
      return "Other";
  }
}

// f() throws a c10::Error whose message (without the backtrace) contains needle.
template <typename F>
void ExpectC10ErrorContaining(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "expected a c10::Error containing \"" << needle << "\", nothing was thrown";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what_without_backtrace()).find(needle), std::string::npos)
        << "message: " << e.what_without_backtrace();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected a c10::Error, got another exception: " << e.what();
  }
}

}  // namespace torch_ext_test
