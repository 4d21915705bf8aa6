package client_test

import (
	"context"
	"errors"
	"log"
	"os"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/credentials"
	"github.com/sluicehq/sluice/client/primitive"
)

// A node with TLS and authentication on: trust its CA, send a user's
// password (or client.WithToken), and tell a refusal of the credentials
// from one of the ACLs.
func ExampleWithBasicAuth() {
	tlsConf, err := credentials.TLSFiles{CA: "ca.pem"}.Config()
	if err != nil {
		log.Fatal(err)
	}
	conn := client.New(nil, "https://sluice.example.com:8080",
		client.WithTLS(tlsConf), client.WithBasicAuth("alice", os.Getenv("SLUICE_PASSWORD")))
	p, err := client.NewProducer(context.Background(), conn, "orders", primitive.String(), primitive.String())
	switch {
	case errors.Is(err, client.ErrUnauthenticated):
		log.Fatalf("wrong or missing credentials: %v", err)
	case errors.Is(err, client.ErrPermissionDenied):
		log.Fatalf("no ACL lets alice write orders: %v", err)
	case err != nil:
		log.Fatal(err)
	}
	_, err = p.Produce(context.Background(), "order-1", "created")
	if err != nil {
		log.Fatal(err)
	}
}
