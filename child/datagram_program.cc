#include "child/datagram_program.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "child/program_runner.h"
#include "common/sys_error.h"

namespace gatehouse {
namespace {

// Output beyond one reply that is read and dropped (so that a program writing a
// little too much ends normally) before its stdout is closed: a program that
// writes for ever then gets SIGPIPE instead of holding a max_servers slot and
// the child's CPU until shutdown.
constexpr size_t kMaxDroppedOutputBytes = size_t{1} << 20;

}  // namespace

struct DatagramPrograms::Program {
  pid_t pid = 0;
  std::string service;
  std::string request;
  size_t written = 0;
  UniqueFd stdin_write;  // until the whole request is in the pipe
  EventPtr stdin_event;
  UniqueFd stdout_read;  // until its end
  EventPtr stdout_event;
  std::string reply;
  bool cut = false;    // it wrote more than one reply; the rest is read and dropped
  size_t dropped = 0;  // bytes read and dropped since the cut
};

DatagramPrograms::DatagramPrograms(event_base* base, const ServiceDefinition* service, int null_fd)
    : base_(base), service_(service), null_fd_(null_fd) {}

DatagramPrograms::~DatagramPrograms() = default;

pid_t DatagramPrograms::Start(const Datagram& datagram, UniqueFd* stderr_read, std::string* error) {
  // Close-on-exec both: the program gets its ends only as fds 0 and 1.
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) {
    *error = ErrnoMessage("pipe2", "stdin of " + service_->program.exec, errno);
    return -1;
  }
  UniqueFd stdin_read(in[0]), stdin_write(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) {
    *error = ErrnoMessage("pipe2", "stdout of " + service_->program.exec, errno);
    return -1;
  }
  UniqueFd stdout_read(out[0]), stdout_write(out[1]);
  // Our ends only: the program's stay blocking, as a program expects.
  fcntl(stdin_write.get(), F_SETFL, O_NONBLOCK);
  fcntl(stdout_read.get(), F_SETFL, O_NONBLOCK);

  auto program = std::make_unique<Program>();
  program->service = service_->name;
  program->request = datagram.bytes;
  program->stdin_write = std::move(stdin_write);
  program->stdout_read = std::move(stdout_read);
  // Most datagrams fit the pipe at once: in before the program starts.
  WriteRequest(program.get());

  pid_t pid = StartProgram(*service_, datagram.connection,
                           ProgramStdio{stdin_read.get(), stdout_write.get()}, null_fd_,
                           stderr_read, error);
  if (pid < 0) return -1;  // kNoFdForStderr too: a datagram does not wait
  program->pid = pid;
  Program* raw = program.get();
  if (raw->stdin_write) {
    raw->stdin_event.reset(
        event_new(base_, raw->stdin_write.get(), EV_WRITE | EV_PERSIST, OnStdinWritable, raw));
    event_add(raw->stdin_event.get(), nullptr);
  }
  raw->stdout_event.reset(
      event_new(base_, raw->stdout_read.get(), EV_READ | EV_PERSIST, OnStdoutReadable, raw));
  event_add(raw->stdout_event.get(), nullptr);
  programs_[pid] = std::move(program);
  return pid;  // our copies of the program's ends close here
}

bool DatagramPrograms::Finish(pid_t pid, std::string* reply) {
  auto found = programs_.find(pid);
  if (found == programs_.end()) return false;
  Program* program = found->second.get();
  // It has exited: what it wrote is in the pipe now.
  if (program->stdout_read) ReadReply(program);
  *reply = std::move(program->reply);
  programs_.erase(found);  // closes what is left, events first
  return true;
}

void DatagramPrograms::OnStdinWritable(evutil_socket_t, short, void* program) {
  WriteRequest(static_cast<Program*>(program));
}

void DatagramPrograms::OnStdoutReadable(evutil_socket_t, short, void* program) {
  auto* running = static_cast<Program*>(program);
  if (!ReadReply(running)) {
    running->stdout_event.reset();
    running->stdout_read.reset();
  }
}

void DatagramPrograms::WriteRequest(Program* program) {
  while (program->written < program->request.size()) {
    ssize_t n = write(program->stdin_write.get(), program->request.data() + program->written,
                      program->request.size() - program->written);
    if (n > 0) {
      program->written += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;  // the event brings us back
    break;  // EPIPE: the program stopped reading; it gets no more
  }
  program->stdin_event.reset();
  program->stdin_write.reset();  // EOF
  program->request = std::string();
}

bool DatagramPrograms::ReadReply(Program* program) {
  char buffer[16384];
  for (;;) {
    ssize_t n = read(program->stdout_read.get(), buffer, sizeof buffer);
    if (n > 0) {
      size_t room = kMaxDatagramReplyBytes - program->reply.size();
      size_t take = std::min(room, static_cast<size_t>(n));
      program->reply.append(buffer, take);
      if (take < static_cast<size_t>(n) && !program->cut) {
        program->cut = true;
        fprintf(stderr,
                "gatehouse-child[%s]: program pid %d wrote more than %zu bytes to stdout; the "
                "reply is cut to one datagram\n",
                program->service.c_str(), static_cast<int>(program->pid), kMaxDatagramReplyBytes);
      }
      program->dropped += static_cast<size_t>(n) - take;
      if (program->dropped > kMaxDroppedOutputBytes) {
        fprintf(stderr,
                "gatehouse-child[%s]: program pid %d wrote over %zu bytes more; its stdout is "
                "closed\n",
                program->service.c_str(), static_cast<int>(program->pid), kMaxDroppedOutputBytes);
        return false;  // the caller closes our end: its next write gets SIGPIPE
      }
      continue;  // read on (and drop) so that the program never blocks on a full pipe
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

}  // namespace gatehouse
