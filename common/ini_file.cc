#include "common/ini_file.h"

#include <fcntl.h>
#include <ini.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/control_bytes.h"
#include "common/sys_error.h"
#include "common/unique_fd.h"

namespace gatehouse {
namespace {

const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

std::string LimitText() { return std::to_string(kMaxConfigFileBytes) + " bytes (1 MiB)"; }

// Lines of one open file, read a block at a time as inih asks for them, so that
// no more than kMaxConfigFileBytes is ever read.
class LineSource {
 public:
  LineSource(int fd, const std::string& shown_path, std::vector<std::string>* errors)
      : fd_(fd), shown_path_(shown_path), errors_(errors) {}

  // The next line without its newline (and a trailing \r); false at the end,
  // after a read error, or when the file turns out larger than the limit.
  bool Next(std::string* line) {
    line->clear();
    bool any = false;
    for (;;) {
      if (next_ == end_) {
        if (done_ || !Fill()) return any;
      }
      const char* newline = static_cast<const char*>(std::memchr(next_, '\n', end_ - next_));
      const char* stop = newline ? newline : end_;
      line->append(next_, stop);
      any = true;
      next_ = newline ? newline + 1 : end_;
      if (newline) break;
    }
    if (!line->empty() && line->back() == '\r') line->pop_back();
    return true;
  }

 private:
  bool Fill() {
    ssize_t n;
    do {
      n = read(fd_, buffer_, sizeof buffer_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) errors_->push_back(EscapeControlBytes(ErrnoMessage("read", shown_path_, errno)));
    if (n <= 0) {
      done_ = true;
      return false;
    }
    total_ += static_cast<size_t>(n);
    if (total_ > kMaxConfigFileBytes) {
      errors_->push_back(EscapeControlBytes(shown_path_ + ": larger than " + LimitText() +
                                            ", the limit for a config file"));
      done_ = true;
      return false;
    }
    next_ = buffer_;
    end_ = buffer_ + n;
    return true;
  }

  int fd_;
  std::string shown_path_;
  std::vector<std::string>* errors_;
  char buffer_[8192];
  const char* next_ = buffer_;
  const char* end_ = buffer_;
  size_t total_ = 0;
  bool done_ = false;
};

struct ParseState {
  std::string shown_path;
  LineSource* source;
  std::string line;        // the line last handed to inih
  size_t line_number = 0;  // lines handed to inih so far == number of the current line
  std::vector<IniSection>* sections;
  std::vector<std::string>* errors;
  bool key_seen = false;  // a key in the current section: indented lines continue it

  std::string Where() const { return shown_path + ":" + std::to_string(line_number); }
  void AddError(const std::string& message) {
    errors->push_back(EscapeControlBytes(Where() + ": " + message));
  }
};

// Hands inih an empty line in place of the current one and records why.
char* Reject(ParseState* state, char* buffer, const std::string& why) {
  state->AddError(why);
  std::strcpy(buffer, "\n");
  return buffer;
}

// fgets-like reader for ini_parse_stream(): counts lines, and keeps lines inih
// would mangle (too long, a NUL, junk after "]") or stop at (no "=") away from it,
// so that every bad line of a file is reported, not just inih's first.
char* ReadLine(char* buffer, int size, void* stream) {
  auto* state = static_cast<ParseState*>(stream);
  std::string& line = state->line;
  if (!state->source->Next(&line)) return nullptr;
  ++state->line_number;
  if (line.size() > kMaxIniLineLength) {
    return Reject(state, buffer,
                  "line is " + std::to_string(line.size()) + " characters long; the limit is " +
                      std::to_string(kMaxIniLineLength) +
                      " (continue a long value on indented lines)");
  }
  size_t nul = line.find('\0');
  if (nul != std::string::npos) {
    // inih (C strings) would silently cut the line here.
    return Reject(state, buffer,
                  "a NUL byte at column " + std::to_string(nul + 1) + " in \"" + line + "\"");
  }
  size_t first = line.find_first_not_of(" \t");
  bool blank_or_comment = first == std::string::npos || line[first] == ';' || line[first] == '#';
  if (!blank_or_comment && line[first] == '[') {
    size_t close = line.find(']', first);
    if (close == std::string::npos) return Reject(state, buffer, "\"" + line + "\": missing ]");
    // inih ignores whatever follows "]": only a comment may.
    size_t after = line.find_first_not_of(" \t", close + 1);
    if (after != std::string::npos && line[after] != ';' && line[after] != '#') {
      return Reject(state, buffer,
                    "\"" + line + "\": text after ] (only a ; or # comment may follow)");
    }
    std::string name = line.substr(first + 1, close - first - 1);
    state->sections->push_back(IniSection{name, state->Where(), {}});
    state->key_seen = false;
  } else if (!blank_or_comment) {
    // inih: an indented line after a key continues it; anything else needs = or :.
    bool continuation = first > 0 && state->key_seen;
    if (!continuation && line.find_first_of("=:") == std::string::npos) {
      return Reject(state, buffer,
                    "expected \"key = value\" or \"[section]\", found \"" + line + "\"");
    }
    state->key_seen = true;
  }
  std::snprintf(buffer, static_cast<size_t>(size), "%s\n", line.c_str());
  return buffer;
}

int OnEntry(void* user, const char* section, const char* key, const char* value) {
  auto* state = static_cast<ParseState*>(user);
  if (state->sections->empty() || state->sections->back().name != section) {
    state->sections->push_back(IniSection{section, state->Where(), {}});
  }
  const std::string& raw = state->line;
  bool continuation = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
  state->sections->back().entries.push_back(ConfigEntry{key, value, state->Where(), continuation});
  return 1;
}

// Opens `path` for reading without blocking (a FIFO would wait for a writer) and
// refuses anything but a regular file of at most kMaxConfigFileBytes.
UniqueFd OpenRegularFile(const std::string& path, const std::string& shown_path,
                         std::vector<std::string>* errors) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) {
    errors->push_back(EscapeControlBytes(ErrnoMessage("open", shown_path, errno)));
    return UniqueFd();
  }
  struct stat info {};
  if (fstat(fd.get(), &info) != 0) {
    errors->push_back(EscapeControlBytes(ErrnoMessage("fstat", shown_path, errno)));
    return UniqueFd();
  }
  if (!S_ISREG(info.st_mode)) {
    errors->push_back(EscapeControlBytes(shown_path + ": is " + FileTypeName(info.st_mode) +
                                         ", not a regular file"));
    return UniqueFd();
  }
  if (static_cast<uint64_t>(info.st_size) > kMaxConfigFileBytes) {
    errors->push_back(EscapeControlBytes(shown_path + ": is " + std::to_string(info.st_size) +
                                         " bytes, larger than " + LimitText() +
                                         ", the limit for a config file"));
    return UniqueFd();
  }
  return fd;
}

}  // namespace

bool ReadIniFile(const std::string& path, const std::string& shown_path,
                 std::vector<IniSection>* sections, std::vector<std::string>* errors) {
  size_t errors_before = errors->size();
  UniqueFd fd = OpenRegularFile(path, shown_path, errors);
  if (!fd) return false;
  LineSource source(fd.get(), shown_path, errors);
  ParseState state;
  state.shown_path = shown_path;
  state.source = &source;
  state.sections = sections;
  state.errors = errors;
  int bad_line = ini_parse_stream(ReadLine, &state, OnEntry, &state);
  if (bad_line > 0 && errors->size() == errors_before) {
    // Our reader passes on only lines inih accepts; this would be a gap in it.
    errors->push_back(
        EscapeControlBytes(shown_path + ":" + std::to_string(bad_line) + ": not understood"));
  }
  return errors->size() == errors_before;
}

}  // namespace gatehouse
