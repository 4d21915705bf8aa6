package broker

// Classic consumer groups (Kafka's JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup) and the Kafka forms of the offset and admin calls: the
// transport-free core that broker/kafka's handlers call. The state machine is
// broker/internal/group (classic.go); it shares the coordinator goroutine and
// the group namespace with the KIP-848 groups of group.go.
//
// JoinGroup and SyncGroup may wait (for the other members, for the leader's
// assignment): they register with the coordinator at once and return a wait
// func that the caller runs when it may block, so the coordinator goroutine
// never waits and a connection keeps its request order.
//
// For protocol type "consumer" the broker decodes the members' subscriptions
// and assignments (Kafka's ConsumerMemberMetadata and
// ConsumerMemberAssignment) so that DescribeGroup shows owners and lag and
// OffsetDelete knows the subscribed topics; other protocol types (Connect's
// "connect") stay opaque.

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker/internal/group"
)

// DefaultGroupInitialRebalanceDelay is how long the first rebalance of an
// empty classic group waits for more members (Kafka's
// group.initial.rebalance.delay.ms).
const DefaultGroupInitialRebalanceDelay = 3 * time.Second

// Classic-group and Kafka offset errors, for errors.Is.
var (
	// ErrInconsistentGroupProtocol: the group runs the other protocol
	// (classic or KIP-848), another protocol type, or no protocol the member
	// supports.
	ErrInconsistentGroupProtocol = group.ErrInconsistentProtocol
	// ErrIllegalGeneration: a request of an older (or unknown) generation.
	ErrIllegalGeneration = group.ErrIllegalGeneration
	// ErrRebalanceInProgress: the group is rebalancing; the member rejoins.
	ErrRebalanceInProgress = group.ErrRebalanceInProgress
	// ErrMemberIDRequired: a new member rejoins with the id it was given.
	ErrMemberIDRequired = group.ErrMemberIDRequired
	// ErrFencedInstanceID: another process took over a static member.
	ErrFencedInstanceID = group.ErrFencedInstance
	// ErrInvalidSessionTimeout: outside --group-min/max-session-timeout.
	ErrInvalidSessionTimeout = group.ErrInvalidSessionTimeout
	// ErrUnsupportedAssignor: a server assignor other than uniform and
	// range.
	ErrUnsupportedAssignor = group.ErrUnsupportedAssignor
	// ErrInvalidGroupArgument marks a group request the coordinator refuses
	// as malformed (a subscription without topics, a bad regex); the
	// Connect API answers it InvalidArgument, Kafka INVALID_REQUEST.
	ErrInvalidGroupArgument = group.ErrInvalid
	// ErrOffsetMetadataTooLarge: committed metadata above
	// MaxOffsetMetadataBytes.
	ErrOffsetMetadataTooLarge = errors.New("offset metadata too large")
	// ErrGroupSubscribedToTopic: OffsetDelete of a topic that members of
	// the group consume.
	ErrGroupSubscribedToTopic = errors.New("group is subscribed to the topic")
)

// GroupProtocol is one protocol a classic member supports, with its opaque
// metadata.
type GroupProtocol = group.ClassicProtocol

// JoinGroupRequest is a classic JoinGroup.
type JoinGroupRequest struct {
	Group string
	// MemberID is empty for a new member.
	MemberID string
	// InstanceID makes the member static.
	InstanceID       string
	ClientID, Host   string
	ProtocolType     string
	Protocols        []GroupProtocol
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	// RequireKnownMemberID (JoinGroup v4+): a new dynamic member first gets
	// ErrMemberIDRequired and its id.
	RequireKnownMemberID bool
}

// JoinGroupResult answers a JoinGroup; Err wraps one of the group errors
// (with ErrMemberIDRequired, MemberID is the id to rejoin with).
type JoinGroupResult = group.JoinResult

// JoinGroupMember is one member as the leader sees it.
type JoinGroupMember = group.JoinMember

// SyncGroupRequest is a classic SyncGroup; Assignments is the leader's.
type SyncGroupRequest struct {
	Group, MemberID, InstanceID string
	Generation                  int32
	ProtocolType, Protocol      string
	Assignments                 map[string][]byte
}

// SyncGroupResult answers a SyncGroup; Err wraps one of the group errors.
type SyncGroupResult = group.SyncResult

// LeavingMember names a member leaving a classic group: by id, or a static
// member by instance id.
type LeavingMember = group.LeaveMember

// ProtocolTypeConsumer is the classic protocol type of Kafka consumers,
// whose metadata and assignments the broker decodes.
const ProtocolTypeConsumer = "consumer"

// consumerTopics decodes the subscription of a consumer-protocol member
// (the first protocol whose metadata parses); nil if none does.
func consumerTopics(protocolType string, protocols []GroupProtocol) []string {
	if protocolType != ProtocolTypeConsumer {
		return nil
	}
	for _, p := range protocols {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(p.Metadata); err == nil {
			topics := slices.Clone(md.Topics)
			slices.Sort(topics)
			return slices.Compact(topics)
		}
	}
	return nil
}

// consumerAssignment decodes a consumer-protocol assignment; nil if it does
// not parse.
func consumerAssignment(b []byte) []TopicPartition {
	var a kmsg.ConsumerMemberAssignment
	if len(b) == 0 || a.ReadFrom(b) != nil {
		return nil
	}
	var out []TopicPartition
	for _, t := range a.Topics {
		for _, p := range t.Partitions {
			out = append(out, TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	return out
}

// JoinGroup registers a classic JoinGroup with the coordinator and returns
// a func that waits for its answer (until the rebalance completes, or ctx
// ends). Call wait once; it does not block the coordinator.
func (b *Broker) JoinGroup(ctx context.Context, req JoinGroupRequest) (wait func(ctx context.Context) JoinGroupResult) {
	if err := ValidateGroupID(req.Group); err != nil {
		return done(JoinGroupResult{Err: fmt.Errorf("join group: %w", err), MemberID: req.MemberID})
	}
	if _, err := b.coordinate(ctx, req.Group); err != nil {
		return done(JoinGroupResult{Err: err, MemberID: req.MemberID})
	}
	ch := make(chan JoinGroupResult, 1)
	now := b.cfg.Now()
	jr := group.JoinRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID, ClientID: req.ClientID, Host: req.Host,
		ProtocolType: req.ProtocolType, Protocols: req.Protocols, SessionTimeout: req.SessionTimeout,
		RebalanceTimeout: req.RebalanceTimeout, RequireKnownMemberID: req.RequireKnownMemberID,
		Topics: consumerTopics(req.ProtocolType, req.Protocols),
	}
	if err := b.groupDo(ctx, func(s *group.State) {
		s.JoinClassic(now, jr, func(r group.JoinResult) { offer(ch, r) })
		b.groups.scheduleRebalanceTick(s)
	}); err != nil {
		return done(JoinGroupResult{Err: err, MemberID: req.MemberID})
	}
	return waitFor(b, ch, func(err error) JoinGroupResult { return JoinGroupResult{Err: err, MemberID: req.MemberID} })
}

// offer delivers a reply without ever blocking the coordinator (the State
// calls each reply once; ch has room for it).
func offer[T any](ch chan T, r T) {
	select {
	case ch <- r:
	default:
	}
}

// done returns a wait func answering r at once.
func done[T any](r T) func(context.Context) T { return func(context.Context) T { return r } }

// waitFor returns a wait func that receives from ch, or fails when ctx ends
// or the broker drains.
func waitFor[T any](b *Broker, ch <-chan T, fail func(error) T) func(context.Context) T {
	return func(ctx context.Context) T {
		select {
		case r := <-ch:
			return r
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-b.drain:
			return fail(ErrClosed)
		}
	}
}

// SyncGroup registers a classic SyncGroup and returns a func that waits for
// the member's assignment (the leader's SyncGroup completes every one).
func (b *Broker) SyncGroup(ctx context.Context, req SyncGroupRequest) (wait func(ctx context.Context) SyncGroupResult) {
	if err := ValidateGroupID(req.Group); err != nil {
		return done(SyncGroupResult{Err: fmt.Errorf("sync group: %w", err)})
	}
	if _, err := b.coordinate(ctx, req.Group); err != nil {
		return done(SyncGroupResult{Err: err})
	}
	sr := group.SyncRequest{
		Group: req.Group, MemberID: req.MemberID, InstanceID: req.InstanceID, Generation: req.Generation,
		ProtocolType: req.ProtocolType, Protocol: req.Protocol, Assignments: req.Assignments,
	}
	if len(req.Assignments) > 0 {
		sr.Decoded = map[string][]TopicPartition{}
		for id, a := range req.Assignments {
			sr.Decoded[id] = consumerAssignment(a)
		}
	}
	ch := make(chan SyncGroupResult, 1)
	now := b.cfg.Now()
	if err := b.groupDo(ctx, func(s *group.State) {
		// Only a consumer-protocol group's assignments are decoded.
		if gi, ok := s.DescribeClassic(req.Group); ok && gi.ProtocolType != ProtocolTypeConsumer {
			sr.Decoded = nil
		}
		s.SyncClassic(now, sr, func(r group.SyncResult) { offer(ch, r) })
	}); err != nil {
		return done(SyncGroupResult{Err: err})
	}
	return waitFor(b, ch, func(err error) SyncGroupResult { return SyncGroupResult{Err: err} })
}

// ClassicHeartbeat keeps a classic member alive; ErrRebalanceInProgress
// tells it to rejoin.
func (b *Broker) ClassicHeartbeat(ctx context.Context, groupID, memberID, instanceID string, generation int32) error {
	if err := ValidateGroupID(groupID); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if _, err := b.coordinate(ctx, groupID); err != nil {
		return err
	}
	now := b.cfg.Now()
	var err error
	if derr := b.groupDo(ctx, func(s *group.State) { err = s.HeartbeatClassic(now, groupID, memberID, instanceID, generation) }); derr != nil {
		return derr
	}
	return err
}

// LeaveClassicGroup removes members of a classic group at once, with an
// error per member; err is set for an unknown group.
func (b *Broker) LeaveClassicGroup(ctx context.Context, groupID string, members []LeavingMember) (errs []error, err error) {
	if err := ValidateGroupID(groupID); err != nil {
		return nil, fmt.Errorf("leave group: %w", err)
	}
	if _, err := b.coordinate(ctx, groupID); err != nil {
		return nil, err
	}
	now := b.cfg.Now()
	if derr := b.groupDo(ctx, func(s *group.State) {
		errs, err = s.LeaveClassic(now, groupID, members)
		b.groups.scheduleRebalanceTick(s)
	}); derr != nil {
		return nil, derr
	}
	return errs, err
}

// GroupCommitter identifies a Kafka OffsetCommit's committer: a classic
// member at its generation, a KIP-848 member at its member epoch
// (Generation), or nobody (MemberID empty, Generation < 0: an admin commit,
// accepted only while the group has no members).
type GroupCommitter struct {
	MemberID, InstanceID string
	Generation           int32
}

// CommitGroupOffsets is Kafka's OffsetCommit: it checks the committer
// against the group (ErrUnknownMember, ErrIllegalGeneration,
// ErrRebalanceInProgress, ErrFencedInstanceID, ErrStaleEpoch,
// ErrGroupNotEmpty for an admin commit on a group with members: the
// request's error) and each partition (ErrTopicNotFound for a missing topic
// or partition, ErrOffsetMetadataTooLarge, ErrOffsetOutOfRange for an offset
// outside 0..high watermark: errs[i] for offs[i]), then stores the valid
// ones in one transaction.
func (b *Broker) CommitGroupOffsets(ctx context.Context, groupID string, who GroupCommitter, offs []OffsetCommit) (errs []error, err error) {
	if err := ValidateGroupID(groupID); err != nil {
		return nil, fmt.Errorf("commit offsets: %w", err)
	}
	fence, err := b.coordinate(ctx, groupID)
	if err != nil {
		return nil, err
	}
	errs = make([]error, len(offs))
	var tps []TopicPartition
	var ok []OffsetCommit
	for i, oc := range offs {
		tp := TopicPartition{Topic: oc.Topic, Partition: oc.Partition}
		t, lerr := b.lookup(oc.Topic)
		switch {
		case lerr != nil:
			errs[i] = fmt.Errorf("commit offsets group %s: %s: %w", groupID, tp, ErrTopicNotFound)
		case oc.Partition < 0 || int(oc.Partition) >= len(t.parts):
			errs[i] = fmt.Errorf("commit offsets group %s: %s: partition %d does not exist: %w", groupID, tp, oc.Partition, ErrTopicNotFound)
		case len(oc.Metadata) > MaxOffsetMetadataBytes:
			errs[i] = fmt.Errorf("commit offsets group %s: %s: metadata is %d bytes; the limit is %d: %w", groupID, tp, len(oc.Metadata), MaxOffsetMetadataBytes, ErrOffsetMetadataTooLarge)
		default:
			if hwm := b.awaitHighWatermark(ctx, t.parts[oc.Partition], oc.Offset); oc.Offset < 0 || oc.Offset > hwm {
				errs[i] = fmt.Errorf("commit offsets group %s: %s: offset %d is outside 0..%d (the high watermark): %w", groupID, tp, oc.Offset, hwm, ErrOffsetOutOfRange)
				continue
			}
			tps = append(tps, tp)
			ok = append(ok, oc)
		}
	}
	gr := b.groups
	gr.commitMu.Lock()
	defer gr.commitMu.Unlock()
	if derr := b.groupDo(ctx, func(s *group.State) {
		err = s.CheckKafkaCommit(groupID, who.MemberID, who.InstanceID, who.Generation, tps)
	}); derr != nil {
		return nil, derr
	}
	if err != nil {
		return nil, err
	}
	if len(ok) > 0 {
		if err := b.storeOffsetsFenced(ctx, groupID, fence, ok); err != nil {
			return nil, err
		}
	}
	return errs, nil
}

// CheckGroupMember checks that memberID is a current member of the group
// at generation (a classic generation or a KIP-848 member epoch): the
// member check of OffsetFetch v9.
func (b *Broker) CheckGroupMember(ctx context.Context, groupID, memberID string, generation int32) error {
	if err := ValidateGroupID(groupID); err != nil {
		return err
	}
	if _, err := b.coordinate(ctx, groupID); err != nil {
		return err
	}
	var err error
	if derr := b.groupDo(ctx, func(s *group.State) { err = s.CheckKafkaCommit(groupID, memberID, "", generation, nil) }); derr != nil {
		return derr
	}
	return err
}

// DeleteGroupOffsets is Kafka's OffsetDelete: it removes the group's
// committed offsets of the partitions given, except those of topics that
// members subscribe to (errs[i] wraps ErrGroupSubscribedToTopic) and of
// partitions that do not exist (ErrTopicNotFound). A group
// with neither members nor offsets is ErrGroupNotFound; a classic group
// with members of a protocol type other than "consumer", whose
// subscriptions the broker cannot read, is ErrGroupNotEmpty.
func (b *Broker) DeleteGroupOffsets(ctx context.Context, groupID string, tps []TopicPartition) (errs []error, err error) {
	if err := ValidateGroupID(groupID); err != nil {
		return nil, fmt.Errorf("delete offsets: %w", err)
	}
	fence, err := b.coordinate(ctx, groupID)
	if err != nil {
		return nil, err
	}
	gr := b.groups
	gr.commitMu.Lock()
	defer gr.commitMu.Unlock()
	var gi group.GroupInfo
	var known bool
	if derr := b.groupDo(ctx, func(s *group.State) { gi, known = s.Describe(groupID) }); derr != nil {
		return nil, derr
	}
	if gi.Type == group.TypeClassic && len(gi.Members) > 0 && gi.ProtocolType != ProtocolTypeConsumer {
		return nil, fmt.Errorf("delete offsets group %s: its %d members use protocol type %q: %w", groupID, len(gi.Members), gi.ProtocolType, ErrGroupNotEmpty)
	}
	offs, err := b.loadOffsets(ctx, groupID)
	if err != nil {
		return nil, err
	}
	if !known && len(offs) == 0 {
		return nil, fmt.Errorf("delete offsets group %s: %w", groupID, ErrGroupNotFound)
	}
	subscribed := b.subscribedTopics(gi)
	errs = make([]error, len(tps))
	var del []TopicPartition
	for i, tp := range tps {
		if t, lerr := b.lookup(tp.Topic); lerr != nil || tp.Partition < 0 || int(tp.Partition) >= len(t.parts) {
			errs[i] = fmt.Errorf("delete offsets group %s: %s: %w", groupID, tp, ErrTopicNotFound)
			continue
		}
		if subscribed[tp.Topic] {
			errs[i] = fmt.Errorf("delete offsets group %s: %s: %w", groupID, tp, ErrGroupSubscribedToTopic)
			continue
		}
		del = append(del, tp)
	}
	if err := b.deletePartitionOffsets(ctx, groupID, fence, del); err != nil {
		return nil, err
	}
	return errs, nil
}

// subscribedTopics is the set of existing topics that some member of gi
// subscribes to (by name or regex).
func (b *Broker) subscribedTopics(gi group.GroupInfo) map[string]bool {
	out := map[string]bool{}
	var topics group.Topics
	for _, m := range gi.Members {
		for _, t := range m.Topics {
			out[t] = true
		}
		if m.Regex != "" {
			if topics == nil {
				topics = b.groupTopics()
			}
			if re, err := regexp.Compile("^(?:" + m.Regex + ")$"); err == nil {
				for t := range topics {
					if re.MatchString(t) {
						out[t] = true
					}
				}
			}
		}
	}
	return out
}

// ClassicGroupInfo describes a classic group (DescribeGroups).
type ClassicGroupInfo = group.ClassicGroupInfo

// ClassicMemberInfo describes one member of a classic group.
type ClassicMemberInfo = group.ClassicMemberInfo

// DescribeClassicGroup answers Kafka's DescribeGroups for one group: a
// classic group as it is; a group known only by its committed offsets as
// Empty; anything else (unknown, or a KIP-848 group with members) as Dead.
func (b *Broker) DescribeClassicGroup(ctx context.Context, groupID string) (ClassicGroupInfo, error) {
	if err := ValidateGroupID(groupID); err != nil {
		return ClassicGroupInfo{}, fmt.Errorf("describe group: %w", err)
	}
	if _, err := b.coordinate(ctx, groupID); err != nil {
		return ClassicGroupInfo{}, err
	}
	var ci group.ClassicGroupInfo
	var classic bool
	var members int
	if err := b.groupDo(ctx, func(s *group.State) {
		ci, classic = s.DescribeClassic(groupID)
		members = s.MemberCount(groupID)
	}); err != nil {
		return ClassicGroupInfo{}, err
	}
	if classic || members > 0 {
		return ci, nil
	}
	offs, err := b.loadOffsets(ctx, groupID)
	if err != nil {
		return ClassicGroupInfo{}, err
	}
	if len(offs) > 0 {
		ci.State = group.ClassicEmpty
	}
	return ci, nil
}

// ConsumerGroupInfo describes a KIP-848 group (ConsumerGroupDescribe).
type ConsumerGroupInfo = group.GroupInfo

// DescribeConsumerGroup describes a KIP-848 group: ErrGroupNotFound when
// groupID names none (or a classic group: ok is then false and the error
// says so).
func (b *Broker) DescribeConsumerGroup(ctx context.Context, groupID string) (ConsumerGroupInfo, error) {
	if err := ValidateGroupID(groupID); err != nil {
		return ConsumerGroupInfo{}, fmt.Errorf("describe group: %w", err)
	}
	if _, err := b.coordinate(ctx, groupID); err != nil {
		return ConsumerGroupInfo{}, err
	}
	var gi group.GroupInfo
	var known bool
	if err := b.groupDo(ctx, func(s *group.State) { gi, known = s.Describe(groupID) }); err != nil {
		return ConsumerGroupInfo{}, err
	}
	if gi.Type == group.TypeClassic {
		return ConsumerGroupInfo{}, fmt.Errorf("describe group %s: it is a classic group, not a consumer group: %w", groupID, ErrGroupNotFound)
	}
	if !known {
		offs, err := b.loadOffsets(ctx, groupID)
		if err != nil {
			return ConsumerGroupInfo{}, err
		}
		if len(offs) == 0 {
			return ConsumerGroupInfo{}, fmt.Errorf("describe group %s: %w", groupID, ErrGroupNotFound)
		}
		gi.Type = group.TypeConsumer
	}
	return gi, nil
}

// LeaveGroupStatic is KIP-848's temporary leave of a static member (member
// epoch -2): it keeps its partitions for one session timeout, so that a
// restart with the same instance id takes them back without a rebalance. A
// member without an instance id leaves at once.
func (b *Broker) LeaveGroupStatic(ctx context.Context, groupID, memberID string) error {
	if err := ValidateGroupID(groupID); err != nil {
		return fmt.Errorf("leave group: %w", err)
	}
	if _, err := b.coordinate(ctx, groupID); err != nil {
		return err
	}
	now, topics := b.cfg.Now(), b.groupTopics()
	var err error
	if derr := b.groupDo(ctx, func(s *group.State) {
		gi, _ := s.Describe(groupID)
		i := slices.IndexFunc(gi.Members, func(m group.MemberInfo) bool { return m.ID == memberID })
		switch {
		case gi.Type != group.TypeConsumer || i < 0:
			err = fmt.Errorf("group %s: member %s: %w", groupID, memberID, ErrUnknownMember)
		case gi.Members[i].InstanceID == "":
			err = s.Leave(now, topics, groupID, memberID) // a dynamic member just leaves
		default:
			s.Unmanage(now, groupID, memberID)
		}
	}); derr != nil {
		return derr
	}
	return err
}

// TopicIDs maps every live topic's name to its id: the translation KIP-848
// heartbeats and ConsumerGroupDescribe need on every call, without the
// partition details ListTopics computes.
func (b *Broker) TopicIDs() map[string]TopicID {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make(map[string]TopicID, len(b.topics))
	for name, t := range b.topics {
		out[name] = t.id
	}
	return out
}
