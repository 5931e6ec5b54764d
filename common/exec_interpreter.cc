#include "common/exec_interpreter.h"

#include <elf.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace gatehouse {
namespace {

// The kernel's own bounds: binfmt_script reads the first 256 bytes
// (BINPRM_BUF_SIZE); binfmt_elf refuses program headers over 64 KiB.
constexpr size_t kScriptHeadBytes = 256;
constexpr size_t kMaxProgramHeaderBytes = 65536;

// Exactly `size` bytes at `offset`, or false (a short file, an error).
bool ReadAt(int fd, uint64_t offset, void* out, size_t size) {
  if (offset > static_cast<uint64_t>(INT64_MAX) - size) return false;
  size_t done = 0;
  while (done < size) {
    ssize_t n =
        pread(fd, static_cast<char*>(out) + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// `#!` then blanks, then the interpreter up to the next blank or newline.
ExecInterpreter ScriptInterpreter(const char* head, size_t size) {
  ExecInterpreter result;
  size_t at = 2;
  while (at < size && (head[at] == ' ' || head[at] == '\t')) ++at;
  size_t end = at;
  while (end < size && head[end] != ' ' && head[end] != '\t' && head[end] != '\n' &&
         head[end] != '\0') {
    ++end;
  }
  if (end == at) return result;
  result.kind = ExecInterpreter::Kind::kScript;
  result.path.assign(head + at, end - at);
  return result;
}

// The PT_INTERP path of an ELF whose class is given by the header and program
// header types (Elf32_* or Elf64_*).
template <typename Header, typename ProgramHeader>
ExecInterpreter ElfInterpreter(int fd) {
  ExecInterpreter result;
  Header header;
  if (!ReadAt(fd, 0, &header, sizeof header)) return result;
  if (header.e_phentsize != sizeof(ProgramHeader) || header.e_phnum == 0) return result;
  size_t table_bytes = static_cast<size_t>(header.e_phnum) * sizeof(ProgramHeader);
  if (table_bytes > kMaxProgramHeaderBytes) return result;
  std::vector<ProgramHeader> table(header.e_phnum);
  if (!ReadAt(fd, header.e_phoff, table.data(), table_bytes)) return result;
  for (const ProgramHeader& entry : table) {
    if (entry.p_type != PT_INTERP) continue;
    // The kernel wants 2 to PATH_MAX bytes, the last one a NUL.
    if (entry.p_filesz < 2 || entry.p_filesz > PATH_MAX) return result;
    std::vector<char> path(entry.p_filesz);
    if (!ReadAt(fd, entry.p_offset, path.data(), path.size())) return result;
    if (path.back() != '\0') return result;
    result.kind = ExecInterpreter::Kind::kElf;
    result.path = path.data();  // up to the first NUL
    return result;
  }
  return result;  // no PT_INTERP: static
}

bool NativeByteOrder(unsigned char data) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return data == ELFDATA2LSB;
#else
  return data == ELFDATA2MSB;
#endif
}

}  // namespace

ExecInterpreter ReadExecInterpreter(int fd) {
  char head[kScriptHeadBytes];
  ssize_t got = 0;
  do {
    got = pread(fd, head, sizeof head, 0);
  } while (got < 0 && errno == EINTR);
  if (got < 2) return {};
  size_t size = static_cast<size_t>(got);
  if (head[0] == '#' && head[1] == '!') return ScriptInterpreter(head, size);
  if (size < EI_NIDENT || std::memcmp(head, ELFMAG, SELFMAG) != 0) return {};
  // A foreign byte order cannot run here at all; the kernel says so itself.
  if (!NativeByteOrder(static_cast<unsigned char>(head[EI_DATA]))) return {};
  switch (head[EI_CLASS]) {
    case ELFCLASS32:
      return ElfInterpreter<Elf32_Ehdr, Elf32_Phdr>(fd);
    case ELFCLASS64:
      return ElfInterpreter<Elf64_Ehdr, Elf64_Phdr>(fd);
    default:
      return {};
  }
}

}  // namespace gatehouse
