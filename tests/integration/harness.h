// Test harness for driving the real gatehouse binary: temporary config trees,
// the supervisor as a real process (cleaned up by pid), real clients (nc, socat,
// curl) with bounded run times, and log-line parsing (bound ports, pids).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>
#include <time.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace gatehouse::testing {

// Path of a file in the test's runfiles ("supervisor/gatehouse").
std::string Runfile(const std::string& path);
// The gatehouse binary under test.
inline std::string Gatehouse() { return Runfile("supervisor/gatehouse"); }

// A fresh directory under $TEST_TMPDIR, removed with everything in it.
class TempDir {
 public:
  // Under $TEST_TMPDIR, or under `base` (UNIX socket paths must be short: /tmp).
  explicit TempDir(const char* base = nullptr);
  ~TempDir();
  const std::string& path() const { return path_; }
  // Writes `content` to path()/name (creating folders); returns the full path.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

// Runs argv[0] (searched in PATH) with `input` on stdin; kills it after `timeout`
// seconds. `extra_fd` >= 0 is passed to the program open (not close-on-exec).
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& input = "",
                         double timeout_seconds = 10, int extra_fd = -1);

// The sanitizer reports (ASan, UBSan, TSan; tools/dev asan) in `output`, "" when none.
// RunCommand's stderr and a GatehouseProcess's log are checked on the way out: a
// report fails the test even when the process that made it was a child the
// supervisor replaced, or a command expected to fail anyway.
std::string SanitizerReports(const std::string& output);

// True in a build with AddressSanitizer (tools/dev asan): its quarantine keeps freed
// memory resident, so a process's VmRSS grows with the work it does. Tests that bound
// memory growth skip that one bound under it (SkipsUnderAsan says so in the log).
#ifdef __SANITIZE_ADDRESS__
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
// Prints why `check` is skipped and returns true under ASan; false otherwise.
bool SkipsUnderAsan(const std::string& check);

// Copies a file and makes it executable (0755).
void CopyExecutable(const std::string& from, const std::string& to);

// Reads a whole file ("" when missing).
std::string ReadFile(const std::string& path);

// How many events the log's throttled lines containing `needle` stand for: each
// line one, plus the N of its "(N more like this in 10 s)" (common/log_throttle.h).
uint64_t CountThrottled(const std::string& log, const std::string& needle);

// How often `needle` occurs in `text` (overlapping occurrences too).
size_t Count(const std::string& text, const std::string& needle);

// Polls `predicate` every 20 ms until it holds or `timeout` passes.
template <typename Predicate>
bool WaitUntil(Predicate predicate, double timeout_seconds = 10);

// A point in a gatehouse log, from GatehouseProcess::MarkLog().
struct LogMark {
  size_t offset = 0;
};

// One gatehouse instance. It reads only its own part of the log: the lines
// written after it started, and for ports and readiness only lines carrying its
// pid, so an earlier (or another) instance on the same log file never answers.
class GatehouseProcess {
 public:
  struct Launch {
    int extra_fd = -1;  // passed on open, as for RunCommand
    // Run instead, with gatehouse's path and args after it; it must exec
    // gatehouse, keeping the pid (for example: unshare ... -- sh -c '...; exec "$@"' sh).
    std::vector<std::string> wrapper;
    std::string ready_file;  // where "[pid] ... ready:" appears (default: log_path)
    std::string binary;      // gatehouse to run (default: the one in the runfiles)
  };
  // Starts `gatehouse args...` with stdout and stderr appended to log_path, and
  // waits until it logs "ready:" (or exits).
  GatehouseProcess(const std::vector<std::string>& args, const std::string& log_path,
                   const Launch& launch);
  GatehouseProcess(const std::vector<std::string>& args, const std::string& log_path)
      : GatehouseProcess(args, log_path, Launch{}) {}
  ~GatehouseProcess();  // TERM, then KILL after 15 s; always reaped

  pid_t pid() const { return pid_; }
  bool started() const { return started_; }
  // The log since this instance started (program stderr included).
  std::string Log() const { return Log(log_start_); }
  // The end of the log now; Log(mark) and WaitForLog(needle, mark) look only after it.
  LogMark MarkLog() const;
  std::string Log(LogMark since) const;
  bool WaitForLog(const std::string& needle, double timeout_seconds = 10) const;
  bool WaitForLog(const std::string& needle, LogMark since, double timeout_seconds = 10) const;
  // The port a service's listener was bound to, from the latest "listening on"
  // line of this pid (family "4" for 127.x, "6" for [::1]); 0 when not found.
  int Port(const std::string& service, const std::string& family = "4") const;
  // Sends `signal` and waits for the exit; returns the wait status or -1 on timeout.
  int Stop(int signal, double timeout_seconds = 20);
  // True while the process has not exited (reaps it when it has).
  bool Running();

 private:
  pid_t pid_ = -1;
  bool started_ = false;
  bool reaped_ = false;
  int status_ = 0;
  std::string log_path_;
  LogMark log_start_;
};

// A config tree: main file plus services.d/*.conf, written into `dir`.
// Returns the main file's path.
std::string WriteConfig(const TempDir& dir, const std::string& main,
                        const std::map<std::string, std::string>& services);

// The parent of `pid` (from /proc/PID/stat); 0 when it is gone.
pid_t ParentPid(pid_t pid);

// Pids of the processes whose parent is `parent`.
std::vector<pid_t> ChildPids(pid_t parent);

// Whether `pid` is pid 1 of a PID namespace below ours (a service's keeper).
bool IsNamespaceInit(pid_t pid);
// A service's serving gatehouse-child `child`: the keeper of its namespace (0:
// none), and its programs (its other children).
pid_t KeeperOf(pid_t child);
std::vector<pid_t> ProgramsOf(pid_t child);

// One line of /proc/PID/status ("Uid", "CapEff", ...), the text after the colon.
std::string ProcStatusField(pid_t pid, const std::string& field);
// The uid `gatehouse --check` names for the first service of `config` ("(uid N)"),
// "" if none.
std::string CheckedUid(const std::string& config);
// The fd numbers process `pid` has open, from /proc/PID/fd ("0", "1", ...).
std::set<std::string> OpenFds(pid_t pid);
// Where a symlink (a /proc fd or root link) points; "" if it cannot be read.
std::string Link(const std::string& path);
// Whether two paths name one file: the same inode. Through /proc/PID/root and
// cwd this holds whatever mount namespace the process is in, where the links'
// text may name a path from another root (as on a chroot-based test machine).
bool SameFile(const std::string& a, const std::string& b);

// A TCP connection from the test itself (for holding a connection open), to
// ip:port, optionally from `source` ("127.0.0.2"). -1 on failure. Reads and
// writes on it time out after 10 s.
int ConnectTcp(const std::string& ip, int port, const std::string& source = "");
// The pid of the program serving `connection` (a TCP connection from the test),
// from the supervisor's "SERVICE: start 127.0.0.1:PORT pid N" line (log_level 3):
// the pid as the host sees it, also when the program runs in a PID namespace.
// 0 when the line does not come within 10 s.
pid_t ProgramPid(const GatehouseProcess& gatehouse, int connection, const std::string& service);
// A Launch.wrapper that runs gatehouse in a private mount namespace whose
// /dev/log is a socket of the test's: every syslog line lands in DIR/syslog.txt.
std::vector<std::string> PrivateDevLogWrapper(const std::string& dir);

// Two service names whose dynamic uids (DynamicServiceUid) collide.
std::pair<std::string, std::string> CollidingServiceNames();

// The pid in the first "SERVICE: start PEER pid N" line of `log` (log_level 3):
// the program as the host sees it. 0 when there is none.
pid_t FirstProgramPid(const std::string& log, const std::string& service);
// Reads until `stop` has been seen (or EOF, or the timeout); returns what came.
std::string ReadUntil(int fd, const std::string& stop, double timeout_seconds = 10);

// True when this test runs as root (privilege tests need it).
bool IsRoot();

// A fixture for tests of one gatehouse started on a config tree of their own;
// it is stopped by pid when the test ends. Use as ASSERT_TRUE(Start(...)).
class GatehouseTest : public ::testing::Test {
 protected:
  // Writes `main` and services.d/NAME for each of `services` into dir_, starts
  // gatehouse on it and waits until every [service] in them logs "NAME: ready".
  ::testing::AssertionResult Start(const std::string& main,
                                   const std::map<std::string, std::string>& services,
                                   const GatehouseProcess::Launch& launch = {});
  // Starts gatehouse with `args` and waits until each of `ready_services` is ready.
  ::testing::AssertionResult StartWithArgs(const std::vector<std::string>& args,
                                           const std::vector<std::string>& ready_services,
                                           const GatehouseProcess::Launch& launch = {});
  // The port `service` listens on now; 0 when it has none.
  int Port(const std::string& service, const std::string& family = "4") const {
    return gatehouse_->Port(service, family);
  }

  TempDir dir_;
  std::string log_path_ = dir_.path() + "/gatehouse.log";  // set before Start to change
  std::string config_;                                     // the main file Start wrote
  std::unique_ptr<GatehouseProcess> gatehouse_;
};

template <typename Predicate>
bool WaitUntil(Predicate predicate, double timeout_seconds) {
  for (int i = 0; i < timeout_seconds * 50; ++i) {
    if (predicate()) return true;
    struct timespec ts {
      0, 20 * 1000 * 1000
    };
    nanosleep(&ts, nullptr);
  }
  return predicate();
}

}  // namespace gatehouse::testing
