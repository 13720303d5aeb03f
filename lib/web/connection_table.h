#pragma once
// The open connections, ordered by when each last made progress (accepted, finished its
// TLS handshake, read a request, wrote a response). At the connection limit the server
// drops the most stalled one instead of refusing the newcomer: slow clients then push each
// other out, and a scrape, which sends its request at once, gets in. Used on the I/O
// thread only.

#include <cstddef>
#include <list>

namespace kvip {

class TrackedConnection {
 public:
  virtual ~TrackedConnection() = default;
  // Ends the connection at once; its pending operations finish with an error.
  virtual void Drop() = 0;

 private:
  friend class ConnectionTable;
  std::list<TrackedConnection*>::iterator slot_;
  bool tracked_ = false;
  bool pinned_ = false;  // waiting for its scrape: never the one to drop
};

class ConnectionTable {
 public:
  size_t size() const { return by_progress_.size(); }

  void Add(TrackedConnection& connection);
  void Remove(TrackedConnection& connection);  // no-op when not tracked
  void Progressed(TrackedConnection& connection);
  void Pin(TrackedConnection& connection, bool pinned) { connection.pinned_ = pinned; }

  // The unpinned connection that has gone longest without progress, or nullptr.
  TrackedConnection* MostStalled() const;

  // Drops every connection (shutdown).
  void DropAll();

 private:
  std::list<TrackedConnection*> by_progress_;  // front: least recent progress
};

}  // namespace kvip
