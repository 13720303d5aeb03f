#include "web/connection_table.h"

#include <vector>

namespace kvip {

void ConnectionTable::Add(TrackedConnection& connection) {
  if (connection.tracked_) return;
  connection.slot_ = by_progress_.insert(by_progress_.end(), &connection);
  connection.tracked_ = true;
}

void ConnectionTable::Remove(TrackedConnection& connection) {
  if (!connection.tracked_) return;
  by_progress_.erase(connection.slot_);
  connection.tracked_ = false;
}

void ConnectionTable::Progressed(TrackedConnection& connection) {
  if (!connection.tracked_) return;
  by_progress_.splice(by_progress_.end(), by_progress_, connection.slot_);
}

TrackedConnection* ConnectionTable::MostStalled() const {
  for (TrackedConnection* connection : by_progress_) {
    if (!connection->pinned_) return connection;
  }
  return nullptr;
}

void ConnectionTable::DropAll() {
  // Drop() may remove the connection from the table: iterate over a copy.
  std::vector<TrackedConnection*> all(by_progress_.begin(), by_progress_.end());
  for (TrackedConnection* connection : all) connection->Drop();
}

}  // namespace kvip
