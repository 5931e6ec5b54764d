// SourceSlots: connections running per client source, for per_source. A Slot is
// held by a connection's entry for as long as it runs; however that entry goes
// (the program exits, fails, its child is ended), the count goes down with it.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

namespace gatehouse {

class SourceSlots {
 public:
  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : owner_(other.owner_), source_(std::move(other.source_)) {
      other.owner_ = nullptr;
    }
    Slot& operator=(Slot&& other) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { Release(); }

   private:
    friend class SourceSlots;
    void Release();
    std::shared_ptr<std::unordered_map<std::string, int>> owner_;
    std::string source_;
  };

  // The per_source key of a peer address: an IPv4 address as it is, an IPv6
  // address cut to its first `prefix6` bits (a host usually owns a /64).
  static std::string KeyOf(const std::string& ip, int prefix6);

  int Count(const std::string& source) const;
  Slot Take(const std::string& source);

 private:
  // Shared with the slots, which may outlive this object (a child's entries
  // during shutdown).
  std::shared_ptr<std::unordered_map<std::string, int>> counts_ =
      std::make_shared<std::unordered_map<std::string, int>>();
};

}  // namespace gatehouse
