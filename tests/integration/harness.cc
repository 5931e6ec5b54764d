#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/config.h"
#include "common/monotonic_clock.h"

namespace gatehouse::testing {
namespace {

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) { return remove(path); }

std::vector<char*> Argv(std::vector<std::string>& strings) {
  std::vector<char*> argv;
  for (std::string& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

size_t FileSize(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 ? static_cast<size_t>(info.st_size) : 0;
}

// The file's text from `offset` on ("" when missing or shorter).
std::string ReadFileFrom(const std::string& path, size_t offset) {
  std::ifstream in(path);
  in.seekg(static_cast<std::streamoff>(offset));
  std::stringstream buffer;
  if (in) buffer << in.rdbuf();
  return buffer.str();
}

// The whole lines of `text` that `pid` logged ("... gatehouse[PID] notice: ...");
// a line still being written is left out.
std::vector<std::string> LinesOf(pid_t pid, const std::string& text) {
  std::string tag = "[" + std::to_string(pid) + "]";
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end = text.find('\n'); end != std::string::npos; end = text.find('\n', start)) {
    std::string line = text.substr(start, end - start);
    if (line.find(tag) != std::string::npos) lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

}  // namespace

std::string Runfile(const std::string& path) {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  if (srcdir == nullptr) return path;
  return std::string(srcdir) + "/" + (workspace ? workspace : "gatehouse") + "/" + path;
}

TempDir::TempDir(const char* base) {
  if (base == nullptr) base = getenv("TEST_TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/gh.XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
  chmod(path_.c_str(), 0755);  // services run as nobody may need to reach into it
}

TempDir::~TempDir() { nftw(path_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS); }

std::string TempDir::Write(const std::string& name, const std::string& content) const {
  std::string full = path_ + "/" + name;
  for (size_t slash = full.find('/', path_.size() + 1); slash != std::string::npos;
       slash = full.find('/', slash + 1)) {
    mkdir(full.substr(0, slash).c_str(), 0755);
  }
  std::ofstream(full) << content;
  return full;
}

void CopyExecutable(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream(to, std::ios::binary) << in.rdbuf();
  chmod(to.c_str(), 0755);
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

uint64_t CountThrottled(const std::string& log, const std::string& needle) {
  uint64_t events = 0;
  size_t start = 0;
  while (start < log.size()) {
    size_t end = log.find('\n', start);
    if (end == std::string::npos) end = log.size();
    std::string line = log.substr(start, end - start);
    start = end + 1;
    if (line.find(needle) == std::string::npos) continue;
    events += 1;
    size_t more = line.rfind(" (");
    if (more != std::string::npos && line.find(" more like this in ", more) != std::string::npos) {
      events += std::strtoull(line.c_str() + more + 2, nullptr, 10);
    }
  }
  return events;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

CommandResult RunCommand(const std::vector<std::string>& argv_in, const std::string& input,
                         double timeout_seconds, int extra_fd) {
  int in_pipe[2], out_pipe[2], err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<std::string> strings = argv_in;
  std::vector<char*> argv = Argv(strings);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in_pipe[0], 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    if (extra_fd >= 0) fcntl(extra_fd, F_SETFD, 0);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  size_t written = 0;
  int stdin_fd = in_pipe[1];
  fcntl(stdin_fd, F_SETFL, O_NONBLOCK);
  if (input.empty()) {
    close(stdin_fd);
    stdin_fd = -1;
  }
  double deadline = MonotonicSeconds() + timeout_seconds;
  bool out_open = true, err_open = true;
  while (out_open || err_open) {
    double left = deadline - MonotonicSeconds();
    if (left <= 0) {
      result.timed_out = true;
      kill(pid, SIGKILL);
      break;
    }
    pollfd fds[3] = {{out_open ? out_pipe[0] : -1, POLLIN, 0},
                     {err_open ? err_pipe[0] : -1, POLLIN, 0},
                     {stdin_fd, POLLOUT, 0}};
    poll(fds, 3, static_cast<int>(left * 1000) + 1);
    char buffer[65536];
    if (fds[0].revents) {
      ssize_t n = read(out_pipe[0], buffer, sizeof buffer);
      if (n > 0)
        result.out.append(buffer, static_cast<size_t>(n));
      else
        out_open = false;
    }
    if (fds[1].revents) {
      ssize_t n = read(err_pipe[0], buffer, sizeof buffer);
      if (n > 0)
        result.err.append(buffer, static_cast<size_t>(n));
      else
        err_open = false;
    }
    if (stdin_fd >= 0 && fds[2].revents) {
      ssize_t n = write(stdin_fd, input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) {
        close(stdin_fd);
        stdin_fd = -1;
      }
    }
  }
  if (stdin_fd >= 0) close(stdin_fd);
  close(out_pipe[0]);
  close(err_pipe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) && !result.timed_out ? WEXITSTATUS(status) : -1;
  std::string reports = SanitizerReports(result.err);
  if (!reports.empty()) ADD_FAILURE() << argv_in[0] << ": " << reports;
  return result;
}

bool SkipsUnderAsan(const std::string& check) {
  if (!kAddressSanitizer) return false;
  printf("skipped under ASan (its quarantine keeps freed memory resident): %s\n", check.c_str());
  return true;
}

std::string SanitizerReports(const std::string& output) {
  std::string reports;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    for (const char* marker :
         {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
          ": runtime error: ", "SUMMARY: UndefinedBehaviorSanitizer"}) {
      if (line.find(marker) != std::string::npos) {
        reports += line + "\n";
        break;
      }
    }
  }
  return reports;
}

GatehouseProcess::GatehouseProcess(const std::vector<std::string>& args,
                                   const std::string& log_path, const Launch& launch)
    : log_path_(log_path), log_start_{FileSize(log_path)} {
  std::string ready_file = launch.ready_file.empty() ? log_path : launch.ready_file;
  size_t ready_start = FileSize(ready_file);
  int extra_fd = launch.extra_fd;
  std::vector<std::string> strings = launch.wrapper;
  strings.push_back(launch.binary.empty() ? Runfile("supervisor/gatehouse") : launch.binary);
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv = Argv(strings);
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);  // its own process group, as a shell gives a foreground job
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    if (extra_fd >= 0) fcntl(extra_fd, F_SETFD, 0);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  // Its own "ready:" line: "gatehouse[PID] notice: ready: " or, in syslog, "ident[PID]: ready: ".
  const std::string tag = "[" + std::to_string(pid_) + "]";
  auto logged_ready = [&] {
    std::string text = ReadFileFrom(ready_file, ready_start);
    return text.find(tag + " notice: ready: ") != std::string::npos ||
           text.find(tag + ": ready: ") != std::string::npos;
  };
  started_ = WaitUntil([&] { return logged_ready() || !Running(); });
  started_ = started_ && Running();
}

GatehouseProcess::~GatehouseProcess() {
  if (Running() && Stop(SIGTERM, 15) == -1) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::string reports = SanitizerReports(Log());
  if (!reports.empty()) ADD_FAILURE() << "sanitizer reports in " << log_path_ << ":\n" << reports;
}

bool GatehouseProcess::Running() {
  if (reaped_) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
  return !reaped_;
}

int GatehouseProcess::Stop(int signal, double timeout_seconds) {
  if (!Running()) return status_;
  kill(pid_, signal);
  if (!WaitUntil([this] { return !Running(); }, timeout_seconds)) return -1;
  return status_;
}

std::string GatehouseProcess::Log(LogMark since) const {
  return ReadFileFrom(log_path_, since.offset);
}

LogMark GatehouseProcess::MarkLog() const { return LogMark{FileSize(log_path_)}; }

bool GatehouseProcess::WaitForLog(const std::string& needle, double timeout_seconds) const {
  return WaitForLog(needle, log_start_, timeout_seconds);
}

bool GatehouseProcess::WaitForLog(const std::string& needle, LogMark since,
                                  double timeout_seconds) const {
  return WaitUntil([&] { return Log(since).find(needle) != std::string::npos; }, timeout_seconds);
}

int GatehouseProcess::Port(const std::string& service, const std::string& family) const {
  const std::string listening = " " + service + ": listening on ";
  const std::string address = family == "6" ? "[::1]:" : "127.";
  int port = 0;
  for (const std::string& line : LinesOf(pid_, Log())) {
    size_t at = line.find(listening);
    if (at == std::string::npos) continue;
    std::string where = line.substr(at + listening.size());  // "127.0.0.1:7007/tcp"
    size_t colon = where.rfind(':');
    if (where.rfind(address, 0) != 0 || colon == std::string::npos ||
        where.find("/tcp", colon) == std::string::npos) {
      continue;
    }
    port = std::atoi(where.c_str() + colon + 1);  // the latest line wins (a reload rebinds)
  }
  return port;
}

std::string WriteConfig(const TempDir& dir, const std::string& main,
                        const std::map<std::string, std::string>& services) {
  std::string path = dir.Write("gatehouse.conf", main);
  mkdir((dir.path() + "/services.d").c_str(), 0755);
  for (const auto& [name, content] : services) dir.Write("services.d/" + name, content);
  return path;
}

pid_t ParentPid(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');  // the command name may hold spaces and parentheses
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string state;
  pid_t ppid = 0;
  fields >> state >> ppid;
  return ppid;
}

std::vector<pid_t> ChildPids(pid_t parent) {
  std::vector<pid_t> pids;
  DIR* proc = opendir("/proc");
  while (dirent* entry = readdir(proc)) {
    if (!std::isdigit(static_cast<unsigned char>(entry->d_name[0]))) continue;
    pid_t pid = std::atoi(entry->d_name);
    if (ParentPid(pid) == parent) pids.push_back(pid);
  }
  closedir(proc);
  return pids;
}

bool IsNamespaceInit(pid_t pid) {
  std::string nspid = ProcStatusField(pid, "NSpid");  // "1234\t1": ours, then the namespace's
  size_t last = nspid.find_last_of(" \t");
  return last != std::string::npos && nspid.substr(last + 1) == "1";
}

pid_t KeeperOf(pid_t child) {
  for (pid_t pid : ChildPids(child)) {
    if (IsNamespaceInit(pid)) return pid;
  }
  return 0;
}

std::vector<pid_t> ProgramsOf(pid_t child) {
  std::vector<pid_t> programs;
  for (pid_t pid : ChildPids(child)) {
    if (!IsNamespaceInit(pid)) programs.push_back(pid);
  }
  return programs;
}

std::string CheckedUid(const std::string& config) {
  std::string out = RunCommand({Gatehouse(), "--check", "--config", config}).out;
  size_t at = out.find("(uid ");
  return at == std::string::npos ? "" : out.substr(at + 5, out.find(')', at) - at - 5);
}

std::set<std::string> OpenFds(pid_t pid) {
  std::set<std::string> fds;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* handle = opendir(dir.c_str());
  if (handle == nullptr) return fds;
  while (dirent* entry = readdir(handle)) {
    if (entry->d_name[0] != '.') fds.insert(entry->d_name);
  }
  closedir(handle);
  return fds;
}

std::string Link(const std::string& path) {
  char target[PATH_MAX] = {};
  ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
  return n > 0 ? std::string(target, static_cast<size_t>(n)) : "";
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat first {
  }, second{};
  return stat(a.c_str(), &first) == 0 && stat(b.c_str(), &second) == 0 &&
         first.st_dev == second.st_dev && first.st_ino == second.st_ino;
}

std::string ProcStatusField(pid_t pid, const std::string& field) {
  std::istringstream status(ReadFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::string value = line.substr(field.size() + 1);
      size_t start = value.find_first_not_of(" \t");
      size_t end = value.find_last_not_of(" \t");
      return start == std::string::npos ? "" : value.substr(start, end - start + 1);
    }
  }
  return "";
}

std::vector<std::string> PrivateDevLogWrapper(const std::string& dir) {
  static const char* script =
      "set -e; t=\"$1\"; shift; mkdir -p \"$t/realdev\"; mount --rbind /dev \"$t/realdev\"; "
      "mount -t tmpfs tmpfs /dev; "
      "for n in null zero urandom; do touch /dev/$n; mount --bind \"$t/realdev/$n\" /dev/$n; done; "
      "timeout 120 socat -u UNIX-RECV:/dev/log OPEN:\"$t/syslog.txt\",creat,append & "
      "while [ ! -S /dev/log ]; do sleep 0.02; done; exec \"$@\"";
  return {"unshare", "--mount", "--", "sh", "-c", script, "sh", dir};
}

std::pair<std::string, std::string> CollidingServiceNames() {
  std::map<uint32_t, std::string> seen;
  for (int i = 0; i < 1000000; ++i) {
    std::string name = "s" + std::to_string(i);
    auto [it, fresh] = seen.emplace(DynamicServiceUid(name), name);
    if (!fresh) return {it->second, name};
  }
  return {};
}

pid_t FirstProgramPid(const std::string& log, const std::string& service) {
  size_t at = log.find(service + ": start ");
  if (at == std::string::npos) return 0;
  size_t pid = log.find(" pid ", at);
  size_t end = log.find('\n', at);
  if (pid == std::string::npos || pid > end) return 0;
  return static_cast<pid_t>(std::atol(log.c_str() + pid + 5));
}

pid_t ProgramPid(const GatehouseProcess& gatehouse, int connection, const std::string& service) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (getsockname(connection, reinterpret_cast<sockaddr*>(&local), &length) != 0) return 0;
  int port = ntohs(local.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&local)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  std::string needle = service + ": start 127.0.0.1:" + std::to_string(port) + " pid ";
  if (!gatehouse.WaitForLog(needle)) return 0;
  std::string log = gatehouse.Log();
  return static_cast<pid_t>(std::atol(log.c_str() + log.find(needle) + needle.size()));
}

int ConnectTcp(const std::string& ip, int port, const std::string& source) {
  bool v6 = ip.find(':') != std::string::npos;
  int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_storage storage{};
  socklen_t length;
  auto fill = [&](const std::string& address, int address_port) {
    storage = {};
    if (v6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(static_cast<uint16_t>(address_port));
      inet_pton(AF_INET6, address.c_str(), &in6->sin6_addr);
      length = sizeof *in6;
    } else {
      auto* in = reinterpret_cast<sockaddr_in*>(&storage);
      in->sin_family = AF_INET;
      in->sin_port = htons(static_cast<uint16_t>(address_port));
      inet_pton(AF_INET, address.c_str(), &in->sin_addr);
      length = sizeof *in;
    }
  };
  if (!source.empty()) {
    fill(source, 0);
    if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
      close(fd);
      return -1;
    }
  }
  fill(ip, port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string ReadUntil(int fd, const std::string& stop, double timeout_seconds) {
  std::string got;
  double deadline = MonotonicSeconds() + timeout_seconds;
  while (got.find(stop) == std::string::npos && MonotonicSeconds() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>((deadline - MonotonicSeconds()) * 1000) + 1) <= 0) continue;
    char buffer[4096];
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    got.append(buffer, static_cast<size_t>(n));
  }
  return got;
}

bool IsRoot() { return geteuid() == 0; }

namespace {

// The services that config files define: their [name] sections.
std::vector<std::string> ServiceNames(const std::map<std::string, std::string>& files) {
  std::vector<std::string> names;
  for (const auto& [file, content] : files) {
    std::istringstream lines(content);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.size() > 2 && line.front() == '[' && line.back() == ']' && line != "[defaults]") {
        names.push_back(line.substr(1, line.size() - 2));
      }
    }
  }
  return names;
}

}  // namespace

::testing::AssertionResult GatehouseTest::Start(const std::string& main,
                                                const std::map<std::string, std::string>& services,
                                                const GatehouseProcess::Launch& launch) {
  config_ = WriteConfig(dir_, main, services);
  return StartWithArgs({"--config", config_}, ServiceNames(services), launch);
}

::testing::AssertionResult GatehouseTest::StartWithArgs(
    const std::vector<std::string>& args, const std::vector<std::string>& ready_services,
    const GatehouseProcess::Launch& launch) {
  gatehouse_.reset();  // never two instances of one test at once
  gatehouse_ = std::make_unique<GatehouseProcess>(args, log_path_, launch);
  if (!gatehouse_->started()) {
    return ::testing::AssertionFailure() << "gatehouse did not start:\n" << gatehouse_->Log();
  }
  for (const std::string& service : ready_services) {
    if (!gatehouse_->WaitForLog(" " + service + ": ready (")) {
      return ::testing::AssertionFailure() << service << " is not ready:\n" << gatehouse_->Log();
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace gatehouse::testing
