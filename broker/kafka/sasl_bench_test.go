package kafka_test

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// BenchmarkProduceSecure produces 1 KiB records with kgo to a node without
// security and to one with TLS and SASL SCRAM-SHA-256 (and, with
// authentication on, the ACL check of every produce; the user is a
// superuser), same build, same run:
//
//	go test ./broker/kafka -run '^$' -bench ProduceSecure -benchtime 50000x
func BenchmarkProduceSecure(b *testing.B) {
	for _, secure := range []bool{false, true} {
		name := "plain"
		if secure {
			name = "tls+scram"
		}
		b.Run(name, func(b *testing.B) {
			var addr string
			var opts []kgo.Opt
			var create func(topic string)
			if secure {
				n := startSecureNode(b, true)
				addr = n.addr
				opts = []kgo.Opt{kgo.DialTLSConfig(n.tlsConfig(nil)), kgo.SASL(scram.Auth{User: "alice", Pass: "alice-pw"}.AsSha256Mechanism())}
				create = func(topic string) {
					if _, err := n.srv.Broker.CreateTopic(context.Background(), topic, 1, nil); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				srv := startNode(b)
				addr = srv.Addr
				create = func(topic string) { createTopicCore(b, srv.Server, topic, 1, nil) }
			}
			create("bench")
			cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("bench"),
				kgo.ProducerLinger(0)}, opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer cl.Close()
			ctx := context.Background()
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 1024)}).FirstErr(); err != nil {
				b.Fatal(err) // connected and authenticated before timing
			}
			value := make([]byte, 1024)
			b.SetBytes(1024)
			b.ResetTimer()
			errs := make(chan error, 1)
			for range b.N {
				cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
					if err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				})
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
		})
	}
}
