// What the kernel must find before it can run a file: the ELF interpreter
// (PT_INTERP, the dynamic loader) of a dynamically linked program, or the
// interpreter on a script's `#!` line. --check uses it to tell that a program
// cannot run inside a chroot before any connection fails on it.
#pragma once

#include <string>

namespace gatehouse {

struct ExecInterpreter {
  enum class Kind {
    kNone,    // a static ELF, or a file the kernel would not run anyway (not ours to judge)
    kElf,     // PT_INTERP of a 32- or 64-bit ELF of this machine's byte order
    kScript,  // the path after `#!`
  };
  Kind kind = Kind::kNone;
  std::string path;
};

// Reads only what it needs from `fd` with bounded preads (at most the 64 KiB of
// program headers the kernel itself accepts, and a path of at most PATH_MAX);
// a truncated or malformed file gives kNone, never a crash.
ExecInterpreter ReadExecInterpreter(int fd);

}  // namespace gatehouse
