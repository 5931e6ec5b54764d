// Config input an attacker or a slip of the keyboard might give: identities that
// would wrap to root, numbers that would throw, special files where config files
// belong, NUL bytes, junk after a [section], and control bytes that would reach
// the terminal. The result must always be a clean `file:line` error or success.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "common/config.h"
#include "common/config/keys.h"
#include "common/control_bytes.h"
#include "common/ini_file.h"
#include "tests/integration/harness.h"

namespace gatehouse {
namespace {

using testing::CommandResult;
using testing::Gatehouse;
using testing::RunCommand;
using testing::TempDir;

struct Loaded {
  bool ok = false;
  bool threw = false;
  std::string exception;
  Config config;
  std::vector<std::string> errors;
  std::string AllErrors() const {
    std::string all;
    for (const std::string& e : errors) all += e + "\n";
    return all;
  }
};

Loaded Load(const std::string& main_path, const std::vector<std::string>& args = {}) {
  std::vector<const char*> argv = {"gatehouse", "--config", main_path.c_str()};
  for (const std::string& a : args) argv.push_back(a.c_str());
  Loaded loaded;
  try {
    CommandLine command_line;
    std::string error;
    if (!ParseCommandLine(static_cast<int>(argv.size()), argv.data(), &command_line, &error)) {
      loaded.errors.push_back("command line: " + error);
      return loaded;
    }
    loaded.ok = LoadConfig(command_line, &loaded.config, &loaded.errors);
  } catch (const std::exception& e) {
    loaded.threw = true;
    loaded.exception = e.what();
  } catch (...) {
    loaded.threw = true;
  }
  return loaded;
}

bool HasControlByte(const std::string& text) {
  for (char c : text) {
    if (c != '\n' && IsControlByte(c)) return true;
  }
  return false;
}

// A valid service; the fuzzed key is added as line 4 (or replaces port/exec).
std::string ServiceWith(const std::string& key, const std::string& value) {
  std::string port = key == "port" ? value : "127.0.0.1:0";
  std::string exec = key == "exec" ? value : "/bin/cat";
  std::string text = "[a]\nport = " + port + "\nexec = " + exec + "\n";
  if (!key.empty() && key != "port" && key != "exec") text += key + " = " + value + "\n";
  return text;
}

std::vector<std::string> HostileValues() {
  std::vector<std::string> values = {
      "",
      " ",
      "0",
      "00",
      "-0",
      "+0",
      "-1",
      "-99999999999999999999",
      "4294967294",
      "4294967295",
      "4294967296",
      "18446744073709551615",
      "18446744073709551616",
      "99999999999999999999999",
      "2147483648",
      "0x10",
      "1e9",
      "3601",
      "65536",
      std::string(300, '9'),
      std::string(5000, '9'),
      std::string(100000, 'a'),
      std::string(199, 'x'),
      "\xc3\xa9t\xc3\xa9 \xe2\x82\xac",  // UTF-8
      "\xff\xfe\x80\xc0",                // not UTF-8
      "\x1b[31mred\x1b[0m",
      "\x01\x02\x03\x7f",
      "a\tb",
      "a\rb",
      "a\nb",
      std::string("a\0b", 3),
      "\xe2\x80\xae",  // right-to-left override
      "(",
      "(((((((((((((((((((((((((((((((((((((((((((((((((((((",
      "((a{100}){100}){100}",
      "[",
      "\\",
      "'",
      "\"",
      "*",
      "/",
      "/dev/zero",
      "..",
      "../../../../etc/shadow",
      "[a]x",
      "a=b=c",
      "=",
      ";",
      "#",
      "nobody",
      "root",
      "toor",
      "127.0.0.1:0",
      "/bin/cat",
      "999.999.999.999/99",
      "[::1]:99999",
      "/tmp/x|unix",
  };
  return values;
}

// "file:line: ..." or "command line: ..." (std::regex would overflow the stack on
// the 100,000-byte values quoted here).
// `file` may also begin an error about the file as a whole.
bool Located(const std::string& error, const std::string& file) {
  if (error.rfind("command line: ", 0) == 0 || error.rfind(file + ": ", 0) == 0) return true;
  size_t colon = error.find(": ");
  if (colon == std::string::npos) return false;
  size_t line_start = error.rfind(':', colon - 1);
  if (line_start == std::string::npos || line_start == 0 || line_start + 1 == colon) return false;
  for (size_t i = line_start + 1; i < colon; ++i) {
    if (error[i] < '0' || error[i] > '9') return false;
  }
  return true;
}

// Every error is "file:line: ..." (or names the command line) and prints safely.
void ExpectCleanOutcome(const Loaded& loaded, const std::string& main, const std::string& context) {
  ASSERT_FALSE(loaded.threw) << context << ": exception " << loaded.exception;
  if (loaded.ok) {
    EXPECT_TRUE(loaded.errors.empty()) << context;
    EXPECT_FALSE(loaded.config.services.empty()) << context;
    return;
  }
  ASSERT_FALSE(loaded.errors.empty()) << context << ": failed without an error";
  for (const std::string& error : loaded.errors) {
    EXPECT_TRUE(Located(error, main)) << context << ": " << error.substr(0, 400);
    EXPECT_FALSE(HasControlByte(error)) << context << ": raw control byte in " << error;
  }
}

std::string Printable(const std::string& value) {
  std::string shown = EscapeControlBytes(value.size() > 40 ? value.substr(0, 40) + "..." : value);
  return "\"" + shown + "\" (" + std::to_string(value.size()) + " bytes)";
}

TEST(HostileInput, EveryKeyEveryValueThroughFileDefaultsAndCommandLine) {
  TempDir dir;
  int runs = 0;
  for (const ConfigKey& key : ConfigKeys()) {
    for (const std::string& value : HostileValues()) {
      std::string context = std::string(key.name) + " = " + Printable(value);
      if (key.scope == KeyScope::kGlobal) {
        std::string main = testing::WriteConfig(dir, std::string(key.name) + " = " + value + "\n",
                                                {{"a.conf", ServiceWith("", "")}});
        ExpectCleanOutcome(Load(main), main, context + " in the main file");
      } else {
        std::string main =
            testing::WriteConfig(dir, "", {{"a.conf", ServiceWith(key.name, value)}});
        ExpectCleanOutcome(Load(main), main, context + " in [a]");
        main = testing::WriteConfig(dir, "[defaults]\n" + std::string(key.name) + " = " + value,
                                    {{"a.conf", ServiceWith("", "")}});
        ExpectCleanOutcome(Load(main), main, context + " in [defaults]");
      }
      if (value.find('\0') == std::string::npos) {  // argv cannot hold a NUL
        std::string main = testing::WriteConfig(dir, "", {{"a.conf", ServiceWith("", "")}});
        ExpectCleanOutcome(Load(main, {"--" + std::string(key.name) + "=" + value}), main,
                           context + " on the command line");
      }
      ++runs;
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
  EXPECT_GT(runs, 1000);
}

// The real binary, for a sample: exit 0 or 1, never a signal or a hang.
TEST(HostileInput, CheckExitsCleanlyOnASample) {
  TempDir dir;
  for (const char* key : {"user", "group", "log_level", "listen", "port", "shutdown_timeout"}) {
    // Strings, not const char*: a pointer into a temporary string dangles (ASan).
    for (const std::string& value :
         std::vector<std::string>{"4294967296", "99999999999999999999999", "-1", "00",
                                  "\x1b[2J\x1b]0;pwned\x07", std::string(100000, '9')}) {
      std::string main = testing::WriteConfig(dir, "", {{"a.conf", ServiceWith("", "")}});
      CommandResult check = RunCommand(
          {Gatehouse(), "--config", main, "--check", "--" + std::string(key), value}, "", 10);
      std::string context = std::string(key) + " = " + Printable(value);
      EXPECT_FALSE(check.timed_out) << context;
      EXPECT_TRUE(check.exit_code == 0 || check.exit_code == 1)
          << context << ": exit " << check.exit_code << "\n"
          << check.err;
      EXPECT_FALSE(HasControlByte(check.err)) << context << ": " << check.err;
      EXPECT_FALSE(HasControlByte(check.out)) << context << ": " << check.out;
    }
  }
}

// --- Identities -----------------------------------------------------------

std::string IdentityConfig(const TempDir& dir, const std::string& lines) {
  return testing::WriteConfig(dir, "",
                              {{"a.conf", "[a]\nport = 127.0.0.1:0\nexec = /bin/cat\n" + lines}});
}

TEST(Identity, NumbersOutsideTheIdRangeAreErrorsNotRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "identities are resolved as root";
  TempDir dir;
  struct Case {
    std::string line;
    std::string error;
  };
  const std::string range = " (0 to 4294967294, without leading zeros)";
  for (const Case& c : std::vector<Case>{
           {"user = 4294967296", "a.conf:4: user: \"4294967296\" is not a uid" + range},
           {"user = 4294967295", "a.conf:4: user: \"4294967295\" is not a uid" + range},
           {"user = 99999999999999999999999",
            "a.conf:4: user: \"99999999999999999999999\" is not a uid" + range},
           {"user = 00", "a.conf:4: user: \"00\" is not a uid" + range},
           {"user = 065534", "a.conf:4: user: \"065534\" is not a uid" + range},
           {"user = -1", "a.conf:4: user: no such user \"-1\""},
           {"user = +0", "a.conf:4: user: no such user \"+0\""},
           {"group = 4294967296", "a.conf:4: group: \"4294967296\" is not a gid" + range},
           {"group = 4294967295", "a.conf:4: group: \"4294967295\" is not a gid" + range},
           {"group = 99999999999999999999999",
            "a.conf:4: group: \"99999999999999999999999\" is not a gid" + range},
           {"group = 00", "a.conf:4: group: \"00\" is not a gid" + range},
           {"group = -1", "a.conf:4: group: no such group \"-1\""},
       }) {
    Loaded loaded = Load(IdentityConfig(dir, c.line + "\n"));
    ASSERT_FALSE(loaded.threw) << c.line << ": " << loaded.exception;
    EXPECT_FALSE(loaded.ok) << c.line << " was accepted";
    ASSERT_EQ(loaded.errors.size(), 1u) << c.line << "\n" << loaded.AllErrors();
    EXPECT_NE(loaded.errors[0].find(c.error), std::string::npos) << c.line << "\n"
                                                                 << loaded.errors[0];
  }
}

TEST(Identity, RootWrittenOutAndTheLargestIdsAreAccepted) {
  if (geteuid() != 0) GTEST_SKIP() << "identities are resolved as root";
  TempDir dir;
  struct Case {
    std::string lines;
    uid_t uid;
    gid_t gid;
  };
  for (const Case& c : std::vector<Case>{
           {"user = root\n", 0, 0},  // group defaults to root's primary group: fine
           {"user = 0\n", 0, 0},
           {"user = root\ngroup = nogroup\n", 0, 65534},
           {"group = 0\n", DynamicServiceUid("a"), 0},
           {"group = root\n", DynamicServiceUid("a"), 0},
           {"user = 4294967294\ngroup = 4294967294\n", 4294967294u, 4294967294u},
       }) {
    Loaded loaded = Load(IdentityConfig(dir, c.lines));
    ASSERT_TRUE(loaded.ok) << c.lines << loaded.AllErrors();
    const ServiceConfig& service = loaded.config.services[0];
    EXPECT_EQ(service.jail.uid, c.uid) << c.lines;
    EXPECT_EQ(service.jail.gid, c.gid) << c.lines;
  }
}

// Names that map to 0 other than root, in a private mount namespace whose
// /etc/passwd and /etc/group have them; checked through the real binary.
TEST(Identity, OtherNamesForRootAreErrors) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a private /etc/passwd";
  TempDir dir;
  std::string passwd = dir.Write(
      "passwd", testing::ReadFile("/etc/passwd") +
                    "toor:x:0:0::/root:/bin/sh\nzerogroup:x:40200:0::/:/usr/sbin/nologin\n");
  std::string group = dir.Write("group", testing::ReadFile("/etc/group") + "wheel0:x:0:\n");
  struct Case {
    std::string lines;
    std::string error;  // empty: accepted
  };
  // sh -c SCRIPT sh passwd group gatehouse...: the files bound over /etc's.
  const std::string bind_and_exec =
      "mount --bind \"$1\" /etc/passwd && mount --bind \"$2\" /etc/group && shift 2 && "
      "exec \"$@\"";
  for (const Case& c : std::vector<Case>{
           {"user = toor\n",
            "a.conf:4: user: \"toor\" is uid 0; write user = root to run a service as root"},
           {"group = wheel0\n",
            "a.conf:4: group: \"wheel0\" is gid 0; write group = root to run a service in group "
            "root"},
           {"user = zerogroup\n",
            "a.conf:4: user: \"zerogroup\" has primary group gid 0; set group = root if that is "
            "meant"},
           {"user = zerogroup\ngroup = nogroup\n", ""},
           {"user = zerogroup\ngroup = root\n", ""},
           {"user = root\n", ""},
       }) {
    std::string main = IdentityConfig(dir, c.lines);
    CommandResult check = RunCommand({"unshare", "-m", "sh", "-c", bind_and_exec, "sh", passwd,
                                      group, Gatehouse(), "--config", main, "--check"},
                                     "", 10);
    if (c.error.empty()) {
      EXPECT_EQ(check.exit_code, 0) << c.lines << check.err;
    } else {
      EXPECT_EQ(check.exit_code, 1) << c.lines << check.out;
      EXPECT_NE(check.err.find(c.error), std::string::npos) << c.lines << check.err;
    }
  }
}

// --- Files ------------------------------------------------------------------

// --check on `main`, bounded: a hang fails the test instead of hanging it.
CommandResult Check(const std::string& main) {
  return RunCommand({Gatehouse(), "--config", main, "--check"}, "", 10);
}

TEST(ConfigFiles, FifoInServicesDirIsAnErrorNotAHang) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"a.conf", ServiceWith("", "")}});
  std::string fifo = dir.path() + "/services.d/b.conf";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  CommandResult check = Check(main);
  EXPECT_FALSE(check.timed_out);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find(fifo + ": is a FIFO, not a regular file"), std::string::npos)
      << check.err;
}

TEST(ConfigFiles, FifoAsTheMainFileIsAnErrorNotAHang) {
  TempDir dir;
  std::string main = dir.path() + "/gatehouse.conf";
  ASSERT_EQ(mkfifo(main.c_str(), 0644), 0);
  CommandResult check = Check(main);
  EXPECT_FALSE(check.timed_out);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find(main + ": is a FIFO, not a regular file"), std::string::npos)
      << check.err;
}

TEST(ConfigFiles, LinkToDevZeroIsRefusedBeforeReading) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"a.conf", ServiceWith("", "")}});
  std::string link = dir.path() + "/services.d/z.conf";
  ASSERT_EQ(symlink("/dev/zero", link.c_str()), 0);
  CommandResult check = Check(main);
  EXPECT_FALSE(check.timed_out);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.err.find(link + ": is a character device, not a regular file"), std::string::npos)
      << check.err;
  // The same as the main file.
  Loaded loaded = Load(link);
  EXPECT_NE(loaded.AllErrors().find(link + ": is a character device"), std::string::npos)
      << loaded.AllErrors();
}

TEST(ConfigFiles, DirectoryNamedConfIsAnError) {
  TempDir dir;
  std::string main = testing::WriteConfig(dir, "", {{"a.conf", ServiceWith("", "")}});
  std::string folder = dir.path() + "/services.d/x.conf";
  ASSERT_EQ(mkdir(folder.c_str(), 0755), 0);
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  ASSERT_EQ(loaded.errors.size(), 1u) << loaded.AllErrors();
  EXPECT_EQ(loaded.errors[0], folder + ": is a directory, not a regular file");
  Loaded as_main = Load(dir.path() + "/services.d");
  EXPECT_NE(as_main.AllErrors().find("services.d: is a directory, not a regular file"),
            std::string::npos)
      << as_main.AllErrors();
}

// A valid service file padded with comment lines to exactly `size` bytes.
std::string PaddedService(size_t size) {
  std::string text = ServiceWith("", "");
  std::string comment = "; " + std::string(97, 'p') + "\n";  // 100 bytes
  while (text.size() + comment.size() <= size) text += comment;
  text += std::string(size - text.size() - 1, ';') + "\n";
  return text;
}

TEST(ConfigFiles, OneMebibytePerFile) {
  TempDir dir;
  std::string at_limit = PaddedService(kMaxConfigFileBytes);
  ASSERT_EQ(at_limit.size(), 1048576u);
  std::string main = testing::WriteConfig(dir, "", {{"a.conf", at_limit}});
  Loaded loaded = Load(main);
  EXPECT_TRUE(loaded.ok) << loaded.AllErrors();

  std::string over = dir.Write("services.d/a.conf", PaddedService(kMaxConfigFileBytes + 1));
  loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  ASSERT_EQ(loaded.errors.size(), 1u) << loaded.AllErrors();
  EXPECT_EQ(loaded.errors[0], over +
                                  ": is 1048577 bytes, larger than 1048576 bytes (1 MiB), the "
                                  "limit for a config file");
}

// --- Lines ------------------------------------------------------------------

TEST(ConfigLines, NulByteIsAnErrorNotACut) {
  TempDir dir;
  std::string main =
      testing::WriteConfig(dir, "",
                           {{"a.conf", "[a]\nport = 127.0.0.1:0\nexec = /bin/cat" +
                                           std::string(1, '\0') + " -n\nargs = x\n"}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  // In line order: exec is missing (at the [a] of line 1), then the NUL of line 3.
  ASSERT_EQ(loaded.errors.size(), 2u) << loaded.AllErrors();
  EXPECT_NE(loaded.errors[0].find("a.conf:1: exec: missing"), std::string::npos)
      << loaded.AllErrors();
  EXPECT_NE(
      loaded.errors[1].find("a.conf:3: a NUL byte at column 16 in \"exec = /bin/cat\\x00 -n\""),
      std::string::npos)
      << loaded.AllErrors();
}

TEST(ConfigLines, TextAfterSectionIsAnErrorACommentIsNot) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "",
      {{"a.conf", "[a]x\nport = 127.0.0.1:0\nexec = /bin/cat\n"},
       {"b.conf", "[b] ; the b service\nport = 127.0.0.1:0\nexec = /bin/cat\n"},
       {"c.conf", "[c]\t# the c service\nport = 127.0.0.1:0\nexec = /bin/cat\n"}});
  Loaded loaded = Load(main);
  EXPECT_FALSE(loaded.ok);
  ASSERT_GE(loaded.errors.size(), 1u);
  EXPECT_NE(
      loaded.errors[0].find("a.conf:1: \"[a]x\": text after ] (only a ; or # comment may follow)"),
      std::string::npos)
      << loaded.AllErrors();
  for (const std::string& error : loaded.errors) {
    EXPECT_EQ(error.find("b.conf"), std::string::npos) << error;
    EXPECT_EQ(error.find("c.conf"), std::string::npos) << error;
  }
}

TEST(ConfigLines, ErrorsEscapeControlBytes) {
  TempDir dir;
  std::string main = testing::WriteConfig(
      dir, "log_level = \x1b]0;owned\x07\n",
      {{"a.conf", "[a]\nport = 127.0.0.1:0\nexec = /bin/\x1b[2Jcat\nbo\x01gus = 1\n"},
       {"b\x1b[31m.conf", "junk\n"}});
  CommandResult check = Check(main);
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_FALSE(HasControlByte(check.err)) << check.err;
  for (const char* expected :
       {"gatehouse.conf:1: log_level: \"\\x1b]0;owned\\x07\" is not a number from 0 to 4",
        "a.conf:3: exec: \"/bin/\\x1b[2Jcat\" is not an executable file",
        "a.conf:4: bo\\x01gus: unknown key in [a]",
        "services.d/b\\x1b[31m.conf:1: expected \"key = value\""}) {
    EXPECT_NE(check.err.find(expected), std::string::npos) << expected << "\nin:\n" << check.err;
  }
  CommandResult cli = RunCommand({Gatehouse(), "--config", main, "--check", "--bad\x1b[2J=1"});
  EXPECT_EQ(cli.exit_code, 2);  // a usage error
  EXPECT_NE(cli.err.find("unknown option --bad\\x1b[2J"), std::string::npos) << cli.err;
}

TEST(ControlBytes, EscapesEveryControlByteAndKeepsTheRest) {
  EXPECT_EQ(EscapeControlBytes(std::string("a\0b\x1b[m\n\t\r\x7f", 10)),
            "a\\x00b\\x1b[m\\n\\t\\r\\x7f");
  EXPECT_EQ(EscapeControlBytes("caf\xc3\xa9 \\x"), "caf\xc3\xa9 \\x");
  for (int c = 0; c < 256; ++c) {
    std::string escaped = EscapeControlBytes(std::string(1, static_cast<char>(c)));
    EXPECT_FALSE(HasControlByte(escaped) || escaped.find('\n') != std::string::npos) << c;
  }
}

}  // namespace
}  // namespace gatehouse
