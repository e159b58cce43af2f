#include <gtest/gtest.h>
#include <torch_ext/torch_ext.h>

TEST(Smoke, BuildInfo) {
  auto info = torch_ext::build_info();
  EXPECT_EQ(info.count("version"), 1u);
}
