// ReadExecInterpreter on real programs, scripts, hand-made 32- and 64-bit ELF
// headers, and damaged files: what the kernel would need, and never a crash.
#include "common/exec_interpreter.h"

#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/integration/harness.h"

namespace gatehouse {
namespace {

using Kind = ExecInterpreter::Kind;
using testing::TempDir;

ExecInterpreter ReadPath(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  ExecInterpreter result = ReadExecInterpreter(fd);
  close(fd);
  return result;
}

ExecInterpreter ReadBytes(const TempDir& dir, const std::string& bytes) {
  return ReadPath(dir.Write("file", bytes));
}

std::string Bytes(const void* data, size_t size) {
  return std::string(static_cast<const char*>(data), size);
}

// A minimal ELF of class `Header`/`ProgramHeader`: one PT_LOAD, then a PT_INTERP
// naming `interpreter` (none when empty), the path stored after the table.
template <typename Header, typename ProgramHeader>
std::string MakeElf(unsigned char elf_class, const std::string& interpreter) {
  Header header{};
  std::memcpy(header.e_ident, ELFMAG, SELFMAG);
  header.e_ident[EI_CLASS] = elf_class;
  header.e_ident[EI_DATA] = ELFDATA2LSB;
  header.e_ident[EI_VERSION] = EV_CURRENT;
  header.e_type = ET_EXEC;
  header.e_phoff = sizeof header;
  header.e_phentsize = sizeof(ProgramHeader);
  header.e_phnum = interpreter.empty() ? 1 : 2;
  ProgramHeader load{};
  load.p_type = PT_LOAD;
  ProgramHeader interp{};
  interp.p_type = PT_INTERP;
  interp.p_offset = sizeof header + 2 * sizeof(ProgramHeader);
  interp.p_filesz = interpreter.size() + 1;
  std::string file = Bytes(&header, sizeof header) + Bytes(&load, sizeof load);
  if (!interpreter.empty()) {
    file += Bytes(&interp, sizeof interp) + interpreter + std::string(1, '\0');
  }
  return file;
}

TEST(ExecInterpreter, ADynamicProgramNeedsItsLoader) {
  ExecInterpreter cat = ReadPath("/bin/cat");
  EXPECT_EQ(cat.kind, Kind::kElf);
  // /lib64/ld-linux-x86-64.so.2 on amd64, /lib/ld-linux-aarch64.so.1 on arm64.
  EXPECT_EQ(cat.path.rfind("/lib", 0), 0u) << cat.path;
  EXPECT_NE(cat.path.find("/ld-linux"), std::string::npos) << cat.path;
  EXPECT_EQ(access(cat.path.c_str(), F_OK), 0) << cat.path;
}

TEST(ExecInterpreter, AStaticProgramNeedsNothing) {
  ExecInterpreter probe = ReadPath(testing::Runfile("tests/programs/probe"));
  EXPECT_EQ(probe.kind, Kind::kNone) << probe.path;
}

TEST(ExecInterpreter, HandMade32And64BitHeaders) {
  TempDir dir;
  ExecInterpreter elf32 =
      ReadBytes(dir, MakeElf<Elf32_Ehdr, Elf32_Phdr>(ELFCLASS32, "/lib/ld.so.1"));
  EXPECT_EQ(elf32.kind, Kind::kElf);
  EXPECT_EQ(elf32.path, "/lib/ld.so.1");
  ExecInterpreter elf64 =
      ReadBytes(dir, MakeElf<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, "/lib64/ld-x.so.2"));
  EXPECT_EQ(elf64.kind, Kind::kElf);
  EXPECT_EQ(elf64.path, "/lib64/ld-x.so.2");
  EXPECT_EQ(ReadBytes(dir, MakeElf<Elf32_Ehdr, Elf32_Phdr>(ELFCLASS32, "")).kind, Kind::kNone);
  EXPECT_EQ(ReadBytes(dir, MakeElf<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, "")).kind, Kind::kNone);
}

TEST(ExecInterpreter, ScriptsNeedTheirShebangInterpreter) {
  TempDir dir;
  EXPECT_EQ(ReadBytes(dir, "#!/bin/sh\necho hi\n").path, "/bin/sh");
  ExecInterpreter spaced = ReadBytes(dir, "#! /usr/bin/perl -w\n");
  EXPECT_EQ(spaced.kind, Kind::kScript);
  EXPECT_EQ(spaced.path, "/usr/bin/perl");
  EXPECT_EQ(ReadBytes(dir, "#!/bin/sh").path, "/bin/sh");  // no newline at all
  EXPECT_EQ(ReadBytes(dir, "#!\n").kind, Kind::kNone);
  EXPECT_EQ(ReadBytes(dir, "#!   \t\n").kind, Kind::kNone);
}

TEST(ExecInterpreter, GarbageAndTruncatedFilesGiveNothingAndNoCrash) {
  TempDir dir;
  EXPECT_EQ(ReadBytes(dir, "").kind, Kind::kNone);
  EXPECT_EQ(ReadBytes(dir, "#").kind, Kind::kNone);
  EXPECT_EQ(ReadBytes(dir,
                      "\x7f"
                      "ELF")
                .kind,
            Kind::kNone);
  std::string noise;
  for (int i = 0; i < 4096; ++i) noise += static_cast<char>((i * 7919 + 13) % 251);
  EXPECT_EQ(ReadBytes(dir, noise).kind, Kind::kNone);
  // Every prefix of a real dynamic program: whole headers give the loader,
  // anything shorter gives nothing.
  std::string cat = testing::ReadFile("/bin/cat");
  ASSERT_GT(cat.size(), 4096u);
  std::string loader = ReadPath("/bin/cat").path;
  for (size_t size = 0; size <= 1024; ++size) {
    ExecInterpreter cut = ReadBytes(dir, cat.substr(0, size));
    EXPECT_TRUE(cut.kind == Kind::kNone || cut.path == loader) << size << " " << cut.path;
  }
  // Lies in the headers: a huge or bogus table, an interpreter out of the file,
  // too long, or without its NUL.
  std::string good = MakeElf<Elf64_Ehdr, Elf64_Phdr>(ELFCLASS64, "/lib/ld.so");
  auto header = [&](auto edit) {
    std::string bad = good;
    Elf64_Ehdr h;
    std::memcpy(&h, bad.data(), sizeof h);
    edit(&h);
    std::memcpy(&bad[0], &h, sizeof h);
    return ReadBytes(dir, bad);
  };
  EXPECT_EQ(header([](Elf64_Ehdr* h) { h->e_phnum = 0xffff; }).kind, Kind::kNone);
  EXPECT_EQ(header([](Elf64_Ehdr* h) { h->e_phoff = ~0ull; }).kind, Kind::kNone);
  EXPECT_EQ(header([](Elf64_Ehdr* h) { h->e_phoff = 1ull << 62; }).kind, Kind::kNone);
  EXPECT_EQ(header([](Elf64_Ehdr* h) { h->e_phentsize = 7; }).kind, Kind::kNone);
  EXPECT_EQ(header([](Elf64_Ehdr* h) { h->e_ident[EI_CLASS] = 9; }).kind, Kind::kNone);
  EXPECT_EQ(header([](Elf64_Ehdr* h) { h->e_ident[EI_DATA] = ELFDATA2MSB; }).kind, Kind::kNone);
  auto interp = [&](auto edit) {
    std::string bad = good;
    size_t at = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr);
    Elf64_Phdr p;
    std::memcpy(&p, bad.data() + at, sizeof p);
    edit(&p);
    std::memcpy(&bad[at], &p, sizeof p);
    return ReadBytes(dir, bad);
  };
  EXPECT_EQ(interp([](Elf64_Phdr* p) { p->p_offset = ~0ull - 3; }).kind, Kind::kNone);
  EXPECT_EQ(interp([](Elf64_Phdr* p) { p->p_filesz = ~0ull; }).kind, Kind::kNone);
  EXPECT_EQ(interp([](Elf64_Phdr* p) { p->p_filesz = 1; }).kind, Kind::kNone);
  EXPECT_EQ(interp([](Elf64_Phdr* p) { p->p_filesz -= 1; }).kind, Kind::kNone);  // no NUL
  EXPECT_EQ(interp([](Elf64_Phdr* p) { p->p_filesz += 1; }).kind, Kind::kNone);  // past the end
  EXPECT_EQ(interp([](Elf64_Phdr*) {}).path, "/lib/ld.so");                      // untouched
}

}  // namespace
}  // namespace gatehouse
