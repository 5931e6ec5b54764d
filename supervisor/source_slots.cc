#include "supervisor/source_slots.h"

#include <arpa/inet.h>

namespace gatehouse {

SourceSlots::Slot& SourceSlots::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::move(other.owner_);
    source_ = std::move(other.source_);
    other.owner_ = nullptr;
  }
  return *this;
}

void SourceSlots::Slot::Release() {
  if (!owner_) return;
  auto found = owner_->find(source_);
  if (found != owner_->end() && --found->second <= 0) owner_->erase(found);
  owner_ = nullptr;
}

std::string SourceSlots::KeyOf(const std::string& ip, int prefix6) {
  in6_addr address{};
  if (inet_pton(AF_INET6, ip.c_str(), &address) != 1) return ip;
  for (int bit = prefix6; bit < 128; ++bit) {
    address.s6_addr[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
  }
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &address, text, sizeof text);
  return std::string(text) + "/" + std::to_string(prefix6);
}

int SourceSlots::Count(const std::string& source) const {
  auto found = counts_->find(source);
  return found == counts_->end() ? 0 : found->second;
}

SourceSlots::Slot SourceSlots::Take(const std::string& source) {
  ++(*counts_)[source];
  Slot slot;
  slot.owner_ = counts_;
  slot.source_ = source;
  return slot;
}

}  // namespace gatehouse
