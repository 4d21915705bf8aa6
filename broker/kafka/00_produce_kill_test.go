package kafka_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/broker/kafka"
	"github.com/sluicehq/sluice/server"
)

// kafkaHelperEnv names the data directory when the test binary runs as a
// node for TestKafkaKill9KeepsAcknowledgedRecords.
const kafkaHelperEnv = "SLUICE_KAFKA_HELPER_DIR"

// TestHelperKafkaNode is not a test: re-executed by the kill -9 test with
// kafkaHelperEnv set, it runs a whole node (fsync always) with its Kafka
// listener on 127.0.0.1, prints the Kafka address and runs until killed.
func TestHelperKafkaNode(t *testing.T) {
	dir := os.Getenv(kafkaHelperEnv)
	if dir == "" {
		t.Skip("helper process for TestKafkaKill9KeepsAcknowledgedRecords")
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, _, _, err := server.Start(context.Background(), server.Config{DataDir: dir, Logger: logger}, "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	// The topic and partitions can be changed for benchmarks (the node is
	// then a stand-in for `sluice serve --kafka-addr`).
	topic, parts := "durable", 4
	if v := os.Getenv(kafkaHelperEnv + "_TOPIC"); v != "" {
		topic = v
	}
	if v, err := strconv.Atoi(os.Getenv(kafkaHelperEnv + "_PARTITIONS")); err == nil {
		parts = v
	}
	if _, err := srv.Broker.CreateTopic(context.Background(), topic, parts, nil); err != nil && !errors.Is(err, broker.ErrTopicExists) {
		fail(err)
	}
	ks, err := kafka.New(kafka.Config{Broker: srv.Broker, Logger: logger})
	if err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	fmt.Println(ln.Addr())
	fail(ks.Serve(ln))
}

// startKafkaHelper runs the test binary as a node on dir and returns it and
// its Kafka address.
func startKafkaHelper(t *testing.T, dir string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKafkaNode$", "-test.v=false")
	cmd.Env = append(os.Environ(), kafkaHelperEnv+"="+dir)
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper node did not print its address: %v", err)
	}
	return cmd, line[:len(line)-1]
}

// TestKafkaKill9KeepsAcknowledgedRecords kills the node with SIGKILL while
// an idempotent kgo producer (acks=all) is sending, restarts it on the same
// data directory, and checks that every acknowledged record is there, byte
// for byte, at the offset it was acknowledged with.
func TestKafkaKill9KeepsAcknowledgedRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: re-executes the test binary as a node")
	}
	dir := t.TempDir()
	cmd, addr := startKafkaHelper(t, dir) // it creates topic durable, 4 partitions
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("durable"), kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordDeliveryTimeout(3*time.Second), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}

	// A producer of our own, whose sequence numbers the test knows: two
	// acknowledged batches before the kill; after the restart its state
	// must still say what they were.
	idem := initIdempotent(t, addr)
	idem.produce(t, 0, 3)
	lastBase := idem.produce(t, 3, 2)

	const killAfter = 3000
	type ack struct {
		partition int32
		offset    int64
		value     []byte
	}
	var (
		mu     sync.Mutex
		acks   []ack
		killed = make(chan struct{})
		once   sync.Once
		wg     sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for p := range 4 {
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil; seq++ {
				v := fmt.Appendf(nil, "producer %d record %d ", p, seq)
				v = append(v, bytes.Repeat([]byte{byte(seq)}, (seq*7)%300)...)
				r := &kgo.Record{Key: fmt.Appendf(nil, "key-%d", seq%17), Value: v}
				cl.Produce(ctx, r, func(r *kgo.Record, err error) {
					if err != nil {
						select {
						case <-killed:
						default:
							t.Errorf("produce before the kill: %v", err)
						}
						return
					}
					mu.Lock()
					acks = append(acks, ack{r.Partition, r.Offset, r.Value})
					n := len(acks)
					mu.Unlock()
					if n >= killAfter {
						once.Do(func() {
							close(killed)
							// Records are still in flight: the kill lands mid-produce.
							if err := cmd.Process.Kill(); err != nil {
								t.Errorf("kill: %v", err)
							}
							cancel()
						})
					}
				})
			}
		})
	}
	wg.Wait()
	cmd.Wait()
	// Fail what is still buffered or in flight: a record acknowledged from
	// here on would have been acknowledged by a dead process.
	cl.Close()

	_, addr = startKafkaHelper(t, dir)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d records acknowledged before the kill", len(acks))
	info, err := newAdmin(t, addr).ListEndOffsets(testCtx(t), "durable")
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	info.Each(func(o kadm.ListedOffset) { total += int(o.Offset) })
	stored := consumeAll(t, addr, "durable", 4, total)
	byPart := map[int32]map[int64][]byte{}
	for p, rs := range stored {
		byPart[p] = map[int64][]byte{}
		for _, r := range rs {
			byPart[p][r.Offset] = r.Value
		}
	}
	lost := 0
	for _, a := range acks {
		got, ok := byPart[a.partition][a.offset]
		if !ok || !bytes.Equal(got, a.value) {
			if lost < 5 {
				t.Errorf("acknowledged record %d/%d: stored %q, want %q", a.partition, a.offset, got, a.value)
			}
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged records lost or changed", lost, len(acks))
	}

	// The idempotent producer's state survived the kill: a retry of its
	// last batch is a duplicate answered with the original offset (nothing
	// appended), a gap is OUT_OF_ORDER_SEQUENCE_NUMBER, and the next batch
	// goes on from where it stopped.
	idem.cl = newClient(t, addr)
	if base, code := idem.send(t, 3, 2); code != 0 || base != lastBase {
		t.Fatalf("retry of the last batch after kill -9: %v at offset %d, want the original offset %d", kerr.ErrorForCode(code), base, lastBase)
	}
	if end := idem.end(t); end != byPartEnd(byPart, 0) {
		t.Fatalf("the retry was appended: partition 0 ends at %d, was %d", end, byPartEnd(byPart, 0))
	}
	if _, code := idem.send(t, 6, 1); code != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence gap after kill -9: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(code))
	}
	if base, code := idem.send(t, 5, 1); code != 0 || base != byPartEnd(byPart, 0) {
		t.Fatalf("next batch after kill -9: %v at offset %d, want %d", kerr.ErrorForCode(code), base, byPartEnd(byPart, 0))
	}
}

// byPartEnd is the end offset of partition p as read back.
func byPartEnd(byPart map[int32]map[int64][]byte, p int32) int64 { return int64(len(byPart[p])) }

// rawIdempotent is an idempotent producer written by hand (InitProducerId,
// then batches with the sequence numbers the test chooses) to partition 0
// of topic durable.
type rawIdempotent struct {
	cl    *kgo.Client
	pid   int64
	epoch int16
}

// initIdempotent gets a producer id from the node at addr.
func initIdempotent(t *testing.T, addr string) *rawIdempotent {
	t.Helper()
	cl := newClient(t, addr)
	resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(testCtx(t), cl)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	return &rawIdempotent{cl: cl, pid: resp.ProducerID, epoch: resp.ProducerEpoch}
}

// send produces n records numbered from seq (acks=all) and returns the
// partition's base offset and error code.
func (r *rawIdempotent) send(t *testing.T, seq int32, n int) (int64, int16) {
	t.Helper()
	values := make([][]byte, n)
	for i := range values {
		values[i] = fmt.Appendf(nil, "idempotent %d", int(seq)+i)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "durable"
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = 0, producerBatch(r.pid, r.epoch, seq, values)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t), r.cl)
	if err != nil {
		t.Fatalf("produce sequence %d: %v", seq, err)
	}
	p := resp.Topics[0].Partitions[0]
	return p.BaseOffset, p.ErrorCode
}

// produce is send that must succeed.
func (r *rawIdempotent) produce(t *testing.T, seq int32, n int) int64 {
	t.Helper()
	base, code := r.send(t, seq, n)
	if code != 0 {
		t.Fatalf("produce sequence %d: %v", seq, kerr.ErrorForCode(code))
	}
	return base
}

// end is partition 0's end offset.
func (r *rawIdempotent) end(t *testing.T) int64 {
	t.Helper()
	ends, err := kadm.NewClient(r.cl).ListEndOffsets(testCtx(t), "durable")
	if err != nil {
		t.Fatal(err)
	}
	o, _ := ends.Lookup("durable", 0)
	return o.Offset
}
