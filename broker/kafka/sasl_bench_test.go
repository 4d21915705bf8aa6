package kafka_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/sluicehq/sluice/acl"
)

// BenchmarkProduceSecure produces 1 KiB records with kgo to a node without
// security, to one with TLS and SASL SCRAM-SHA-256 as a superuser (the ACL
// check passes at once), and to the same as bob, whose produce is allowed
// by an ACL among 200 others (the decision walks the rules of the topic and
// the wildcard), same build, same run:
//
//	go test ./broker/kafka -run '^$' -bench ProduceSecure -benchtime 50000x
func BenchmarkProduceSecure(b *testing.B) {
	for _, mode := range []string{"plain", "tls+scram", "tls+scram+acl"} {
		b.Run(mode, func(b *testing.B) {
			var addr string
			var opts []kgo.Opt
			var create func(topic string)
			if mode != "plain" {
				n := startSecureNode(b, true)
				addr = n.addr
				user := "alice"
				if mode == "tls+scram+acl" {
					user = "bob"
					var rules []acl.Rule
					for i := range 200 {
						rules = append(rules, acl.Rule{Principal: fmt.Sprintf("user-%d", i), Resource: acl.Topic, Name: fmt.Sprintf("topic-%d", i),
							Pattern: acl.Literal, Operation: acl.Write, Permission: acl.Allow})
					}
					rules = append(rules,
						acl.Rule{Principal: "bob", Resource: acl.Topic, Name: "bench", Pattern: acl.Literal, Operation: acl.Write, Permission: acl.Allow},
						acl.Rule{Principal: "*", Resource: acl.Topic, Name: "secret-", Pattern: acl.Prefixed, Operation: acl.All, Permission: acl.Deny})
					if err := n.srv.ACL.Create(context.Background(), rules); err != nil {
						b.Fatal(err)
					}
				}
				opts = []kgo.Opt{kgo.DialTLSConfig(n.tlsConfig(nil)), kgo.SASL(scram.Auth{User: user, Pass: user + "-pw"}.AsSha256Mechanism())}
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
