package registry_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sluicehq/sluice/internal/pgmeta"
	"github.com/sluicehq/sluice/internal/pgtest"
	"github.com/sluicehq/sluice/registry"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clusterNodes opens n registries on one fresh PostgreSQL database, as n
// nodes of a cluster would, each with a pool of its own. poll is the safety
// poll (long, to show that notifications or lookups do the work).
func clusterNodes(t testing.TB, n int, poll time.Duration) []*registry.Registry {
	t.Helper()
	url := pgtest.DB(t)
	var out []*registry.Registry
	for i := 0; i < n; i++ {
		pool, err := pgmeta.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		r, err := registry.OpenCluster(ctx, registry.Config{Logger: testLogger(t).With("node", i)}, registry.Cluster{Pool: pool, PollInterval: poll})
		if err != nil {
			pool.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() {
			r.Close()
			pool.Close()
		})
		out = append(out, r)
	}
	return out
}

// A schema registered on one node is usable on another at once: lookups
// that miss read the store once before answering "not found".
func TestClusterRegisterVisibleOnOtherNode(t *testing.T) {
	nodes := clusterNodes(t, 2, time.Hour)
	a, b := nodes[0], nodes[1]
	for i := 0; i < 20; i++ {
		subj := fmt.Sprintf("s%d-value", i)
		text := fmt.Sprintf(`{"type":"record","name":"R%d","fields":[{"name":"f","type":"long"}]}`, i)
		sv, err := a.Register(ctx, subj, avroSchema(text), registry.RegisterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// No waiting: B must answer now.
		if v, ok := b.LiveVersionByID(subj, sv.ID); !ok || v != sv.Version {
			t.Fatalf("round %d: LiveVersionByID(%s, %d) on the other node = %d, %v; want %d, true", i, subj, sv.ID, v, ok, sv.Version)
		}
		if _, err := b.SchemaByIDParsed(ctx, sv.ID); err != nil {
			t.Fatalf("round %d: SchemaByIDParsed(%d) on the other node: %v", i, sv.ID, err)
		}
		got, err := b.SchemaByID(ctx, sv.ID)
		if err != nil || got.Text != sv.Text {
			t.Fatalf("round %d: SchemaByID(%d) on the other node = %q, %v", i, sv.ID, got.Text, err)
		}
		if _, err := b.IDsByGUID(ctx, uuid.UUID(sv.GUID())); err != nil {
			t.Fatalf("round %d: IDsByGUID on the other node: %v", i, err)
		}
	}
	// An id nobody registered is still refused (after looking).
	if _, err := b.SchemaByID(ctx, 9999); !errors.Is(err, registry.ErrSchemaNotFound) {
		t.Fatalf("SchemaByID(9999) = %v, want ErrSchemaNotFound", err)
	}
	if _, ok := b.LiveVersionByID("s0-value", 9999); ok {
		t.Fatal("LiveVersionByID of an unknown id = true")
	}
}

// Other nodes' writes reach memory through notifications, without a
// lookup: reads that never miss (subjects, versions, configs) follow.
func TestClusterFollowsNotifications(t *testing.T) {
	nodes := clusterNodes(t, 2, time.Hour)
	a, b := nodes[0], nodes[1]
	watch := b.Watch()
	if _, err := a.Register(ctx, "orders-value", avroSchema(orderV1), registry.RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-watch:
	case <-time.After(30 * time.Second):
		t.Fatal("the other node's Watch did not fire within 30s of a registration")
	}
	subs, err := b.Subjects(ctx, "", registry.ListOptions{})
	if err != nil || !slices.Equal(subs, []string{"orders-value"}) {
		t.Fatalf("Subjects on the other node = %v, %v", subs, err)
	}
	// A config set on B is what A decides with: FULL refuses orderV3 on A.
	full := compatLevel("FULL")
	if _, err := b.SetConfig(ctx, "orders-value", registry.SubjectConfig{Compatibility: &full}); err != nil {
		t.Fatal(err)
	}
	_, err = a.Register(ctx, "orders-value", avroSchema(orderV3), registry.RegisterOptions{})
	wantErr(t, err, new(*registry.IncompatibleError))
}

// A write returns only once every live node has it: right after Register
// returns on A, B (whose catch-up was held up meanwhile) lists the subject
// from memory, which is what B's broker asks before enforcing a topic. This
// is what makes a schema registered on one node enforced on the others at
// once.
func TestClusterWriteWaitsForLiveNodes(t *testing.T) {
	nodes := clusterNodes(t, 3, time.Hour)
	a, b := nodes[0], nodes[1]
	for i := 0; i < 3; i++ {
		subj := fmt.Sprintf("held%d-value", i)
		release := registry.HoldCatchUp(b)
		go func() {
			time.Sleep(200 * time.Millisecond)
			release()
		}()
		if _, err := a.Register(ctx, subj, avroSchema(orderV1), registry.RegisterOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			vs, err := n.Versions(ctx, subj, registry.ListOptions{})
			if err != nil || len(vs) != 1 {
				t.Fatalf("round %d: Versions(%s) on a node right after Register returned = %v, %v; want one version", i, subj, vs, err)
			}
		}
		release()
		// A delete too: the version stops counting everywhere once it returns.
		release = registry.HoldCatchUp(b)
		go func() {
			time.Sleep(200 * time.Millisecond)
			release()
		}()
		if _, err := a.DeleteSubject(ctx, subj, false); err != nil {
			t.Fatal(err)
		}
		if vs, err := b.Versions(ctx, subj, registry.ListOptions{}); err == nil && len(vs) > 0 {
			t.Fatalf("round %d: Versions(%s) on the other node right after the delete returned = %v", i, subj, vs)
		}
		release()
	}
}

// A node that stops catching up (frozen, or cut from PostgreSQL) delays
// writes elsewhere by at most about its poll interval: it stops counting as
// live, and the write returns.
func TestClusterWriteDoesNotWaitForStuckNode(t *testing.T) {
	nodes := clusterNodes(t, 2, 200*time.Millisecond)
	a, b := nodes[0], nodes[1]
	release := registry.HoldCatchUp(b)
	defer release()
	for i := 0; i < 3; i++ {
		if _, err := a.Register(ctx, fmt.Sprintf("stuck%d-value", i), avroSchema(orderV1), registry.RegisterOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if vs, _ := b.Versions(ctx, "stuck0-value", registry.ListOptions{}); len(vs) != 0 {
		t.Fatalf("the held node applied a write: %v", vs)
	}
}

// Two nodes registering at once never reuse an id, keep versions dense,
// and check compatibility against the latest state of the cluster: of two
// schemas each compatible with v1 but not with each other, exactly one is
// accepted.
func TestClusterConcurrentRegistrations(t *testing.T) {
	nodes := clusterNodes(t, 2, time.Hour)
	const (
		rounds   = 12
		perRound = 4 // per node, distinct schemas on one shared subject
	)
	var mu sync.Mutex
	ids := map[int]string{} // id -> schema text
	none := compatLevel("NONE")
	if _, err := nodes[0].SetConfig(ctx, "shared", registry.SubjectConfig{Compatibility: &none}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for n, r := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < rounds*perRound; i++ {
				text := fmt.Sprintf(`{"type":"record","name":"N%dI%d","fields":[{"name":"f","type":"long"}]}`, n, i)
				// NONE on "shared" (set above) accepts every schema.
				sv, err := r.Register(ctx, "shared", avroSchema(text), registry.RegisterOptions{})
				if err != nil {
					errs <- err
					return
				}
				own, err := r.Register(ctx, fmt.Sprintf("own-%d-%d", n, i), avroSchema(text), registry.RegisterOptions{})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, x := range []registry.SubjectVersion{sv, own} {
					if prev, ok := ids[x.ID]; ok && prev != text {
						errs <- fmt.Errorf("id %d given to two schemas:\n%s\n%s", x.ID, prev, text)
					}
					ids[x.ID] = text
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// One id per distinct schema; the shared subject's versions are 1..N.
	if len(ids) != 2*rounds*perRound {
		t.Errorf("%d distinct ids for %d distinct schemas", len(ids), 2*rounds*perRound)
	}
	// Each node sees the other's last writes once their notifications
	// arrive (reads are served from memory).
	want := make([]int, 2*rounds*perRound)
	for i := range want {
		want[i] = i + 1
	}
	for n, r := range nodes {
		deadline := time.Now().Add(30 * time.Second)
		for {
			vs, err := r.Versions(ctx, "shared", registry.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if slices.Equal(vs, want) {
				break
			}
			if len(vs) > len(want) || time.Now().After(deadline) {
				t.Fatalf("node %d: versions of the shared subject = %v, want 1..%d", n, vs, len(want))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Compatibility against the latest state: two registrations racing on
	// BACKWARD subjects, each compatible with v1, not with each other.
	const (
		v1    = `{"type":"record","name":"P","fields":[{"name":"a","type":"string"}]}`
		withS = `{"type":"record","name":"P","fields":[{"name":"a","type":"string"},{"name":"b","type":"string","default":""}]}`
		withI = `{"type":"record","name":"P","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":0}]}`
	)
	for i := 0; i < rounds; i++ {
		subj := fmt.Sprintf("race-%d", i)
		if _, err := nodes[0].Register(ctx, subj, avroSchema(v1), registry.RegisterOptions{}); err != nil {
			t.Fatal(err)
		}
		var results [2]error
		var start sync.WaitGroup
		start.Add(1)
		var done sync.WaitGroup
		for n, text := range []string{withS, withI} {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				_, results[n] = nodes[n].Register(ctx, subj, avroSchema(text), registry.RegisterOptions{})
			}()
		}
		start.Done()
		done.Wait()
		var inc *registry.IncompatibleError
		ok, refused := 0, 0
		for _, err := range results {
			switch {
			case err == nil:
				ok++
			case errors.As(err, &inc):
				refused++
			default:
				t.Fatalf("%s: %v", subj, err)
			}
		}
		if ok != 1 || refused != 1 {
			t.Errorf("%s: %d accepted, %d refused as incompatible; want exactly one each (errors %v)", subj, ok, refused, results)
		}
	}
}

// Closing a node's registry stops its follower; the other nodes carry on.
func TestClusterCloseOneNode(t *testing.T) {
	nodes := clusterNodes(t, 2, 50*time.Millisecond)
	nodes[1].Close()
	if _, err := nodes[0].Register(ctx, "x-value", avroSchema(orderV1), registry.RegisterOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].Register(ctx, "y-value", avroSchema(orderV1), registry.RegisterOptions{}); !errors.Is(err, registry.ErrStore) {
		t.Fatalf("Register on a closed node = %v, want ErrStore", err)
	}
}

// After PostgreSQL is killed and restarted, writes fail while it is down
// and work again after; the other node follows again (its change feed
// reconnects and catches up), with nothing lost or reused.
func TestClusterPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server of its own")
	}
	srv := pgtest.NewServer(t, pgtest.Options{Durable: true})
	url := srv.URL("postgres")
	var nodes []*registry.Registry
	for i := 0; i < 2; i++ {
		pool, err := pgmeta.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		r, err := registry.OpenCluster(ctx, registry.Config{Logger: testLogger(t).With("node", i)}, registry.Cluster{Pool: pool, PollInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			r.Close()
			pool.Close()
		})
		nodes = append(nodes, r)
	}
	a, b := nodes[0], nodes[1]
	before, err := a.Register(ctx, "s-value", avroSchema(orderV1), registry.RegisterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if _, err := a.Register(ctx, "s-value", avroSchema(orderV2), registry.RegisterOptions{}); !errors.Is(err, registry.ErrStore) {
		t.Fatalf("Register with PostgreSQL down = %v, want ErrStore", err)
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	// The pool reconnects on its own; the first attempts may still meet
	// dead connections.
	var after registry.SubjectVersion
	deadline := time.Now().Add(30 * time.Second)
	for {
		after, err = a.Register(ctx, "s-value", avroSchema(orderV2), registry.RegisterOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Register after the restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if after.ID <= before.ID || after.Version != 2 {
		t.Fatalf("after the restart: id %d version %d; want an id above %d and version 2", after.ID, after.Version, before.ID)
	}
	// B follows through its reconnected feed (no lookup: Versions does not
	// miss-refresh).
	for {
		vs, err := b.Versions(ctx, "s-value", registry.ListOptions{})
		if err == nil && slices.Equal(vs, []int{1, 2}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other node after the restart: versions %v, %v; want [1 2]", vs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
