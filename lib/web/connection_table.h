#pragma once
// The open connections, ordered by when each last made progress (accepted, read a
// request, wrote a response). At the connection limit the server drops the most stalled
// one instead of refusing the newcomer: slow clients then push each other out, and a
// scrape, which sends its request at once, always gets in. Connections still in their TLS
// handshake go last: under a flood of new connections a scrape's handshake can wait behind
// hundreds of others, while a slow client that is through it has shown what it is.
// Used on the I/O thread only.

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
  bool pinned_ = false;       // waiting for its scrape: never the one to drop
  bool handshaking_ = false;  // dropped only when no other unpinned connection is left
};

class ConnectionTable {
 public:
  size_t size() const { return by_progress_.size(); }

  void Add(TrackedConnection& connection);
  void Remove(TrackedConnection& connection);  // no-op when not tracked
  void Progressed(TrackedConnection& connection);
  void Pin(TrackedConnection& connection, bool pinned) { connection.pinned_ = pinned; }
  void SetHandshaking(TrackedConnection& connection, bool handshaking) {
    connection.handshaking_ = handshaking;
  }

  // The unpinned connection that has gone longest without progress, preferring ones past
  // their handshake; nullptr when every connection is pinned.
  TrackedConnection* MostStalled() const;

  // Drops every connection (shutdown).
  void DropAll();

 private:
  std::list<TrackedConnection*> by_progress_;  // front: least recent progress
};

}  // namespace kvip
