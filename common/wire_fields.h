// The field codec of the supervisor<->child payloads: fixed-size integers and
// length-prefixed strings and lists, written in order and read back in order with
// the first failure naming its field. wire.cc and the other payload codecs use it.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/wire.h"

namespace gatehouse {

class WireWriter {
 public:
  void U8(uint8_t v) { Raw(&v, 1); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void Str(const std::string& s) {
    U32(static_cast<uint32_t>(s.size()));
    bytes_ += s;
  }
  void Blob(const std::string& bytes) { Str(bytes); }
  void StrList(const std::vector<std::string>& list) {
    U32(static_cast<uint32_t>(list.size()));
    for (const std::string& s : list) Str(s);
  }
  std::string Take() { return std::move(bytes_); }

 private:
  void Raw(const void* p, size_t n) { bytes_.append(static_cast<const char*>(p), n); }
  std::string bytes_;
};

// Reads fields in order; the first failure sticks and names the field.
class WireReader {
 public:
  explicit WireReader(const std::string& bytes) : bytes_(bytes) {}
  void U8(const char* field, uint8_t* v) { Raw(field, v, 1); }
  void U16(const char* field, uint16_t* v) { Raw(field, v, 2); }
  void U32(const char* field, uint32_t* v) { Raw(field, v, 4); }
  void U64(const char* field, uint64_t* v) { Raw(field, v, 8); }
  void I32(const char* field, int32_t* v) { Raw(field, v, 4); }
  void Str(const char* field, std::string* s) {
    uint32_t size = 0;
    U32(field, &size);
    if (!error_.empty()) return;
    if (size > kMaxWireString || size > bytes_.size() - offset_) {
      Fail(field, "bad length");
      return;
    }
    s->assign(bytes_, offset_, size);
    offset_ += size;
    if (s->find('\0') != std::string::npos) Fail(field, "contains a NUL byte");
  }
  // Bytes as they came (NUL bytes too), at most `max`: a datagram.
  void Blob(const char* field, std::string* bytes, size_t max) {
    uint32_t size = 0;
    U32(field, &size);
    if (!error_.empty()) return;
    if (size > max || size > bytes_.size() - offset_) return Fail(field, "bad length");
    bytes->assign(bytes_, offset_, size);
    offset_ += size;
  }
  void StrList(const char* field, std::vector<std::string>* list) {
    uint32_t count = 0;
    U32(field, &count);
    if (!error_.empty()) return;
    if (count > kMaxWireListItems) return Fail(field, "too many items");
    list->resize(count);
    for (std::string& s : *list) Str(field, &s);
  }
  // True when every field was read and nothing is left over.
  bool Finish(std::string* error) {
    if (error_.empty() && offset_ != bytes_.size()) error_ = "trailing bytes";
    if (!error_.empty()) *error = error_;
    return error_.empty();
  }

 private:
  void Raw(const char* field, void* v, size_t n) {
    if (!error_.empty()) return;
    if (bytes_.size() - offset_ < n) return Fail(field, "truncated");
    std::memcpy(v, bytes_.data() + offset_, n);
    offset_ += n;
  }
  void Fail(const char* field, const char* what) {
    if (error_.empty()) error_ = std::string(field) + ": " + what;
  }
  const std::string& bytes_;
  size_t offset_ = 0;
  std::string error_;
};

}  // namespace gatehouse
