// Package broker is Sluice's broker: topics and partitions over the durable
// log, the partitioner, produce, fetch and subscribe, served over Connect.
package broker

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"net/http"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/broker/internal/log"
)

// Config configures a Broker.
type Config struct {
	// DB is meta.db (internal/metadb); the broker keeps topic metadata there.
	DB *sql.DB
	// DataDir is the data directory; partitions live under DataDir/topics.
	DataDir string
	// Fsync is the durability policy of appends.
	Fsync FsyncPolicy
	// Logger receives lifecycle logs; nil discards.
	Logger *slog.Logger
}

// FsyncPolicy says when appends reach stable storage (the --fsync flag).
type FsyncPolicy = log.FsyncPolicy

// ParseFsyncPolicy parses "always", "never" or "interval:<duration>".
func ParseFsyncPolicy(s string) (FsyncPolicy, error) { return log.ParseFsyncPolicy(s) }

// Broker owns the topics of one data directory.
type Broker struct{}

// Open loads every topic and recovers its partitions.
func Open(ctx context.Context, cfg Config) (*Broker, error) {
	return nil, errors.New("broker: not implemented") // TODO(broker helper)
}

// Mount registers the TopicService and BrokerService handlers on mux.
func (b *Broker) Mount(mux *http.ServeMux, opts ...connect.HandlerOption) {}

// Close syncs and closes every partition and waits for background work.
func (b *Broker) Close() error { return nil }
