package txn

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"
)

var t0 = time.UnixMilli(1_700_000_000_000)

// store is a Persist that records every state and can be made to fail.
type store struct {
	saved map[string]*Txn
	fail  error
}

func (s *store) persist(t *Txn) error {
	if s.fail != nil {
		return s.fail
	}
	if s.saved == nil {
		s.saved = map[string]*Txn{}
	}
	s.saved[t.ID] = t.Clone()
	return nil
}

func newPIDs() func() (int64, error) {
	next := int64(1000)
	return func() (int64, error) { next++; return next - 1, nil }
}

var p0 = Partition{Topic: "t", Partition: 0}

func TestStateMachine(t *testing.T) {
	s := &store{}
	c := New(nil, 0, nil)
	pids := newPIDs()
	res, err := c.InitProducerID("a", time.Minute, -1, -1, pids, s.persist)
	if err != nil || res.ProducerID != 1000 || res.Epoch != 0 || res.Abort != nil {
		t.Fatalf("first init: %+v %v", res, err)
	}
	pid, ep := res.ProducerID, res.Epoch

	steps := []struct {
		name string
		do   func() error
		want error
	}{
		{"end with nothing open", func() error { _, err := c.End("a", pid, ep, true, s.persist); return err }, ErrInvalidState},
		{"produce before add", func() error { return c.CheckProduce(pid, ep, p0) }, ErrInvalidState},
		{"add with the wrong pid", func() error { return c.AddPartitions("a", pid+1, ep, []Partition{p0}, t0, s.persist) }, ErrUnknownProducer},
		{"add with the wrong epoch", func() error { return c.AddPartitions("a", pid, ep+1, []Partition{p0}, t0, s.persist) }, ErrFenced},
		{"add unknown id", func() error { return c.AddPartitions("zz", pid, ep, []Partition{p0}, t0, s.persist) }, ErrUnknownProducer},
		{"add", func() error { return c.AddPartitions("a", pid, ep, []Partition{p0}, t0, s.persist) }, nil},
		{"produce", func() error { return c.CheckProduce(pid, ep, p0) }, nil},
		{"produce to another partition", func() error { return c.CheckProduce(pid, ep, Partition{"t", 1}) }, ErrInvalidState},
		{"produce at an old epoch", func() error { return c.CheckProduce(pid, ep-1, p0) }, ErrFenced},
		{"offsets for a group not added", func() error {
			return c.CommitOffsets("a", pid, ep, "g", []GroupOffset{{p0, Offset{Offset: 5}}}, s.persist)
		}, ErrInvalidState},
		{"add group", func() error { return c.AddGroup("a", pid, ep, "g", t0, s.persist) }, nil},
		{"offsets", func() error {
			return c.CommitOffsets("a", pid, ep, "g", []GroupOffset{{p0, Offset{Offset: 5}}}, s.persist)
		}, nil},
		{"prepare commit", func() error {
			tx, err := c.End("a", pid, ep, true, s.persist)
			if err == nil && (tx == nil || tx.State != PrepareCommit) {
				return errors.New("no PrepareCommit returned")
			}
			return err
		}, nil},
		{"end again while completing", func() error { _, err := c.End("a", pid, ep, true, s.persist); return err }, ErrConcurrent},
		{"abort while committing", func() error { _, err := c.End("a", pid, ep, false, s.persist); return err }, ErrInvalidState},
		{"add while completing", func() error { return c.AddPartitions("a", pid, ep, []Partition{p0}, t0, s.persist) }, ErrConcurrent},
		{"init while completing", func() error {
			_, err := c.InitProducerID("a", time.Minute, -1, -1, pids, s.persist)
			return err
		}, ErrConcurrent},
		{"complete", func() error { return c.Complete("a", s.persist) }, nil},
		{"commit again", func() error {
			tx, err := c.End("a", pid, ep, true, s.persist)
			if tx != nil {
				return errors.New("a repeated commit returned work")
			}
			return err
		}, nil},
		{"abort after commit", func() error { _, err := c.End("a", pid, ep, false, s.persist); return err }, ErrInvalidState},
	}
	for _, st := range steps {
		if err := st.do(); !errors.Is(err, st.want) || (st.want == nil && err != nil) {
			t.Fatalf("%s: %v, want %v", st.name, err, st.want)
		}
	}
	if got := s.saved["a"]; got.State != CompleteCommit || len(got.Partitions) != 0 || got.Groups != nil {
		t.Fatalf("stored after completion: %+v", got)
	}
}

func TestInitFencesAndAbortsOpen(t *testing.T) {
	s := &store{}
	c := New(nil, 0, nil)
	pids := newPIDs()
	res, _ := c.InitProducerID("a", time.Minute, -1, -1, pids, s.persist)
	if err := c.AddPartitions("a", res.ProducerID, res.Epoch, []Partition{p0}, t0, s.persist); err != nil {
		t.Fatal(err)
	}
	if c.Pending("g", p0) {
		t.Fatal("pending without offsets")
	}
	again, err := c.InitProducerID("a", time.Minute, -1, -1, pids, s.persist)
	if err != nil || again.Abort == nil || again.Abort.State != PrepareAbort || again.Abort.Epoch != 1 {
		t.Fatalf("init over an open transaction: %+v %v", again, err)
	}
	if err := c.Complete("a", s.persist); err != nil {
		t.Fatal(err)
	}
	// KIP-360: the client sends the epoch it had (now the last one).
	again, err = c.InitProducerID("a", time.Minute, res.ProducerID, 0, pids, s.persist)
	if err != nil || again.Abort != nil || again.ProducerID != res.ProducerID || again.Epoch != 2 {
		t.Fatalf("init after the abort: %+v %v", again, err)
	}
	if _, err := c.InitProducerID("a", time.Minute, res.ProducerID+7, 2, pids, s.persist); !errors.Is(err, ErrFenced) {
		t.Fatalf("init with a foreign producer id: %v", err)
	}
	if _, err := c.InitProducerID("a", 0, -1, -1, pids, s.persist); !errors.Is(err, ErrInvalidTimeout) {
		t.Fatalf("timeout 0: %v", err)
	}
	if _, err := c.InitProducerID("a", time.Hour, -1, -1, pids, s.persist); !errors.Is(err, ErrInvalidTimeout) {
		t.Fatalf("timeout above the maximum: %v", err)
	}
}

func TestPersistFailureLeavesStateUnchanged(t *testing.T) {
	s := &store{}
	c := New(nil, 0, nil)
	res, _ := c.InitProducerID("a", time.Minute, -1, -1, newPIDs(), s.persist)
	s.fail = errors.New("disk full")
	if err := c.AddPartitions("a", res.ProducerID, res.Epoch, []Partition{p0}, t0, s.persist); err == nil {
		t.Fatal("add succeeded without storage")
	}
	if tx, _ := c.Get("a"); tx.State != Empty || len(tx.Partitions) != 0 {
		t.Fatalf("state moved ahead of storage: %+v", tx)
	}
}

func TestTimeoutAndReload(t *testing.T) {
	s := &store{}
	c := New(nil, 0, nil)
	res, _ := c.InitProducerID("a", 10*time.Second, -1, -1, newPIDs(), s.persist)
	if err := c.AddPartitions("a", res.ProducerID, res.Epoch, []Partition{p0}, t0, s.persist); err != nil {
		t.Fatal(err)
	}
	if exp, _ := c.Expired(t0.Add(9 * time.Second)); len(exp) != 0 {
		t.Fatalf("expired early: %v", exp)
	}
	if exp, _ := c.Expired(t0.Add(10 * time.Second)); len(exp) != 1 {
		t.Fatalf("not expired at the timeout: %v", exp)
	}
	// A restart reloads the stored state.
	c2 := New([]*Txn{s.saved["a"]}, 0, nil)
	tx, err := c2.Abort("a", t0.Add(11*time.Second), s.persist)
	if err != nil || tx == nil || tx.State != PrepareAbort || tx.Epoch != res.Epoch+1 {
		t.Fatalf("timeout abort after reload: %+v %v", tx, err)
	}
	if _, prep := c2.Expired(t0); len(prep) != 1 {
		t.Fatalf("prepared list: %v", prep)
	}
	if err := c2.CheckProduce(res.ProducerID, res.Epoch, p0); !errors.Is(err, ErrFenced) {
		t.Fatalf("produce after the timeout abort: %v", err)
	}
}

// TestAddIsTheThreeSteps: Add leaves the state AddPartitions, AddGroup and
// CommitOffsets leave, with one persist instead of three, and nothing
// when it adds nothing new; a Prepare state refuses it.
func TestAddIsTheThreeSteps(t *testing.T) {
	p1 := Partition{Topic: "t", Partition: 1}
	offs := []GroupOffset{{p1, Offset{Offset: 9, Metadata: "m"}}, {p0, Offset{Offset: 5}}}
	setup := func() (*Coordinator, *countingStore, int64, int16) {
		s := &countingStore{}
		c := New(nil, time.Hour, func() time.Time { return time.Unix(1, 0) }) // states compared whole: one time
		res, err := c.InitProducerID("a", time.Minute, -1, -1, newPIDs(), s.persist)
		if err != nil {
			t.Fatal(err)
		}
		s.n = 0
		return c, s, res.ProducerID, res.Epoch
	}
	c3, s3, pid, ep := setup()
	if err := c3.AddPartitions("a", pid, ep, []Partition{p1, p0}, t0, s3.persist); err != nil {
		t.Fatal(err)
	}
	if err := c3.AddGroup("a", pid, ep, "g", t0, s3.persist); err != nil {
		t.Fatal(err)
	}
	if err := c3.CommitOffsets("a", pid, ep, "g", offs, s3.persist); err != nil {
		t.Fatal(err)
	}
	c1, s1, pid1, ep1 := setup()
	if err := c1.Add("a", pid1, ep1, []Partition{p1, p0}, "g", offs, t0, s1.persist); err != nil {
		t.Fatal(err)
	}
	want, _ := c3.Get("a")
	got, _ := c1.Get("a")
	if s3.n != 3 || s1.n != 1 || !reflect.DeepEqual(got, want) {
		t.Fatalf("Add: %d persists, state %+v; the three steps: %d persists, state %+v", s1.n, got, s3.n, want)
	}
	if err := c1.Add("a", pid1, ep1, []Partition{p0}, "g", nil, t0, s1.persist); err != nil || s1.n != 1 {
		t.Fatalf("adding what is there: %v, %d persists (want none)", err, s1.n-1)
	}
	if err := c1.Add("a", pid1, ep1+1, []Partition{p0}, "", nil, t0, s1.persist); !errors.Is(err, ErrFenced) {
		t.Fatalf("an older epoch: %v, want ErrFenced", err)
	}
	if _, err := c1.End("a", pid1, ep1, true, s1.persist); err != nil {
		t.Fatal(err)
	}
	if err := c1.Add("a", pid1, ep1, []Partition{p0}, "", nil, t0, s1.persist); !errors.Is(err, ErrConcurrent) {
		t.Fatalf("while committing: %v, want ErrConcurrent", err)
	}
}

// countingStore is a Persist that counts its writes.
type countingStore struct{ n int }

func (s *countingStore) persist(*Txn) error { s.n++; return nil }

// TestForgetIdle: a transactional id whose transaction is complete and
// unchanged for the expiration is idle and can be forgotten (its stored
// state removed first); an open one, one changed since, or one whose
// removal fails is kept; a forgotten id starts again with a new producer
// id.
func TestForgetIdle(t *testing.T) {
	clock := time.Unix(1_000_000, 0)
	now := func() time.Time { return clock }
	s := &store{}
	c := New(nil, 0, now)
	pids := newPIDs()
	done, err := c.InitProducerID("done", time.Minute, -1, -1, pids, s.persist)
	if err != nil {
		t.Fatal(err)
	}
	open, err := c.InitProducerID("open", time.Minute, -1, -1, pids, s.persist)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddPartitions("open", open.ProducerID, open.Epoch, []Partition{p0}, clock, s.persist); err != nil {
		t.Fatal(err)
	}
	if got := s.saved["done"].Updated; !got.Equal(clock) {
		t.Fatalf("stored state stamped %v, want the coordinator's clock %v", got, clock)
	}
	const expiration = 7 * 24 * time.Hour // Kafka's default
	clock = clock.Add(expiration + time.Hour)
	cutoff := clock.Add(-expiration)
	if got := c.Idle(cutoff); !slices.Equal(got, []string{"done"}) {
		t.Fatalf("idle %v, want [done] (open is Ongoing)", got)
	}
	refuse := errors.New("disk full")
	if ok, err := c.Forget("done", cutoff, func(string) error { return refuse }); ok || !errors.Is(err, refuse) {
		t.Fatalf("forget with a failing removal: %v %v", ok, err)
	}
	if _, ok := c.Get("done"); !ok {
		t.Fatal("a failed removal dropped the state")
	}
	var removed []string
	remove := func(id string) error { removed = append(removed, id); return nil }
	if ok, err := c.Forget("open", cutoff, remove); ok || err != nil {
		t.Fatalf("forget an Ongoing transaction: %v %v", ok, err)
	}
	if ok, err := c.Forget("done", cutoff, remove); !ok || err != nil || !slices.Equal(removed, []string{"done"}) {
		t.Fatalf("forget: %v %v, removed %v", ok, err, removed)
	}
	if _, ok := c.Get("done"); ok {
		t.Fatal("forgotten id still held")
	}
	if _, ok := c.Owner(done.ProducerID); ok {
		t.Fatal("forgotten id's producer id still maps to it")
	}
	again, err := c.InitProducerID("done", time.Minute, -1, -1, pids, s.persist)
	if err != nil || again.ProducerID == done.ProducerID || again.Epoch != 0 {
		t.Fatalf("init after forgetting: %+v %v; want a new producer id at epoch 0", again, err)
	}
	// Changed since the cutoff: not idle.
	if got := c.Idle(cutoff); len(got) != 0 {
		t.Fatalf("idle right after a change: %v", got)
	}
	// A state loaded without a time counts from the load.
	old := s.saved["done"].Clone()
	old.Updated = time.Time{}
	if got := New([]*Txn{old}, 0, now).Idle(cutoff); len(got) != 0 {
		t.Fatalf("a state stored without a time is idle at once: %v", got)
	}
}
