// Program output as log lines: LineSplitter cuts a byte stream into bounded
// lines; OutputPipe reads a pipe without blocking inside a libevent loop and
// hands on the lines it completes. The child reads its programs' stderr this
// way and the supervisor its children's.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "common/event_loop.h"
#include "common/unique_fd.h"

namespace gatehouse {

// The longest line of program output that is logged whole; a longer one keeps
// its first kMaxOutputLine bytes, ends in kCutMarker, and loses the rest.
inline constexpr size_t kMaxOutputLine = 1024;
inline constexpr const char* kCutMarker = " [cut]";

class LineSplitter {
 public:
  // Appends `size` bytes; every line they complete (without its '\n', or its
  // "\r\n") is added to `lines`.
  void Feed(const char* bytes, size_t size, std::vector<std::string>* lines);
  // The unfinished last line, if any (the writer has gone).
  void Finish(std::vector<std::string>* lines);

 private:
  void Append(const char* bytes, size_t size);
  void TakeLine(std::vector<std::string>* lines);
  std::string partial_;
  bool cut_ = false;  // the current line went over the bound; skip to its end
};

class OutputPipe {
 public:
  // Called once per read with the lines it completed (never empty).
  using LinesHandler = std::function<void(std::vector<std::string>& lines)>;

  // Takes the pipe's read end (made non-blocking here) and starts reading.
  OutputPipe(event_base* base, UniqueFd read_end, LinesHandler on_lines);
  OutputPipe(const OutputPipe&) = delete;
  OutputPipe& operator=(const OutputPipe&) = delete;

  // Stops and restarts reading (back-pressure: the pipe fills and the writer waits).
  void Pause();
  void Resume();
  // Reads what is waiting now, up to `max_bytes`; at the end of the pipe the
  // last partial line is handed on too. Works while paused.
  void ReadAvailable(size_t max_bytes);
  // Hands on the unfinished last line and stops reading (the writer is gone,
  // though the pipe may still be open in some other process).
  void Close();
  // True once every writer has closed the pipe (or Close) and all was handed on.
  bool ended() const { return !fd_; }

 private:
  static void OnReadable(evutil_socket_t, short, void* self);
  // One read(); false when there is nothing more now (would block, or the end).
  bool ReadOnce();

  UniqueFd fd_;
  LinesHandler on_lines_;
  LineSplitter splitter_;
  EventPtr read_event_;
  bool paused_ = false;
};

}  // namespace gatehouse
