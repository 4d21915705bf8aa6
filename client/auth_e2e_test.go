package client_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/client/credentials"
	"github.com/sluicehq/sluice/client/primitive"
	"github.com/sluicehq/sluice/sluicetest"
)

// securedAuthFile is an auth file with alice (superuser, password
// alice-pw), bob (bob-pw, no ACL) and a token for the superuser ci; made
// once, since argon2id is slow on purpose.
var securedAuthFile = sync.OnceValues(func() (string, string) {
	var b strings.Builder
	b.WriteString("users:\n")
	for _, u := range [][2]string{{"alice", "alice-pw"}, {"bob", "bob-pw"}} {
		e, err := auth.UserEntry(u[0], u[1], false)
		if err != nil {
			panic(err)
		}
		b.WriteString("  " + strings.ReplaceAll(strings.TrimSuffix(e, "\n"), "\n", "\n  ") + "\n")
	}
	token, entry, err := auth.NewToken("ci", "")
	if err != nil {
		panic(err)
	}
	b.WriteString("tokens:\n  " + strings.ReplaceAll(strings.TrimSuffix(entry, "\n"), "\n", "\n  ") + "\n")
	b.WriteString("superusers: [alice, ci]\n")
	return b.String(), token
})

// TestTypedClientsSecuredNode: the typed Producer and Consumer against a
// real node with TLS and authentication, with basic auth and a token; a
// wrong password and a principal without ACLs get the typed errors, on the
// registry calls of NewProducer and on the broker's stream alike.
func TestTypedClientsSecuredNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node with argon2id users")
	}
	yaml, token := securedAuthFile()
	srv := sluicetest.Start(t, sluicetest.Secured(yaml, "alice", "alice-pw"))
	if !strings.HasPrefix(srv.URL, "https://") {
		t.Fatalf("URL %s: want https://", srv.URL)
	}
	srv.CreateTopic(t, "orders", 1, nil)
	ctx := testCtx(t)
	tlsConf, err := credentials.TLSFiles{CA: srv.CAFile}.Config()
	if err != nil {
		t.Fatal(err)
	}
	conn := func(opts ...client.Option) *client.Conn {
		return client.New(nil, srv.URL, append([]client.Option{client.WithTLS(tlsConf)}, opts...)...)
	}

	// alice produces (registering the schema), ci reads with its token.
	p := mustProducer(t, ctx, conn(client.WithBasicAuth("alice", "alice-pw")), "orders", primitive.String(), primitive.String(), client.AutoRegister())
	if _, err := p.Produce(ctx, "k1", "hello"); err != nil {
		t.Fatalf("produce as alice: %v", err)
	}
	c := mustConsumer(t, conn(client.WithToken(token)), "orders", primitive.String(), primitive.String(), client.FromEarliest())
	if got := readN(t, ctx, c, 1); got[0].Key != "k1" || got[0].Value != "hello" {
		t.Fatalf("read %+v", got[0])
	}

	// A wrong password: NewProducer's registry lookup is refused.
	_, err = client.NewProducer(ctx, conn(client.WithBasicAuth("alice", "hunter2")), "orders", primitive.String(), primitive.String())
	var ae *client.AuthError
	if !errors.Is(err, client.ErrUnauthenticated) || !errors.As(err, &ae) || ae.As != "user alice" || ae.URL != srv.URL || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("wrong password: %v", err)
	}
	// bob is authenticated, and no ACL lets him write or read.
	bob := conn(client.WithBasicAuth("bob", "bob-pw"))
	if _, err := client.NewProducer(ctx, bob, "orders", primitive.String(), primitive.String(), client.AutoRegister()); !errors.Is(err, client.ErrPermissionDenied) {
		t.Errorf("bob's producer: %v, want ErrPermissionDenied", err)
	}
	bc := mustConsumer(t, bob, "orders", primitive.String(), primitive.String(), client.FromEarliest())
	err = bc.Run(ctx, func(context.Context, client.Message[string, string]) error { return nil })
	if !errors.Is(err, client.ErrPermissionDenied) || !strings.Contains(err.Error(), "user bob") {
		t.Errorf("bob's consumer: %v, want ErrPermissionDenied naming bob", err)
	}
	// No CA: the node's certificate is not trusted.
	if _, err := client.NewProducer(ctx, client.New(nil, srv.URL, client.WithToken(token)), "orders", primitive.String(), primitive.String()); err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Errorf("without the CA: %v", err)
	}
}
