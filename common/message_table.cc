#include "common/message_table.h"

namespace gatehouse {

const MessageRule* FindMessageRule(uint16_t type) {
  for (const MessageRule& rule : kMessageTable) {
    if (static_cast<uint16_t>(rule.type) == type) return &rule;
  }
  return nullptr;
}

const char* MessageTypeName(MessageType type) {
  const MessageRule* rule = FindMessageRule(static_cast<uint16_t>(type));
  return rule != nullptr ? rule->name : "unknown";
}

bool MessageAllowed(MessageType type, Sender sender, LinkState state, std::string* refusal) {
  const MessageRule* rule = FindMessageRule(static_cast<uint16_t>(type));
  if (rule == nullptr) {
    *refusal = "unknown message type " + std::to_string(static_cast<uint16_t>(type));
  } else if (rule->sender != sender) {
    *refusal = std::string(rule->name) + " from the " +
               (sender == Sender::kChild ? "child" : "supervisor") + ", which never sends it";
  } else if (state == LinkState::kFatal) {
    *refusal = "a message after Fatal";
  } else if ((rule->allowed_in & In(state)) == 0) {
    *refusal = std::string("unexpected ") + rule->name;
  } else {
    return true;
  }
  return false;
}

LinkState LinkStateAfter(MessageType type, LinkState state) {
  const MessageRule* rule = FindMessageRule(static_cast<uint16_t>(type));
  return rule != nullptr && rule->moves_link ? *rule->moves_link : state;
}

}  // namespace gatehouse
