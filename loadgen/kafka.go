package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/client/credentials"
)

// kafkaOptions are the franz-go producer settings of a --kafka run: those of
// a typical service and of ../shared/perf's kfakebench (acks=all,
// idempotent, 5 ms linger, batches up to 1 MiB), so that runs of the two
// compare.
func (c *Config) kafkaOptions() []kgo.Opt {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Kafka),
		kgo.DefaultProduceTopic(c.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(c.KafkaLinger),
		kgo.ProducerBatchMaxBytes(1 << 20),
		// The closed loop: Produce blocks once this many records await
		// their acks, as --inflight requests of --batch records do on
		// the Connect path.
		kgo.MaxBufferedRecords(c.Inflight * c.Batch),
	}
	if c.TLS != nil {
		opts = append(opts, kgo.DialTLSConfig(c.TLS))
	}
	if m := saslMechanism(c.KafkaSASL, c.Credentials); m != nil && c.Credentials.User != "" {
		opts = append(opts, kgo.SASL(m))
	}
	return opts
}

// saslMechanism is the franz-go SASL mechanism name ("" is PLAIN) for the
// user of creds, or nil for a name that is none of PLAIN, SCRAM-SHA-256
// and SCRAM-SHA-512.
func saslMechanism(name string, creds credentials.Credentials) sasl.Mechanism {
	switch strings.ToUpper(name) {
	case "", "PLAIN":
		return plain.Auth{User: creds.User, Pass: creds.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: creds.User, Pass: creds.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: creds.User, Pass: creds.Password}.AsSha512Mechanism()
	}
	return nil
}

// produceKafka is the closed-loop Kafka producer: each of c.Producers
// clients keeps Inflight×Batch records buffered, each value drawn by pick,
// and every acknowledged record counts with its latency from Produce to
// its ack. franz-go batches them per partition and pipelines up to five
// requests per connection.
func (r *benchRun) produceKafka(ctx context.Context, pick func(rng *rand.Rand) []byte) error {
	c := r.cfg
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	fail := func(err error) {
		select {
		case errc <- err:
		default:
		}
	}
	for p := range c.Producers {
		cl, err := kgo.NewClient(c.kafkaOptions()...)
		if err != nil {
			return fmt.Errorf("kafka client for %s: %w", c.Kafka, err)
		}
		rng := rand.New(rand.NewPCG(uint64(p), 0x6b61666b61))
		wg.Go(func() {
			defer cl.Close()
			pctx, cancel := context.WithCancel(ctx)
			defer cancel()
			for pctx.Err() == nil {
				v := pick(rng)
				start := time.Now()
				cl.Produce(pctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
					if err != nil {
						if pctx.Err() == nil {
							fail(fmt.Errorf("produce to %s over Kafka at %s: %w", c.Topic, c.Kafka, err))
							cancel()
						}
						return
					}
					r.recordAck(1, len(v), time.Since(start))
				})
			}
			// Records still buffered when the measurement ends are
			// abandoned: only acks inside it count.
			cl.PurgeTopicsFromProducing(c.Topic)
		})
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}
