// FUZZ_CHECK: a property a fuzz target asserts. It aborts (a crash to libFuzzer,
// a failure to the gcc replay test) and says which property broke, in builds
// with and without sanitizers alike.
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)
