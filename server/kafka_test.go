package server

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/datadir"
)

func neverFsync(t *testing.T) broker.FsyncPolicy {
	p, err := broker.ParseFsyncPolicy("never")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStartWithKafka: Start runs the Kafka listener when KafkaAddr is set;
// a Kafka client sees node 0 at the bound address and the topics created
// over Connect; stop shuts it down and frees the port.
func TestStartWithKafka(t *testing.T) {
	s, _, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Fsync: neverFsync(t), KafkaAddr: "127.0.0.1:0"}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := s.KafkaAddr()
	if addr == "" || s.KafkaAdvertisedAddr() != addr {
		t.Fatalf("KafkaAddr %q advertised %q", addr, s.KafkaAdvertisedAddr())
	}
	if _, err := s.Broker.CreateTopic(context.Background(), "t", 2, nil); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	md, err := kadm.NewClient(cl).Metadata(context.Background())
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(addr)
	if len(md.Brokers) != 1 || md.Brokers[0].Host != host || len(md.Topics["t"].Partitions) != 2 || port == "" {
		t.Fatalf("metadata %+v", md)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the Kafka port is still taken after stop: %v", err)
	}
	ln.Close()
}

// TestKafkaOffAndTakenPort: no KafkaAddr means no listener; a taken Kafka
// address fails New before it locks the directory.
func TestKafkaOffAndTakenPort(t *testing.T) {
	s, _, stop, err := Start(context.Background(), Config{DataDir: t.TempDir(), Fsync: neverFsync(t)}, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.KafkaAddr() != "" || s.ServeKafka() != nil || s.ShutdownKafka(context.Background()) != nil {
		t.Fatal("Kafka listener present with KafkaAddr empty")
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	if _, err := New(context.Background(), Config{DataDir: dir, KafkaAddr: taken.Addr().String()}); err == nil || !strings.Contains(err.Error(), "Kafka listener") {
		t.Fatalf("New on a taken Kafka port: %v", err)
	}
	// The directory is free: nothing locked it.
	l, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatalf("directory left locked: %v", err)
	}
	l.Release()
	// A bad advertised address fails New and releases everything.
	_, err = New(context.Background(), Config{DataDir: dir, KafkaAddr: "127.0.0.1:0", KafkaAdvertisedAddr: "0.0.0.0:9092"})
	if err == nil || !strings.Contains(err.Error(), "wildcard") {
		t.Fatalf("bad advertised address: %v", err)
	}
	l, err = datadir.Acquire(dir)
	if err != nil && errors.Is(err, datadir.ErrLocked) {
		t.Fatalf("directory left locked after a failed New: %v", err)
	}
	l.Release()
}
