// Fixed-width float vectors (GCC vector extensions) for the plain C++ CPU kernels, and the
// instruction set a kernel is compiled for. A kernel is written once as a template over the
// vector width, with every helper always inlined, and instantiated in three functions compiled
// for AVX-512 (16 lanes), AVX2 + FMA (8 lanes) and baseline x86-64 (4 lanes); isa() picks one at
// run time. (GCC lowers a 16-lane vector to AVX2 by spilling it through the stack, so one width
// for every target_clones clone was slow on AVX2.) Each lane is an independent sum, so the width
// never changes the arithmetic: the AVX-512 and AVX2 kernels give the same bits; the baseline one
// has no FMA.
#pragma once

namespace sbert::cpu::simd {

template <int Lanes>
struct Vec;
template <>
struct Vec<4> {
  typedef float type __attribute__((vector_size(16)));
};
template <>
struct Vec<8> {
  typedef float type __attribute__((vector_size(32)));
};
template <>
struct Vec<16> {
  typedef float type __attribute__((vector_size(64)));
};

enum class Isa { Avx512, Avx2, Baseline };

inline Isa isa() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  static const Isa chosen = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) return Isa::Avx512;
    if (__builtin_cpu_supports("x86-64-v3")) return Isa::Avx2;
    return Isa::Baseline;
  }();
  return chosen;
#else
  return Isa::Baseline;
#endif
}

}  // namespace sbert::cpu::simd

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SBERT_TARGET_AVX512 __attribute__((target("arch=x86-64-v4")))
#define SBERT_TARGET_AVX2 __attribute__((target("arch=x86-64-v3")))
#else
#define SBERT_TARGET_AVX512
#define SBERT_TARGET_AVX2
#endif
