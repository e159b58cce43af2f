// The CPU kernels' choice of streaming (non-temporal) stores (ops/cpu/elementwise.h): only for passes past the
// last-level cache, and only into output pages already mapped in (a fresh mmap, as glibc's default allocator
// gives every large output, takes normal stores). The choice changes no value, so only here is it seen.

#include <gtest/gtest.h>

#include <sys/mman.h>

#include <cstring>

#ifndef CPU_CAPABILITY
#define CPU_CAPABILITY DEFAULT
#define CPU_CAPABILITY_DEFAULT
#endif
#include <torch_ext/ops/cpu/elementwise.h>

namespace {

using torch_ext::ops::cpu::llc_bytes;
using torch_ext::ops::cpu::pages_resident;
using torch_ext::ops::cpu::use_streaming_stores;

class AnonymousMapping {
 public:
  explicit AnonymousMapping(size_t bytes) : bytes_(bytes) {
    p_ = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  ~AnonymousMapping() {
    if (p_ != MAP_FAILED) {
      munmap(p_, bytes_);
    }
  }
  char* data() const { return static_cast<char*>(p_); }
  bool ok() const { return p_ != MAP_FAILED; }

 private:
  void* p_;
  size_t bytes_;
};

TEST(StreamingStores, OnlyIntoPagesAlreadyMappedIn) {
  const int64_t bytes = int64_t{8} << 20;
  AnonymousMapping out(bytes);
  ASSERT_TRUE(out.ok());
  const int64_t past_llc = 2 * llc_bytes();
  EXPECT_FALSE(pages_resident(out.data(), bytes));
  EXPECT_FALSE(use_streaming_stores(past_llc, out.data(), bytes));
  std::memset(out.data(), 1, bytes);
  EXPECT_TRUE(pages_resident(out.data(), bytes));
  EXPECT_TRUE(use_streaming_stores(past_llc, out.data(), bytes));
  EXPECT_FALSE(use_streaming_stores(llc_bytes() - 1, out.data(), bytes));  // fits the cache: normal stores
  // Only the first half written (an allocator's reused head, the rest fresh): not resident.
  ASSERT_EQ(madvise(out.data(), bytes, MADV_DONTNEED), 0);
  std::memset(out.data(), 1, bytes / 4);
  EXPECT_FALSE(pages_resident(out.data(), bytes));
}

}  // namespace
