// Package txn is the transaction coordinator of Kafka's transactions
// (KIP-98): for each transactional id, its producer id and epoch, its
// state, the partitions and consumer groups it has touched, the offsets it
// will commit, its timeout and its start time.
//
// # States
//
//	Empty ──AddPartitions/AddOffsets──▶ Ongoing ──EndTxn(commit)──▶ PrepareCommit ──markers, offsets──▶ CompleteCommit
//	                                       │   └──EndTxn(abort), InitProducerId, timeout──▶ PrepareAbort ──markers──▶ CompleteAbort
//	CompleteCommit, CompleteAbort ──AddPartitions/AddOffsets──▶ Ongoing
//
// A Prepare state is durable before any marker is written, so a crash in
// the middle is finished after a restart from the stored state (Prepared
// lists them); an Ongoing transaction survives a restart as it is (the
// producer may go on with it) and is aborted by its timeout otherwise. Every
// abort that the producer did not ask for (InitProducerId fencing, timeout)
// bumps the epoch, so that the old producer is fenced.
//
// # Concurrency and I/O
//
// Coordinator is a mutex-owned state machine. It does no I/O itself: each
// change is handed, as a copy of the new state, to the persist function the
// caller gives, under the coordinator's lock and before the change is
// applied in memory, so memory never runs ahead of storage. Time comes in
// as arguments (the caller's clock).
package txn

import (
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"time"
)

// State is a transaction's state.
type State int8

// The states of a transaction.
const (
	Empty State = iota
	Ongoing
	PrepareCommit
	PrepareAbort
	CompleteCommit
	CompleteAbort
)

var stateNames = [...]string{"Empty", "Ongoing", "PrepareCommit", "PrepareAbort", "CompleteCommit", "CompleteAbort"}

// String is the state's name as Kafka spells it.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "Unknown"
}

// Errors, each a Kafka error code at the transport.
var (
	// ErrConcurrent: the transaction is completing (CONCURRENT_TRANSACTIONS, 51); retry.
	ErrConcurrent = errors.New("the transaction is being completed; retry")
	// ErrInvalidState: the request does not fit the transaction's state (INVALID_TXN_STATE, 48).
	ErrInvalidState = errors.New("invalid transaction state")
	// ErrFenced: the producer's epoch is not the transaction's current one
	// (PRODUCER_FENCED, 90, or INVALID_PRODUCER_EPOCH, 47).
	ErrFenced = errors.New("producer fenced: a newer producer epoch exists for this transactional id")
	// ErrUnknownProducer: the producer id is not the transactional id's
	// (INVALID_PRODUCER_ID_MAPPING, 49).
	ErrUnknownProducer = errors.New("the producer id does not belong to this transactional id")
	// ErrInvalidTimeout: the transaction timeout is out of range (INVALID_TRANSACTION_TIMEOUT, 50).
	ErrInvalidTimeout = errors.New("invalid transaction timeout")
)

// Partition is a topic partition.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
}

// Offset is a group offset the transaction commits when it commits.
type Offset struct {
	Offset      int64  `json:"offset"`
	LeaderEpoch int32  `json:"leader_epoch"`
	Metadata    string `json:"metadata"`
}

// GroupOffset is one pending offset of a group.
type GroupOffset struct {
	Partition
	Offset
}

// Txn is one transactional id's state. Values handed out are copies.
type Txn struct {
	ID         string        `json:"id"`
	ProducerID int64         `json:"producer_id"`
	Epoch      int16         `json:"epoch"`
	LastEpoch  int16         `json:"last_epoch"` // before the last bump; -1 if none
	State      State         `json:"state"`
	Timeout    time.Duration `json:"timeout"`
	Start      time.Time     `json:"start"` // when it last became Ongoing
	Partitions []Partition   `json:"partitions,omitempty"`
	// Groups are the consumer groups added (AddOffsetsToTxn), with their
	// pending offsets.
	Groups map[string][]GroupOffset `json:"groups,omitempty"`
	// Updated is when the state last changed (the coordinator's clock): a
	// transactional id left alone for the expiration is forgotten (Idle,
	// Forget).
	Updated time.Time `json:"updated,omitzero"`
}

// Clone copies t deeply.
func (t *Txn) Clone() *Txn {
	c := *t
	c.Partitions = slices.Clone(t.Partitions)
	if t.Groups != nil {
		c.Groups = make(map[string][]GroupOffset, len(t.Groups))
		for g, offs := range t.Groups {
			c.Groups[g] = slices.Clone(offs)
		}
	}
	return &c
}

// Active reports whether the transaction is open or completing.
func (t *Txn) Active() bool {
	return t.State == Ongoing || t.State == PrepareCommit || t.State == PrepareAbort
}

// HasPartition reports whether p was added.
func (t *Txn) HasPartition(p Partition) bool {
	_, ok := slices.BinarySearchFunc(t.Partitions, p, comparePartitions)
	return ok
}

func comparePartitions(a, b Partition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// Persist stores a transaction's new state (durably) before the
// coordinator applies it; an error leaves the coordinator unchanged.
type Persist func(*Txn) error

// Coordinator holds every transactional id's state. Safe for concurrent use.
type Coordinator struct {
	mu    sync.Mutex
	txns  map[string]*Txn
	byPID map[int64]string
	// MaxTimeout bounds the timeout a producer may ask for (Kafka's
	// transaction.max.timeout.ms, 15 minutes).
	maxTimeout time.Duration
	now        func() time.Time // stamps Txn.Updated
}

// DefaultMaxTimeout is Kafka's transaction.max.timeout.ms.
const DefaultMaxTimeout = 15 * time.Minute

// New returns a coordinator holding txns (as loaded from storage).
// maxTimeout <= 0 means DefaultMaxTimeout; now is the clock that stamps
// each change (nil: time.Now). A state stored without a time (before
// Txn.Updated existed) counts as changed now.
func New(txns []*Txn, maxTimeout time.Duration, now func() time.Time) *Coordinator {
	if maxTimeout <= 0 {
		maxTimeout = DefaultMaxTimeout
	}
	if now == nil {
		now = time.Now
	}
	c := &Coordinator{txns: map[string]*Txn{}, byPID: map[int64]string{}, maxTimeout: maxTimeout, now: now}
	for _, t := range txns {
		t = t.Clone()
		if t.Updated.IsZero() {
			t.Updated = now()
		}
		c.txns[t.ID] = t
		c.byPID[t.ProducerID] = t.ID
	}
	return c
}

// apply persists n and, if that worked, makes it id's state.
func (c *Coordinator) applyLocked(n *Txn, persist Persist) error {
	n.Updated = c.now()
	if err := persist(n); err != nil {
		return err
	}
	if old := c.txns[n.ID]; old != nil && old.ProducerID != n.ProducerID {
		delete(c.byPID, old.ProducerID)
	}
	c.txns[n.ID] = n
	c.byPID[n.ProducerID] = n.ID
	return nil
}

// Get returns a copy of id's state.
func (c *Coordinator) Get(id string) (*Txn, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.txns[id]
	if !ok {
		return nil, false
	}
	return t.Clone(), true
}

// All returns copies of every transaction, by id.
func (c *Coordinator) All() []*Txn {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Txn, 0, len(c.txns))
	for _, id := range slices.Sorted(maps.Keys(c.txns)) {
		out = append(out, c.txns[id].Clone())
	}
	return out
}

// InitResult is what InitProducerID decided.
type InitResult struct {
	// ProducerID and Epoch are the producer's, when Abort is nil.
	ProducerID int64
	Epoch      int16
	// Abort, when set, is an open transaction that InitProducerID moved to
	// PrepareAbort (its epoch bumped, fencing the old producer): the
	// caller completes it (markers, then Complete) and calls
	// InitProducerID again.
	Abort *Txn
}

// InitProducerID handles InitProducerId for id: a new id gets a producer
// id from newPID at epoch 0; a known one gets its epoch bumped (a new
// producer id at epoch 0 when the epoch is exhausted), fencing any older
// producer. pid and epoch (-1, -1 when the client has none; KIP-360) must
// be the current ones, or the ones before the last bump.
func (c *Coordinator) InitProducerID(id string, timeout time.Duration, pid int64, epoch int16, newPID func() (int64, error), persist Persist) (InitResult, error) {
	if timeout <= 0 || timeout > c.maxTimeout {
		return InitResult{}, ErrInvalidTimeout
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.txns[id]
	if !ok {
		np, err := newPID()
		if err != nil {
			return InitResult{}, err
		}
		n := &Txn{ID: id, ProducerID: np, Epoch: 0, LastEpoch: -1, State: Empty, Timeout: timeout}
		if err := c.applyLocked(n, persist); err != nil {
			return InitResult{}, err
		}
		return InitResult{ProducerID: n.ProducerID, Epoch: n.Epoch}, nil
	}
	if pid >= 0 && (pid != t.ProducerID || (epoch != t.Epoch && epoch != t.LastEpoch)) {
		return InitResult{}, ErrFenced
	}
	switch t.State {
	case PrepareCommit, PrepareAbort:
		return InitResult{}, ErrConcurrent
	case Ongoing:
		n := t.Clone()
		n.State = PrepareAbort
		bump(n)
		if err := c.applyLocked(n, persist); err != nil {
			return InitResult{}, err
		}
		return InitResult{Abort: n.Clone()}, nil
	}
	n := t.Clone()
	n.State, n.Partitions, n.Groups, n.Timeout = Empty, nil, nil, timeout
	if n.Epoch >= math.MaxInt16-1 {
		np, err := newPID()
		if err != nil {
			return InitResult{}, err
		}
		n.ProducerID, n.Epoch, n.LastEpoch = np, 0, -1
	} else {
		bump(n)
	}
	if err := c.applyLocked(n, persist); err != nil {
		return InitResult{}, err
	}
	return InitResult{ProducerID: n.ProducerID, Epoch: n.Epoch}, nil
}

// bump raises t's epoch by one (it stays below MaxInt16, the value
// Kafka reserves).
func bump(t *Txn) {
	if t.Epoch < math.MaxInt16-1 {
		t.LastEpoch, t.Epoch = t.Epoch, t.Epoch+1
	}
}

// checkLocked finds id's transaction for a request of producer pid at epoch.
func (c *Coordinator) checkLocked(id string, pid int64, epoch int16) (*Txn, error) {
	t, ok := c.txns[id]
	switch {
	case !ok || t.ProducerID != pid:
		return nil, ErrUnknownProducer
	case epoch != t.Epoch:
		return nil, ErrFenced
	}
	return t, nil
}

// begin returns a copy of t ready to take new members: Ongoing (from now
// on if it was not).
func begin(t *Txn, now time.Time) (*Txn, error) {
	switch t.State {
	case PrepareCommit, PrepareAbort:
		return nil, ErrConcurrent
	}
	n := t.Clone()
	if n.State != Ongoing {
		n.State, n.Start, n.Partitions, n.Groups = Ongoing, now, nil, nil
	}
	return n, nil
}

// AddPartitions adds partitions to id's transaction (AddPartitionsToTxn),
// starting it at now if it is not open.
func (c *Coordinator) AddPartitions(id string, pid int64, epoch int16, parts []Partition, now time.Time, persist Persist) error {
	return c.Add(id, pid, epoch, parts, "", nil, now, persist)
}

// addPartitions adds parts to n's sorted partitions and reports whether
// any was new.
func addPartitions(n *Txn, parts []Partition) bool {
	added := false
	for _, p := range parts {
		if i, ok := slices.BinarySearchFunc(n.Partitions, p, comparePartitions); !ok {
			n.Partitions = slices.Insert(n.Partitions, i, p)
			added = true
		}
	}
	return added
}

// AddGroup adds a consumer group to id's transaction (AddOffsetsToTxn);
// group is not empty.
func (c *Coordinator) AddGroup(id string, pid int64, epoch int16, group string, now time.Time, persist Persist) error {
	return c.Add(id, pid, epoch, nil, group, nil, now, persist)
}

// CommitOffsets keeps offsets pending in id's transaction for group
// (TxnOffsetCommit); they reach the group when the transaction commits.
// The group must have been added.
func (c *Coordinator) CommitOffsets(id string, pid int64, epoch int16, group string, offs []GroupOffset, persist Persist) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.checkLocked(id, pid, epoch)
	if err != nil {
		return err
	}
	switch t.State {
	case PrepareCommit, PrepareAbort:
		return ErrConcurrent
	case Ongoing:
	default:
		return ErrInvalidState
	}
	if _, ok := t.Groups[group]; !ok {
		return ErrInvalidState
	}
	n := t.Clone()
	n.Groups[group] = mergeOffsets(n.Groups[group], offs)
	return c.applyLocked(n, persist)
}

// mergeOffsets sets offs over cur (one offset per partition, the new one
// winning), sorted by partition.
func mergeOffsets(cur, offs []GroupOffset) []GroupOffset {
	for _, o := range offs {
		i := slices.IndexFunc(cur, func(g GroupOffset) bool { return g.Partition == o.Partition })
		if i >= 0 {
			cur[i] = o
		} else {
			cur = append(cur, o)
		}
	}
	slices.SortFunc(cur, func(a, b GroupOffset) int { return comparePartitions(a.Partition, b.Partition) })
	return cur
}

// Add adds partitions, a group and its pending offsets to id's
// transaction in one step, with one persist (starting it at now if it is
// not open): what a produce-and-commit adds before it writes, and, one
// part each, AddPartitions and AddGroup. group is empty when none is
// added. The outcome is the state AddPartitions, AddGroup and
// CommitOffsets would leave.
func (c *Coordinator) Add(id string, pid int64, epoch int16, parts []Partition, group string, offs []GroupOffset, now time.Time, persist Persist) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.checkLocked(id, pid, epoch)
	if err != nil {
		return err
	}
	n, err := begin(t, now)
	if err != nil {
		return err
	}
	changed := addPartitions(n, parts) || t.State != Ongoing
	if group != "" {
		if n.Groups == nil {
			n.Groups = map[string][]GroupOffset{}
		}
		cur, ok := n.Groups[group]
		if !ok || len(offs) > 0 {
			n.Groups[group] = mergeOffsets(cur, offs)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return c.applyLocked(n, persist)
}

// End handles EndTxn: an Ongoing transaction moves to PrepareCommit or
// PrepareAbort and is returned for the caller to complete. Asking again
// for the outcome it is completing is ErrConcurrent; for the outcome it
// completed, success with nothing to do (nil); for the other outcome, or
// with no transaction open, ErrInvalidState.
func (c *Coordinator) End(id string, pid int64, epoch int16, commit bool, persist Persist) (*Txn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, err := c.checkLocked(id, pid, epoch)
	if err != nil {
		return nil, err
	}
	prepare, complete := PrepareAbort, CompleteAbort
	if commit {
		prepare, complete = PrepareCommit, CompleteCommit
	}
	switch t.State {
	case Ongoing:
		n := t.Clone()
		n.State = prepare
		if err := c.applyLocked(n, persist); err != nil {
			return nil, err
		}
		return n.Clone(), nil
	case prepare:
		return nil, ErrConcurrent
	case complete:
		return nil, nil
	}
	return nil, ErrInvalidState
}

// Abort moves id's transaction, if it is Ongoing and started before
// deadline's timeout (Start+Timeout <= now), to PrepareAbort with its epoch
// bumped (the producer is fenced, as Kafka does on a timeout), and returns
// it for the caller to complete; nil when there is nothing to abort.
func (c *Coordinator) Abort(id string, now time.Time, persist Persist) (*Txn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.txns[id]
	if !ok || t.State != Ongoing || now.Before(t.Start.Add(t.Timeout)) {
		return nil, nil
	}
	n := t.Clone()
	n.State = PrepareAbort
	bump(n)
	if err := c.applyLocked(n, persist); err != nil {
		return nil, err
	}
	return n.Clone(), nil
}

// Complete finishes a Prepare state: CompleteCommit or CompleteAbort, with
// its partitions, groups and offsets cleared. Another state is left as is.
func (c *Coordinator) Complete(id string, persist Persist) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.txns[id]
	if !ok {
		return nil
	}
	n := t.Clone()
	switch t.State {
	case PrepareCommit:
		n.State = CompleteCommit
	case PrepareAbort:
		n.State = CompleteAbort
	default:
		return nil
	}
	n.Partitions, n.Groups = nil, nil
	return c.applyLocked(n, persist)
}

// Expired lists the ids of Ongoing transactions whose timeout has passed
// at now, and of the Prepare ones (to be completed again if nobody is).
func (c *Coordinator) Expired(now time.Time) (expired, prepared []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, t := range c.txns {
		switch t.State {
		case Ongoing:
			if !now.Before(t.Start.Add(t.Timeout)) {
				expired = append(expired, id)
			}
		case PrepareCommit, PrepareAbort:
			prepared = append(prepared, id)
		}
	}
	slices.Sort(expired)
	slices.Sort(prepared)
	return expired, prepared
}

// idle reports whether t may be forgotten at cutoff: neither open nor
// completing, and unchanged since before cutoff.
func idle(t *Txn, cutoff time.Time) bool {
	return !t.Active() && t.Updated.Before(cutoff)
}

// Idle lists, sorted, the transactional ids that are neither open nor
// completing and whose state has not changed since before cutoff (now
// minus the expiration): candidates for Forget.
func (c *Coordinator) Idle(cutoff time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var ids []string
	for id, t := range c.txns {
		if idle(t, cutoff) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// Forget drops transactional id id if it is still idle at cutoff (a
// producer may have come back since Idle): remove deletes its stored state
// first, and an error from it leaves the coordinator unchanged. A producer
// that comes back later gets a new producer id (InitProducerID), as from
// Kafka once its transactional.id.expiration.ms has passed. It reports
// whether id was forgotten.
func (c *Coordinator) Forget(id string, cutoff time.Time, remove func(id string) error) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.txns[id]
	if !ok || !idle(t, cutoff) {
		return false, nil
	}
	if err := remove(id); err != nil {
		return false, err
	}
	delete(c.txns, id)
	if c.byPID[t.ProducerID] == id {
		delete(c.byPID, t.ProducerID)
	}
	return true, nil
}

// CheckProduce checks a transactional batch of producer pid at epoch for
// partition p: the producer's transaction must be Ongoing with p added.
// An unknown producer, a transaction not open or p not added is
// ErrInvalidState; an old epoch ErrFenced.
func (c *Coordinator) CheckProduce(pid int64, epoch int16, p Partition) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.byPID[pid]
	if !ok {
		return ErrInvalidState
	}
	t := c.txns[id]
	switch {
	case epoch < t.Epoch:
		return ErrFenced
	case epoch > t.Epoch, t.State != Ongoing, !t.HasPartition(p):
		return ErrInvalidState
	}
	return nil
}

// Pending reports whether an open or completing transaction holds a
// pending offset of group for p (OffsetFetch's require_stable).
func (c *Coordinator) Pending(group string, p Partition) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.txns {
		if !t.Active() {
			continue
		}
		for _, o := range t.Groups[group] {
			if o.Partition == p {
				return true
			}
		}
	}
	return false
}

// Owner returns the active transaction of producer pid, if any.
func (c *Coordinator) Owner(pid int64) (*Txn, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.byPID[pid]
	if !ok || !c.txns[id].Active() {
		return nil, false
	}
	return c.txns[id].Clone(), true
}
