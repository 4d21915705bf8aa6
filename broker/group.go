package broker

// Consumer groups: the broker's side of broker/internal/group.
//
// The Broker owns one group.Coordinator (a goroutine that owns every group's
// membership and assignment) and a ticker that drives its session timeouts
// and notices topic changes. Committed offsets live in meta.db
// (group_offsets.go). The methods here are the transport-free core; the
// Connect handlers are in group_rpc.go and group_consume.go. Kafka's classic
// groups (JoinGroup/SyncGroup) and the Kafka forms of the offset and admin
// calls are in group_classic.go; they share the coordinator and the group
// namespace.
//
// Lock order: Broker.admin, then groupRuntime.commitMu or tickMu, then
// Broker.mu. The
// coordinator's goroutine takes no broker lock: every operation is handed
// the topic metadata it needs (a snapshot taken by the caller).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/sluicehq/sluice/broker/internal/group"
)

// Group defaults.
const (
	// DefaultGroupTickInterval is how often session timeouts are checked.
	DefaultGroupTickInterval = time.Second
	// DefaultGroupSessionTimeout is the session timeout of a member that
	// asks for none.
	DefaultGroupSessionTimeout = group.DefaultSessionTimeout
	// DefaultGroupMinSessionTimeout and DefaultGroupMaxSessionTimeout are
	// the bounds used when Config leaves them zero.
	DefaultGroupMinSessionTimeout = group.MinSessionTimeout
	DefaultGroupMaxSessionTimeout = group.MaxSessionTimeout
	// MaxGroupIDLength bounds a group id, in bytes.
	MaxGroupIDLength = 249
	// maxHeartbeatInterval caps the heartbeat interval the broker answers.
	maxHeartbeatInterval = 5 * time.Second
)

// Sentinel errors of consumer groups, re-exported from the coordinator so
// that callers can test them with errors.Is.
var (
	// ErrGroupNotFound: the group has neither members nor committed offsets.
	ErrGroupNotFound = group.ErrGroupNotFound
	// ErrUnknownMember: the member left, timed out or was fenced.
	ErrUnknownMember = group.ErrUnknownMember
	// ErrStaleEpoch: a member epoch older than the member's current one, or
	// a commit of a partition the member does not own.
	ErrStaleEpoch = group.ErrStaleEpoch
	// ErrGroupNotEmpty: the operation needs a group without members.
	ErrGroupNotEmpty = group.ErrNotEmpty
)

// TopicPartition names one partition of a topic.
type TopicPartition = group.TopicPartition

// GroupSubscription is what a member of a group asks for: topics or a topic
// regex, an optional static instance id, the assignor ("uniform" or
// "range", empty for uniform) and a session timeout (0 for 45s).
type GroupSubscription = group.Subscription

// GroupMember describes one member: its id, static instance id, epoch,
// subscription, the partitions it holds and its target.
type GroupMember = group.MemberInfo

// groupRuntime is the Broker's consumer-group machinery.
type groupRuntime struct {
	coord *group.Coordinator
	// commitMu serialises the check-then-write of commits, resets and
	// deletions, so that a commit checked against an older epoch never
	// lands after a newer owner's.
	commitMu sync.Mutex
	quit     chan struct{}
	done     chan struct{}
	// tickMu serialises TickGroups; lastTopics, under it, is the topic
	// identity seen by the last sweep.
	tickMu     sync.Mutex
	lastTopics map[string]int64
	// wake carries the next classic rebalance deadline to the ticker.
	wake chan time.Time
	// leases, in cluster mode, are the group leases this node holds
	// (group_lease.go); nil on an embedded node.
	leases *leaseTable
}

// startGroups starts the coordinator and the ticker (the group tables
// are the metadata store's). Called by Open after the topics are loaded.
func (b *Broker) startGroups(ctx context.Context) error {
	gr := &groupRuntime{
		coord: group.NewCoordinator(group.Config{
			NewMemberID:           newMemberID,
			MinSessionTimeout:     b.cfg.GroupMinSessionTimeout,
			MaxSessionTimeout:     b.cfg.GroupMaxSessionTimeout,
			InitialRebalanceDelay: initialRebalanceDelay(b.cfg.GroupInitialRebalanceDelay),
		}),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		wake:   make(chan time.Time, 1),
		leases: newLeaseTable(b.cfg),
	}
	if gr.leases != nil && b.cfg.NodeID == "" {
		gr.coord.Close()
		return errors.New("broker: group leases without a node id")
	}
	b.groups = gr
	if gr.leases != nil {
		go b.runLeases()
	}
	if err := b.sweepOffsets(ctx); err != nil {
		b.log.Warn("removing committed offsets of deleted topics", "err", err)
	}
	gr.lastTopics = b.topicIdentities()
	interval := b.cfg.GroupTickInterval
	if interval == 0 {
		interval = DefaultGroupTickInterval
	}
	if interval < 0 {
		close(gr.done)
		return nil
	}
	go func() {
		defer close(gr.done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		// at fires at the earliest classic rebalance deadline announced
		// on wake, so that an initial delay or rebalance timeout ends on
		// time rather than at the next tick.
		at := time.NewTimer(time.Hour)
		at.Stop()
		defer at.Stop()
		for {
			select {
			case <-gr.quit:
				return
			case <-tk.C:
				b.TickGroups()
			case <-at.C:
				b.TickGroups()
			case d := <-gr.wake:
				at.Reset(max(d.Sub(b.cfg.Now()), 0) + time.Millisecond)
			}
		}
	}()
	return nil
}

// scheduleRebalanceTick tells the ticker about the coordinator's next
// classic rebalance deadline, if any. It runs on the coordinator (fn of
// groupDo) and never blocks: a newer deadline replaces an unread one.
func (gr *groupRuntime) scheduleRebalanceTick(s *group.State) {
	d, ok := s.NextRebalanceDeadline()
	if !ok {
		return
	}
	select {
	case gr.wake <- d:
	default:
		select {
		case <-gr.wake:
		default:
		}
		select {
		case gr.wake <- d:
		default:
		}
	}
}

// initialRebalanceDelay applies Config.GroupInitialRebalanceDelay's
// convention: 0 is the default, < 0 none.
func initialRebalanceDelay(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return DefaultGroupInitialRebalanceDelay
	case d < 0:
		return 0
	}
	return d
}

// stopGroups stops the ticker and the coordinator and waits for them.
func (b *Broker) stopGroups() {
	gr := b.groups
	if gr == nil {
		return
	}
	close(gr.quit)
	<-gr.done
	b.stopLeases()
	gr.coord.Close()
}

// TickGroups expires the members whose session timed out at Config.Now(),
// rebalances groups whose topics changed and, after a topic deletion,
// removes that topic's committed offsets. The broker's ticker calls it every
// Config.GroupTickInterval; tests with a fake clock call it directly.
func (b *Broker) TickGroups() {
	gr := b.groups
	gr.tickMu.Lock()
	defer gr.tickMu.Unlock()
	now, topics := b.cfg.Now(), b.groupTopics()
	if err := gr.coord.Do(context.Background(), func(s *group.State) {
		s.Tick(now, topics)
		gr.scheduleRebalanceTick(s)
	}); err != nil {
		return // closed
	}
	ids := b.topicIdentities()
	if !maps.Equal(ids, gr.lastTopics) {
		if err := b.sweepOffsets(context.Background()); err != nil {
			b.log.Warn("removing committed offsets of deleted topics", "err", err)
			return
		}
		gr.lastTopics = ids
	}
}

// topicIdentities maps every live topic to its creation time.
func (b *Broker) topicIdentities() map[string]int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make(map[string]int64, len(b.topics))
	for n, t := range b.topics {
		out[n] = t.created.UnixMilli()
	}
	return out
}

// groupTopics is the metadata snapshot the coordinator works from.
func (b *Broker) groupTopics() group.Topics {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make(group.Topics, len(b.topics))
	for n, t := range b.topics {
		out[n] = int32(len(t.parts))
	}
	return out
}

// newMemberID returns a random member id.
func newMemberID() string {
	var buf [12]byte
	rand.Read(buf[:])
	return hex.EncodeToString(buf[:])
}

// ValidateGroupID checks a group id: 1 to 249 bytes of UTF-8 without
// control characters.
func ValidateGroupID(id string) error {
	switch {
	case id == "":
		return invalidf("group id is empty")
	case len(id) > MaxGroupIDLength:
		return invalidf("group id %.20q... is %d bytes; the limit is %d", id, len(id), MaxGroupIDLength)
	case !utf8.ValidString(id):
		return invalidf("group id %q is not valid UTF-8", id)
	case slices.ContainsFunc([]rune(id), unicode.IsControl):
		return invalidf("group id %q contains a control character", id)
	}
	return nil
}

// do runs fn on the coordinator.
func (b *Broker) groupDo(ctx context.Context, fn func(*group.State)) error {
	if err := b.groups.coord.Do(ctx, fn); err != nil {
		if errors.Is(err, group.ErrClosed) {
			return ErrClosed
		}
		return err
	}
	return nil
}

// GroupHeartbeatRequest is a member's join (Epoch 0, Sub set) or heartbeat.
type GroupHeartbeatRequest struct {
	Group    string
	MemberID string
	Epoch    int32
	// Sub is required to join; later it changes the subscription.
	Sub *GroupSubscription
	// Owned, when OwnedReported, is what the member consumes now.
	Owned         []TopicPartition
	OwnedReported bool
	// ClientMemberID makes a join (Epoch 0) use MemberID, which the client
	// chose (Kafka's ConsumerGroupHeartbeat v1), instead of a new id.
	ClientMemberID bool
	// ClientID and Host describe the member's client, when known.
	ClientID, Host string
}

// GroupHeartbeatResponse is the member's current assignment.
type GroupHeartbeatResponse struct {
	MemberID string
	Epoch    int32
	// Assignment is what the member may own: it must stop consuming any
	// other partition and report so in its next heartbeat.
	Assignment []TopicPartition
	// HeartbeatInterval is how often to heartbeat: a third of the session
	// timeout, at most 5s, unless Config.GroupHeartbeatInterval says.
	HeartbeatInterval time.Duration
}

// GroupHeartbeat joins a group or heartbeats in it.
func (b *Broker) GroupHeartbeat(ctx context.Context, req GroupHeartbeatRequest) (GroupHeartbeatResponse, error) {
	return b.heartbeat(ctx, req, false)
}

// heartbeat is GroupHeartbeat; managed members (Consume streams) never time
// out.
func (b *Broker) heartbeat(ctx context.Context, req GroupHeartbeatRequest, managed bool) (GroupHeartbeatResponse, error) {
	if err := ValidateGroupID(req.Group); err != nil {
		return GroupHeartbeatResponse{}, fmt.Errorf("heartbeat: %w", err)
	}
	if req.Epoch < 0 {
		return GroupHeartbeatResponse{}, invalidf("heartbeat group %s: member epoch %d is negative", req.Group, req.Epoch)
	}
	if req.Epoch > 0 && req.MemberID == "" {
		return GroupHeartbeatResponse{}, invalidf("heartbeat group %s: member epoch %d without a member id", req.Group, req.Epoch)
	}
	if _, err := b.coordinate(ctx, req.Group); err != nil {
		return GroupHeartbeatResponse{}, err
	}
	now, topics := b.cfg.Now(), b.groupTopics()
	var resp group.HeartbeatResponse
	var timeout time.Duration
	var err error
	derr := b.groupDo(ctx, func(s *group.State) {
		resp, err = s.Heartbeat(now, topics, group.HeartbeatRequest{
			Group: req.Group, MemberID: req.MemberID, Epoch: req.Epoch, Sub: req.Sub,
			Owned: req.Owned, OwnedReported: req.OwnedReported, Managed: managed,
			UseMemberID: req.ClientMemberID, ClientID: req.ClientID, Host: req.Host,
		})
		if err == nil {
			timeout = s.SessionTimeout(req.Group, resp.MemberID)
		}
	})
	if derr != nil {
		return GroupHeartbeatResponse{}, derr
	}
	if err != nil {
		return GroupHeartbeatResponse{}, err
	}
	interval := min(timeout/3, maxHeartbeatInterval)
	if b.cfg.GroupHeartbeatInterval > 0 {
		interval = b.cfg.GroupHeartbeatInterval
	}
	return GroupHeartbeatResponse{
		MemberID: resp.MemberID, Epoch: resp.Epoch, Assignment: resp.Assignment,
		HeartbeatInterval: interval,
	}, nil
}

// LeaveGroup removes a member at once; its partitions move immediately.
func (b *Broker) LeaveGroup(ctx context.Context, groupID, memberID string) error {
	if err := ValidateGroupID(groupID); err != nil {
		return fmt.Errorf("leave group: %w", err)
	}
	if memberID == "" {
		return invalidf("leave group %s: member id is empty", groupID)
	}
	if _, err := b.coordinate(ctx, groupID); err != nil {
		return err
	}
	now, topics := b.cfg.Now(), b.groupTopics()
	var err error
	if derr := b.groupDo(ctx, func(s *group.State) { err = s.Leave(now, topics, groupID, memberID) }); derr != nil {
		return derr
	}
	return err
}

// CommitOffsets stores offsets for a group. memberID and epoch identify the
// committer, which must be the current epoch of a member owning every
// partition committed (else ErrStaleEpoch or ErrUnknownMember); an empty
// memberID with epoch 0 is an admin commit, accepted only while the group
// has no members (else ErrGroupNotEmpty). Every topic and partition must
// exist, each partition appears once, offsets lie in [0, high watermark]
// and metadata is at most MaxOffsetMetadataBytes.
func (b *Broker) CommitOffsets(ctx context.Context, groupID, memberID string, epoch int32, offs []OffsetCommit) error {
	if err := ValidateGroupID(groupID); err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	if memberID == "" && epoch != 0 {
		return invalidf("commit offsets group %s: member epoch %d without a member id", groupID, epoch)
	}
	if len(offs) == 0 {
		return invalidf("commit offsets group %s: no offsets", groupID)
	}
	tps := make([]TopicPartition, len(offs))
	seen := make(map[TopicPartition]bool, len(offs))
	for i, oc := range offs {
		tp := TopicPartition{Topic: oc.Topic, Partition: oc.Partition}
		if seen[tp] {
			return invalidf("commit offsets group %s: %s is listed twice", groupID, tp)
		}
		seen[tp] = true
		tps[i] = tp
		t, err := b.lookup(oc.Topic)
		if err != nil {
			return fmt.Errorf("commit offsets group %s: %w", groupID, err)
		}
		p, err := t.partition(oc.Partition)
		if err != nil {
			return fmt.Errorf("commit offsets group %s: %w", groupID, err)
		}
		if hwm := b.awaitHighWatermark(ctx, p, oc.Offset); oc.Offset < 0 || oc.Offset > hwm {
			return invalidf("commit offsets group %s: %s: offset %d is outside 0..%d (the high watermark)", groupID, tp, oc.Offset, hwm)
		}
		if len(oc.Metadata) > MaxOffsetMetadataBytes {
			return invalidf("commit offsets group %s: %s: metadata is %d bytes; the limit is %d", groupID, tp, len(oc.Metadata), MaxOffsetMetadataBytes)
		}
	}
	fence, err := b.coordinate(ctx, groupID)
	if err != nil {
		return err
	}
	gr := b.groups
	gr.commitMu.Lock()
	defer gr.commitMu.Unlock()
	if derr := b.groupDo(ctx, func(s *group.State) { err = s.CheckCommit(groupID, memberID, epoch, tps) }); derr != nil {
		return derr
	}
	if err != nil {
		return err
	}
	return b.storeOffsetsFenced(ctx, groupID, fence, offs)
}

// FetchOffsets answers a group's committed offsets, for the partitions
// asked (nil means all), sorted by topic and partition. Partitions without
// a committed offset are left out; a group without any answers none.
func (b *Broker) FetchOffsets(ctx context.Context, groupID string, partitions []TopicPartition) ([]OffsetCommit, error) {
	if err := ValidateGroupID(groupID); err != nil {
		return nil, fmt.Errorf("fetch offsets: %w", err)
	}
	if _, err := b.coordinate(ctx, groupID); err != nil {
		return nil, err
	}
	all, err := b.loadOffsets(ctx, groupID)
	if err != nil || len(partitions) == 0 {
		return all, err
	}
	want := make(map[TopicPartition]bool, len(partitions))
	for _, tp := range partitions {
		want[tp] = true
	}
	out := all[:0]
	for _, oc := range all {
		if want[TopicPartition{Topic: oc.Topic, Partition: oc.Partition}] {
			out = append(out, oc)
		}
	}
	return out, nil
}

// PartitionLag is a group's progress in one partition.
type PartitionLag struct {
	Topic     string
	Partition int32
	// Committed is -1 when nothing is committed.
	Committed                     int64
	Metadata                      string
	LogStartOffset, HighWatermark int64
	// Lag is HighWatermark - Committed, or HighWatermark - LogStartOffset
	// when nothing is committed.
	Lag int64
	// Owner is the member holding the partition, if any.
	Owner string
}

// GroupDescription is DescribeGroup's answer.
type GroupDescription struct {
	Group string
	// State is "empty", "stable" or "reconciling"; a classic (Kafka
	// JoinGroup) group's is "empty", "preparing-rebalance",
	// "completing-rebalance" or "stable".
	State    string
	Epoch    int32
	Assignor string
	Members  []GroupMember
	// Partitions covers every partition of the topics the members subscribe
	// to and every partition with a committed offset, sorted.
	Partitions []PartitionLag
	TotalLag   int64
}

// DescribeGroup describes a group: members, assignment, committed offsets
// and lag per partition. A group with neither members nor offsets is
// ErrGroupNotFound.
func (b *Broker) DescribeGroup(ctx context.Context, groupID string) (GroupDescription, error) {
	if err := ValidateGroupID(groupID); err != nil {
		return GroupDescription{}, fmt.Errorf("describe group: %w", err)
	}
	if _, err := b.coordinate(ctx, groupID); err != nil {
		return GroupDescription{}, err
	}
	var gi group.GroupInfo
	if err := b.groupDo(ctx, func(s *group.State) { gi, _ = s.Describe(groupID) }); err != nil {
		return GroupDescription{}, err
	}
	offs, err := b.loadOffsets(ctx, groupID)
	if err != nil {
		return GroupDescription{}, err
	}
	if len(gi.Members) == 0 && len(offs) == 0 {
		return GroupDescription{}, fmt.Errorf("describe group %s: %w", groupID, ErrGroupNotFound)
	}
	d := GroupDescription{Group: groupID, State: gi.State, Epoch: gi.Epoch, Assignor: gi.Assignor, Members: gi.Members}
	owner := map[TopicPartition]string{}
	subscribed := map[string]bool{}
	topics := b.groupTopics()
	for _, m := range gi.Members {
		for _, tp := range m.Held {
			owner[tp] = m.ID
		}
		for _, t := range m.Topics {
			subscribed[t] = true
		}
		if m.Regex != "" {
			if re, err := regexp.Compile("^(?:" + m.Regex + ")$"); err == nil {
				for t := range topics {
					if re.MatchString(t) {
						subscribed[t] = true
					}
				}
			}
		}
	}
	committed := map[TopicPartition]OffsetCommit{}
	for _, oc := range offs {
		committed[TopicPartition{Topic: oc.Topic, Partition: oc.Partition}] = oc
		subscribed[oc.Topic] = true
	}
	names := make([]string, 0, len(subscribed))
	for t := range subscribed {
		names = append(names, t)
	}
	slices.Sort(names)
	for _, name := range names {
		t, err := b.lookup(name)
		if err != nil {
			continue // subscribed but not (yet) created, or just deleted
		}
		for pi, p := range t.parts {
			tp := TopicPartition{Topic: name, Partition: int32(pi)}
			pl := PartitionLag{Topic: name, Partition: int32(pi), Committed: -1, Owner: owner[tp]}
			// The start before the end: a record appended in between only
			// makes the end later, and lag is measured from the end.
			pl.LogStartOffset = p.LogStartOffset()
			pl.HighWatermark = p.HighWatermark()
			if oc, ok := committed[tp]; ok {
				pl.Committed, pl.Metadata = oc.Offset, oc.Metadata
				pl.Lag = max(pl.HighWatermark-oc.Offset, 0)
			} else {
				pl.Lag = pl.HighWatermark - pl.LogStartOffset
			}
			d.TotalLag += pl.Lag
			d.Partitions = append(d.Partitions, pl)
		}
	}
	return d, nil
}

// GroupListing is one group of ListGroups.
type GroupListing struct {
	Group string
	// State is as GroupDescription.State.
	State   string
	Members int
	// Type is "consumer" (KIP-848 and Consume streams) or "classic" (Kafka
	// JoinGroup members, or a group known only by its offsets);
	// ProtocolType is a classic group's ("consumer", "connect", ...).
	Type, ProtocolType string
}

// ListGroups lists every group with members or committed offsets, by id.
// In cluster mode (Config.GroupLeases) a node lists, as a Kafka broker
// does, the groups it coordinates, and the groups known only by their
// committed offsets that no node coordinates now; Kafka clients ask every
// node, and the GroupService merges the nodes' lists (group_forward.go).
func (b *Broker) ListGroups(ctx context.Context) ([]GroupListing, error) {
	var elsewhere map[string]string
	if lt := b.groups.leases; lt != nil {
		live, err := lt.store.LiveGroupLeases(ctx)
		if err != nil {
			return nil, fmt.Errorf("list groups: %w: %v", ErrCoordinatorNotAvailable, err)
		}
		elsewhere = live
		for g := range elsewhere {
			if _, mine := lt.current(g, time.Now()); mine {
				delete(elsewhere, g)
			}
		}
	}
	type live struct {
		state, typ, protocolType string
		members                  int
	}
	known := map[string]live{}
	if err := b.groupDo(ctx, func(s *group.State) {
		for _, id := range s.Groups() {
			gi, _ := s.Describe(id)
			if n := s.MemberCount(id); n > 0 {
				known[id] = live{gi.State, gi.Type, gi.ProtocolType, n}
			}
		}
	}); err != nil {
		return nil, err
	}
	withOffsets, err := b.offsetGroups(ctx)
	if err != nil {
		return nil, err
	}
	for _, id := range withOffsets {
		if _, ok := known[id]; !ok {
			known[id] = live{state: "empty", typ: group.TypeClassic}
		}
	}
	out := make([]GroupListing, 0, len(known))
	for id, l := range known {
		if _, ok := elsewhere[id]; ok {
			continue // another node coordinates it
		}
		out = append(out, GroupListing{Group: id, State: l.state, Members: l.members, Type: l.typ, ProtocolType: l.protocolType})
	}
	slices.SortFunc(out, func(x, y GroupListing) int {
		if x.Group < y.Group {
			return -1
		}
		if x.Group > y.Group {
			return 1
		}
		return 0
	})
	return out, nil
}

// DeleteGroup deletes a group without members and its committed offsets.
// A group with members is ErrGroupNotEmpty; one with neither members nor
// offsets is ErrGroupNotFound.
func (b *Broker) DeleteGroup(ctx context.Context, groupID string) error {
	if err := ValidateGroupID(groupID); err != nil {
		return fmt.Errorf("delete group: %w", err)
	}
	fence, err := b.coordinate(ctx, groupID)
	if err != nil {
		return err
	}
	gr := b.groups
	gr.commitMu.Lock()
	defer gr.commitMu.Unlock()
	var known bool
	if derr := b.groupDo(ctx, func(s *group.State) {
		_, known = s.Describe(groupID)
		err = s.Delete(groupID)
	}); derr != nil {
		return derr
	}
	if err != nil {
		return fmt.Errorf("delete group: %w; stop its consumers first", err)
	}
	n, err := b.deleteOffsets(ctx, groupID, fence)
	if err != nil {
		return err
	}
	if !known && n == 0 {
		return fmt.Errorf("delete group %s: %w", groupID, ErrGroupNotFound)
	}
	return nil
}

// ResetTo says where ResetOffsets moves a group.
type ResetTo int

// Reset targets.
const (
	// ResetEarliest moves to the log start offset.
	ResetEarliest ResetTo = iota + 1
	// ResetLatest moves to the high watermark.
	ResetLatest
	// ResetTimestamp moves to the first offset whose timestamp is at or
	// after ResetOffsetsRequest.Timestamp (the high watermark if none).
	ResetTimestamp
	// ResetOffset moves to ResetOffsetsRequest.Offset, which must lie in
	// [log start offset, high watermark].
	ResetOffset
)

// ResetOffsetsRequest rewrites a group's committed offsets in one topic.
type ResetOffsetsRequest struct {
	Group string
	Topic string
	// Partitions to reset; empty means every partition of the topic.
	Partitions []int32
	To         ResetTo
	// Timestamp is Unix milliseconds, for ResetTimestamp.
	Timestamp int64
	// Offset is the offset for ResetOffset.
	Offset int64
	// Force resets while the group has members. They keep consuming from
	// their in-memory positions, and a later commit of theirs overwrites the
	// reset; the reset takes effect where a partition is next assigned (a
	// member joining, restarting or taking it over in a rebalance). Without
	// Force a group with members is ErrGroupNotEmpty.
	Force bool
}

// ResetOffsets rewrites committed offsets and returns the new ones.
func (b *Broker) ResetOffsets(ctx context.Context, req ResetOffsetsRequest) ([]OffsetCommit, error) {
	if err := ValidateGroupID(req.Group); err != nil {
		return nil, fmt.Errorf("reset offsets: %w", err)
	}
	var q OffsetQuery
	switch req.To {
	case ResetEarliest:
		q = OffsetEarliest
	case ResetLatest:
		q = OffsetLatest
	case ResetTimestamp:
		q = OffsetForTime
	case ResetOffset:
		q = OffsetEarliest
	default:
		return nil, invalidf("reset offsets group %s: set earliest, latest, a timestamp or an offset", req.Group)
	}
	fence, err := b.coordinate(ctx, req.Group)
	if err != nil {
		return nil, err
	}
	gr := b.groups
	gr.commitMu.Lock()
	defer gr.commitMu.Unlock()
	var members int
	if err := b.groupDo(ctx, func(s *group.State) { members = s.MemberCount(req.Group) }); err != nil {
		return nil, err
	}
	if members > 0 && !req.Force {
		return nil, fmt.Errorf("reset offsets group %s: it has %d members; stop them or use force: %w", req.Group, members, ErrGroupNotEmpty)
	}
	offs, err := b.ListOffsets(req.Topic, req.Partitions, q, req.Timestamp)
	if err != nil {
		return nil, fmt.Errorf("reset offsets group %s: %w", req.Group, err)
	}
	out := make([]OffsetCommit, len(offs))
	for i, o := range offs {
		out[i] = OffsetCommit{Topic: req.Topic, Partition: o.Partition, Offset: o.Offset}
	}
	if req.To == ResetOffset {
		ends, err := b.ListOffsets(req.Topic, req.Partitions, OffsetLatest, 0)
		if err != nil {
			return nil, fmt.Errorf("reset offsets group %s: %w", req.Group, err)
		}
		for i := range out {
			lso, hwm := out[i].Offset, ends[i].Offset
			if req.Offset < lso || req.Offset > hwm {
				return nil, fmt.Errorf("reset offsets group %s: %s/%d: offset %d: %w: valid offsets are %d to %d", req.Group, req.Topic, out[i].Partition, req.Offset, ErrOffsetOutOfRange, lso, hwm)
			}
			out[i].Offset = req.Offset
		}
	}
	if err := b.storeOffsetsFenced(ctx, req.Group, fence, out); err != nil {
		return nil, err
	}
	return out, nil
}
