#include "common/output_pipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gatehouse {
namespace {
// One read's worth; a wake-up never reads more, so one writer cannot hold the loop.
constexpr size_t kReadChunk = 16 * 1024;
}  // namespace

void LineSplitter::Append(const char* bytes, size_t size) {
  if (cut_) return;
  size_t room = kMaxOutputLine - partial_.size();
  if (size <= room) {
    partial_.append(bytes, size);
    return;
  }
  partial_.append(bytes, room);
  partial_ += kCutMarker;
  cut_ = true;
}

void LineSplitter::TakeLine(std::vector<std::string>* lines) {
  // A CRLF line end (sshd -e, programs written for sockets) is a line end, not
  // a control byte for the log to show as '?'.
  if (!cut_ && !partial_.empty() && partial_.back() == '\r') partial_.pop_back();
  lines->push_back(std::move(partial_));
  partial_.clear();
  cut_ = false;
}

void LineSplitter::Feed(const char* bytes, size_t size, std::vector<std::string>* lines) {
  const char* end = bytes + size;
  while (bytes < end) {
    const char* newline = static_cast<const char*>(memchr(bytes, '\n', end - bytes));
    if (newline == nullptr) {
      Append(bytes, static_cast<size_t>(end - bytes));
      return;
    }
    Append(bytes, static_cast<size_t>(newline - bytes));
    TakeLine(lines);
    bytes = newline + 1;
  }
}

void LineSplitter::Finish(std::vector<std::string>* lines) {
  if (!partial_.empty()) TakeLine(lines);
  cut_ = false;
}

OutputPipe::OutputPipe(event_base* base, UniqueFd read_end, LinesHandler on_lines)
    : fd_(std::move(read_end)), on_lines_(std::move(on_lines)) {
  fcntl(fd_.get(), F_SETFL, fcntl(fd_.get(), F_GETFL) | O_NONBLOCK);
  read_event_.reset(event_new(base, fd_.get(), EV_READ | EV_PERSIST, OnReadable, this));
  event_add(read_event_.get(), nullptr);
}

void OutputPipe::Pause() {
  if (paused_ || !fd_) return;
  paused_ = true;
  event_del(read_event_.get());
}

void OutputPipe::Resume() {
  if (!paused_ || !fd_) return;
  paused_ = false;
  event_add(read_event_.get(), nullptr);
}

void OutputPipe::ReadAvailable(size_t max_bytes) {
  for (size_t read = 0; read < max_bytes && ReadOnce(); read += kReadChunk) {
  }
}

void OutputPipe::Close() {
  if (!fd_) return;
  event_del(read_event_.get());
  fd_.reset();
  std::vector<std::string> lines;
  splitter_.Finish(&lines);
  if (!lines.empty()) on_lines_(lines);
}

void OutputPipe::OnReadable(evutil_socket_t, short, void* self) {
  static_cast<OutputPipe*>(self)->ReadOnce();
}

bool OutputPipe::ReadOnce() {
  if (!fd_) return false;
  char buffer[kReadChunk];
  ssize_t n = read(fd_.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return false;
  std::vector<std::string> lines;
  if (n > 0) {
    splitter_.Feed(buffer, static_cast<size_t>(n), &lines);
  } else {  // every writer is gone (or the pipe broke): the end
    splitter_.Finish(&lines);
    event_del(read_event_.get());
    fd_.reset();
  }
  if (!lines.empty()) on_lines_(lines);
  return n > 0;
}

}  // namespace gatehouse
