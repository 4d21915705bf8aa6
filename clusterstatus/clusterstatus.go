// Package clusterstatus gathers the status of a cluster as one node sees
// it: the nodes and their heartbeats, the health of the metadata database
// (PostgreSQL) and of the object store, and per partition its high
// watermark and object count. `sluice cluster status` shows it, through the
// node's ClusterService (server/cluster_status.go).
//
// Each check answers for itself: a database that cannot be reached or a
// store that fails its probe is reported in the Status, with the error, and
// the other checks still run.
package clusterstatus

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sluicehq/sluice/internal/metastore"
	"github.com/sluicehq/sluice/objstore"
)

// CheckTimeout bounds each check (database, nodes, object store probe).
const CheckTimeout = 5 * time.Second

// Partition is one partition's state. The Has fields say which numbers the
// node knows.
type Partition struct {
	Topic     string
	Partition int32
	// HasOffsets says that HighWatermark and LogStartOffset are known.
	HasOffsets bool
	// HighWatermark is the next offset to be written.
	HighWatermark int64
	// LogStartOffset is the first offset kept.
	LogStartOffset int64
	// HasObjectCount says that ObjectCount is known (the shared log).
	HasObjectCount bool
	// ObjectCount is the number of objects holding the partition's records.
	ObjectCount int64
}

// SharedLog is what the shared log (record bytes in the object store,
// offsets in PostgreSQL) reports, when a node runs it.
type SharedLog interface {
	// PartitionStatus returns every partition's high watermark, log start
	// offset and object count (HasOffsets and HasObjectCount set).
	PartitionStatus(ctx context.Context) ([]Partition, error)
}

// Sources are what Collect reads. Zero fields are absent.
type Sources struct {
	// NodeID is the answering node's id; "" on an embedded node.
	NodeID string
	// ClusterID is the Kafka cluster id.
	ClusterID string
	// Pool is the metadata database (cluster mode); nil on an embedded
	// node.
	Pool *pgxpool.Pool
	// DatabaseURL is the database's URL, without its password, to show.
	DatabaseURL string
	// DeadAfter is how old a heartbeat may be before a node is not alive
	// (0: metastore.DefaultDeadAfter).
	DeadAfter time.Duration
	// Objects is the object store (--objects); ObjectsURL its URL, without
	// credentials, to show.
	Objects    objstore.Store
	ObjectsURL string
	// SharedLog, when set, gives the partitions' numbers.
	SharedLog SharedLog
	// Topics, when set, lists the topics of the metadata store (cluster
	// mode), so that a node without topic data still lists every
	// partition.
	Topics func(ctx context.Context) ([]metastore.Topic, error)
	// Local, when set, returns the partitions this node keeps on its own
	// disk, with their offsets (an embedded node, or the data node of a
	// cluster without the shared log).
	Local func() []Partition
	// DataNode is the node that keeps all topic data in a cluster without
	// the shared log.
	DataNode string
}

// Database is the metadata database's health.
type Database struct {
	// URL is the database's URL without its password.
	URL string
	// Reachable is true when the round trip succeeded.
	Reachable bool
	// Err says why it is not reachable.
	Err string
	// ServerVersion is PostgreSQL's server_version.
	ServerVersion string
	// RoundTrip is the time of one query's round trip.
	RoundTrip time.Duration
}

// Objects is the object store's health.
type Objects struct {
	// URL is the store's URL without credentials.
	URL string
	// Healthy is true when the probe succeeded.
	Healthy bool
	// Err says why the probe failed.
	Err string
	// ProbeTime is the time the probe's put, get and delete took.
	ProbeTime time.Duration
}

// Status is the cluster as one node sees it.
type Status struct {
	// Cluster is false on an embedded node.
	Cluster bool
	// NodeID is the answering node ("" on an embedded node).
	NodeID string
	// ClusterID is the Kafka cluster id.
	ClusterID string
	// Nodes are every node that ever joined, by id.
	Nodes []metastore.Node
	// NodesErr says why the nodes could not be listed.
	NodesErr string
	// Database is the metadata database's health (nil on an embedded node).
	Database *Database
	// Objects is the object store's health (nil without one).
	Objects *Objects
	// SharedLog is true when the shared log serves every topic.
	SharedLog bool
	// SharedLogNote explains where records live, in a sentence.
	SharedLogNote string
	// DataNode is the node that keeps all topic data in a cluster without
	// the shared log.
	DataNode string
	// Partitions are every partition known, by topic and number.
	Partitions []Partition
	// PartitionsErr says why partitions are missing.
	PartitionsErr string
}

// Collect gathers the status. It returns an error only when ctx ends.
func Collect(ctx context.Context, src Sources) (*Status, error) {
	st := &Status{Cluster: src.Pool != nil, NodeID: src.NodeID, ClusterID: src.ClusterID, DataNode: src.DataNode}
	var wg sync.WaitGroup
	if src.Pool != nil {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			st.Database = checkDatabase(cctx, src.Pool, src.DatabaseURL)
		})
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			nodes, err := metastore.ListNodes(cctx, src.Pool, src.DeadAfter)
			if err != nil {
				st.NodesErr = err.Error()
			}
			st.Nodes = nodes
		})
	}
	if src.Objects != nil {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			st.Objects = &Objects{URL: src.ObjectsURL}
			who := src.NodeID
			if who == "" {
				who = "embedded"
			}
			d, err := objstore.Probe(cctx, src.Objects, "status-"+who)
			if err != nil {
				st.Objects.Err = err.Error()
			} else {
				st.Objects.Healthy, st.Objects.ProbeTime = true, d
			}
		})
	}
	wg.Go(func() {
		cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
		defer cancel()
		st.Partitions, st.PartitionsErr = partitions(cctx, src)
	})
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case src.SharedLog != nil:
		st.SharedLog = true
		st.SharedLogNote = "enabled: record bytes live in the object store and offsets in the metadata database; every node serves every topic"
	case src.Pool == nil:
		st.SharedLogNote = "embedded node, not a cluster: records live in this node's data directory"
	default:
		st.SharedLogNote = fmt.Sprintf("not enabled: every topic's records live on the disk of node %q (the data node); object counts are unknown", src.DataNode)
	}
	return st, nil
}

func checkDatabase(ctx context.Context, pool *pgxpool.Pool, url string) *Database {
	db := &Database{URL: url}
	if err := pool.QueryRow(ctx, `SELECT current_setting('server_version')`).Scan(&db.ServerVersion); err != nil {
		db.Err = err.Error()
		return db
	}
	// The round trip of one query on a connection already open.
	start := time.Now()
	var one int
	if err := pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		db.Err = err.Error()
		return db
	}
	db.RoundTrip = time.Since(start)
	db.Reachable = true
	return db
}

// partitions merges what the sources know: the shared log's numbers win,
// then the node's own; the metadata store's topics add the partitions
// neither knows (with no numbers).
func partitions(ctx context.Context, src Sources) ([]Partition, string) {
	type key struct {
		topic string
		p     int32
	}
	byKey := map[key]Partition{}
	var errs []string
	if src.Topics != nil {
		topics, err := src.Topics(ctx)
		if err != nil {
			errs = append(errs, "topics: "+err.Error())
		}
		for _, t := range topics {
			if t.Deleted {
				continue
			}
			for p := range t.Partitions {
				byKey[key{t.Name, int32(p)}] = Partition{Topic: t.Name, Partition: int32(p)}
			}
		}
	}
	if src.Local != nil {
		for _, p := range src.Local() {
			byKey[key{p.Topic, p.Partition}] = p
		}
	}
	if src.SharedLog != nil {
		ps, err := src.SharedLog.PartitionStatus(ctx)
		if err != nil {
			errs = append(errs, "shared log: "+err.Error())
		}
		for _, p := range ps {
			byKey[key{p.Topic, p.Partition}] = p
		}
	}
	out := make([]Partition, 0, len(byKey))
	for _, p := range byKey {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Partition) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition) - int(b.Partition)
	})
	return out, strings.Join(errs, "; ")
}
