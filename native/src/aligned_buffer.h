// A growable 64-byte-aligned scratch buffer: the GEMMs keep one per thread for their packed panels, so the
// allocation happens once per thread and size, not once per product.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace saekit {

template <typename T>
struct AlignedBuffer {
  T* data = nullptr;
  size_t capacity = 0;
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer() { std::free(data); }
  /** At least n elements (contents not kept when it grows). */
  T* get(size_t n) {
    if (n > capacity) {
      std::free(data);
      const size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
      data = static_cast<T*>(std::aligned_alloc(64, bytes));
      if (!data) throw std::bad_alloc();
      capacity = n;
    }
    return data;
  }
};

}  // namespace saekit
