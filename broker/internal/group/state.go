// Package group is the consumer-group coordinator: a state machine in the
// style of Kafka's KIP-848, where the broker computes every member's
// partitions and members only heartbeat and report what they own, and,
// beside it in the same namespace, Kafka's classic protocol, where a leader
// member assigns (classic.go).
//
// # Model
//
// A group has a group epoch that grows whenever its membership, its members'
// subscriptions or the partition counts of its topics change; each change
// recomputes the target assignment with the group's assignor (uniform or
// range). Each member has a target (what the assignor wants it to own) and a
// held set (what the coordinator lets it own: it may be consuming those). The
// held sets of a group are disjoint at all times; that is the safety
// invariant. A partition enters a member's held set only when no other member
// holds it, and leaves it only when the member reports (owned) that it no
// longer consumes it, leaves, or times out. So a partition moves in two steps,
// revoke then assign, while partitions that stay put are never touched: the
// cooperative, incremental rebalance.
//
// A heartbeat answers held ∩ target: the member must stop consuming anything
// else and say so in its next heartbeat. The member epoch grows every time
// that answer changes; commits carry it, so a zombie with an old epoch is
// refused.
//
// # Concurrency
//
// State is not safe for concurrent use and does no I/O: time and topic
// metadata arrive with each event. Coordinator owns a State in one goroutine
// and runs every operation there.
package group

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Sentinel errors; wrapped with the group and member concerned.
var (
	// ErrUnknownMember: the member id is not (or no longer) in the group:
	// it left, timed out or was replaced by a static member's restart.
	ErrUnknownMember = errors.New("unknown member")
	// ErrStaleEpoch: the request carries an old member epoch.
	ErrStaleEpoch = errors.New("stale member epoch")
	// ErrGroupNotFound: no such group.
	ErrGroupNotFound = errors.New("group not found")
	// ErrNotEmpty: the operation needs a group without members.
	ErrNotEmpty = errors.New("group is not empty")
	// ErrInvalid marks refused arguments.
	ErrInvalid = errors.New("invalid argument")
	// ErrUnsupportedAssignor: a server assignor other than uniform and
	// range.
	ErrUnsupportedAssignor = errors.New("unsupported assignor")
)

// Group types, as Kafka's ListGroups names them.
const (
	// TypeConsumer is a KIP-848 group (this package's heartbeat protocol).
	TypeConsumer = "consumer"
	// TypeClassic is a classic JoinGroup/SyncGroup group.
	TypeClassic = "classic"
)

// invalidError is an ErrInvalid with a complete message.
type invalidError struct{ msg string }

func (e *invalidError) Error() string        { return e.msg }
func (e *invalidError) Is(target error) bool { return target == ErrInvalid }

// assignorError is an unknown assignor: both ErrInvalid and
// ErrUnsupportedAssignor.
type assignorError struct{ invalidError }

func (e *assignorError) Is(target error) bool {
	return target == ErrUnsupportedAssignor || target == ErrInvalid
}

func invalidf(format string, args ...any) error {
	return &invalidError{msg: fmt.Sprintf(format, args...)}
}

// Session timeout bounds and default.
const (
	DefaultSessionTimeout = 45 * time.Second
	MinSessionTimeout     = time.Second
	MaxSessionTimeout     = 30 * time.Minute
)

// Assignor names.
const (
	AssignorUniform = "uniform"
	AssignorRange   = "range"
)

// TopicPartition names one partition.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// String renders "topic/partition".
func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

func compareTP(a, b TopicPartition) int {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c
	}
	return int(a.Partition) - int(b.Partition)
}

// tpSet is a set of partitions.
type tpSet map[TopicPartition]bool

// sorted returns the set's members in (topic, partition) order.
func (s tpSet) sorted() []TopicPartition {
	out := make([]TopicPartition, 0, len(s))
	for tp := range s {
		out = append(out, tp)
	}
	slices.SortFunc(out, compareTP)
	return out
}

// Topics maps each existing topic to its partition count: the metadata the
// assignors work from.
type Topics map[string]int32

// Subscription is what a member asks for when joining.
type Subscription struct {
	// Topics to consume, or Regex (RE2, anchored) matching topic names.
	Topics []string
	Regex  string
	// InstanceID makes the member static.
	InstanceID string
	// Assignor is AssignorUniform (default when empty) or AssignorRange.
	Assignor string
	// SessionTimeout: 0 means DefaultSessionTimeout.
	SessionTimeout time.Duration
}

// HeartbeatRequest is one member's heartbeat (or join, when Epoch is 0).
type HeartbeatRequest struct {
	Group    string
	MemberID string
	Epoch    int32
	// Sub is required when joining; a non-nil Sub later changes the
	// subscription.
	Sub *Subscription
	// Owned, when OwnedReported, is what the member consumes now.
	Owned         []TopicPartition
	OwnedReported bool
	// Managed members (Consume streams) never time out: the stream's life is
	// their liveness; they leave when it ends.
	Managed bool
	// UseMemberID makes a join (Epoch 0) take MemberID as the member's id
	// instead of a new one: KIP-848 v1 clients choose their own. A member
	// with that id already in the group is replaced.
	UseMemberID bool
	// ClientID and Host describe the member's client, when known.
	ClientID, Host string
}

// HeartbeatResponse is the member's current assignment.
type HeartbeatResponse struct {
	MemberID   string
	Epoch      int32
	Assignment []TopicPartition
}

// member is one member of a group.
type member struct {
	id       string
	instance string
	epoch    int32
	sub      Subscription
	re       *regexp.Regexp
	held     tpSet
	target   tpSet
	// sent is the assignment of the last answer; a different answer bumps
	// the epoch.
	sent     []TopicPartition
	deadline time.Time
	managed  bool
	clientID string
	host     string
}

// subscribes reports whether the member wants topic.
func (m *member) subscribes(topic string) bool {
	if m.re != nil {
		return m.re.MatchString(topic)
	}
	return slices.Contains(m.sub.Topics, topic)
}

// answer is held ∩ target, sorted.
func (m *member) answer() []TopicPartition {
	out := make([]TopicPartition, 0, len(m.held))
	for tp := range m.held {
		if m.target[tp] {
			out = append(out, tp)
		}
	}
	slices.SortFunc(out, compareTP)
	return out
}

// group is one consumer group.
type group struct {
	id       string
	epoch    int32
	assignor string
	members  map[string]*member
	// topics is the metadata of the subscribed topics that the target was
	// computed from.
	topics Topics
}

// Config configures a State.
type Config struct {
	// NewMemberID returns a fresh, unique member id. Required.
	NewMemberID func() string
	// MinSessionTimeout and MaxSessionTimeout bound what members may ask
	// for; zero means the package bounds (1s and 30m).
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// InitialRebalanceDelay is how long the first rebalance of an empty
	// classic group waits for more members (extended by as much, up to the
	// rebalance timeout, while new members keep arriving): Kafka's
	// group.initial.rebalance.delay.ms. 0 completes it at once.
	InitialRebalanceDelay time.Duration
}

// State is every group's membership and assignment. It is not safe for
// concurrent use; see Coordinator.
type State struct {
	cfg     Config
	groups  map[string]*group
	classic map[string]*classicGroup
	seq     int64 // orders classic members by join time
	touched map[string]bool
	// gone lists members removed (left, timed out, fenced) since the last
	// TakeChanged: their watchers must learn it.
	gone [][2]string
}

// NewState returns an empty State.
func NewState(cfg Config) *State {
	if cfg.MinSessionTimeout <= 0 {
		cfg.MinSessionTimeout = MinSessionTimeout
	}
	if cfg.MaxSessionTimeout <= 0 {
		cfg.MaxSessionTimeout = MaxSessionTimeout
	}
	return &State{cfg: cfg, groups: map[string]*group{}, classic: map[string]*classicGroup{}, touched: map[string]bool{}}
}

// checkSub validates a subscription and fills its defaults.
func (s *State) checkSub(groupID string, sub *Subscription) (*regexp.Regexp, error) {
	if len(sub.Topics) == 0 && sub.Regex == "" {
		return nil, invalidf("group %s: subscription names no topics and no topic regex", groupID)
	}
	if len(sub.Topics) > 0 && sub.Regex != "" {
		return nil, invalidf("group %s: subscription names both topics and a topic regex; use one", groupID)
	}
	for i, t := range sub.Topics {
		if t == "" {
			return nil, invalidf("group %s: subscription topic %d is empty", groupID, i)
		}
	}
	var re *regexp.Regexp
	if sub.Regex != "" {
		var err error
		if re, err = regexp.Compile("^(?:" + sub.Regex + ")$"); err != nil {
			return nil, invalidf("group %s: topic regex %q: %v", groupID, sub.Regex, err)
		}
	}
	switch sub.Assignor {
	case "":
		sub.Assignor = AssignorUniform
	case AssignorUniform, AssignorRange:
	default:
		return nil, &assignorError{invalidError{fmt.Sprintf("group %s: unknown assignor %q; want %s or %s", groupID, sub.Assignor, AssignorUniform, AssignorRange)}}
	}
	if sub.SessionTimeout == 0 {
		sub.SessionTimeout = DefaultSessionTimeout
	}
	if sub.SessionTimeout < s.cfg.MinSessionTimeout || sub.SessionTimeout > s.cfg.MaxSessionTimeout {
		return nil, invalidf("group %s: session timeout %v is outside %v..%v", groupID, sub.SessionTimeout, s.cfg.MinSessionTimeout, s.cfg.MaxSessionTimeout)
	}
	return re, nil
}

// Heartbeat handles a join (Epoch 0) or a heartbeat at now, with topics the
// current metadata.
func (s *State) Heartbeat(now time.Time, topics Topics, req HeartbeatRequest) (HeartbeatResponse, error) {
	if req.Group == "" {
		return HeartbeatResponse{}, invalidf("group id is empty")
	}
	g := s.groups[req.Group]
	var m *member
	if req.Epoch == 0 {
		if req.Sub == nil {
			return HeartbeatResponse{}, invalidf("group %s: a join needs a subscription", req.Group)
		}
		sub := *req.Sub
		sub.Topics = slices.Clone(sub.Topics)
		re, err := s.checkSub(req.Group, &sub)
		if err != nil {
			return HeartbeatResponse{}, err
		}
		if cg := s.classic[req.Group]; cg != nil {
			if len(cg.members) > 0 {
				return HeartbeatResponse{}, fmt.Errorf("group %s is a classic group with members: %w", req.Group, ErrInconsistentProtocol)
			}
			delete(s.classic, req.Group)
		}
		if g == nil {
			g = &group{id: req.Group, members: map[string]*member{}, topics: Topics{}}
			s.groups[req.Group] = g
		}
		if len(g.members) == 0 {
			g.assignor = sub.Assignor
		} else if g.assignor != sub.Assignor {
			return HeartbeatResponse{}, invalidf("group %s: assignor %q differs from the group's %q", req.Group, sub.Assignor, g.assignor)
		}
		id := req.MemberID
		if !req.UseMemberID || id == "" {
			id = s.cfg.NewMemberID()
		}
		m = &member{id: id, instance: sub.InstanceID, sub: sub, re: re, held: tpSet{}, target: tpSet{}, epoch: 1}
		if prev := g.members[id]; prev != nil {
			// A member rejoining with its own id starts over.
			s.remove(g, prev)
		}
		var old *member
		if sub.InstanceID != "" {
			for _, o := range g.members {
				if o.instance == sub.InstanceID {
					old = o
				}
			}
		}
		if old != nil && slices.Equal(old.sub.Topics, sub.Topics) && old.sub.Regex == sub.Regex {
			// A static member restarted: it takes the old one's place, its
			// partitions and a newer epoch (fencing the old process), with
			// no rebalance.
			m.held, m.target, m.epoch, m.sent = old.held, old.target, old.epoch+1, nil
			delete(g.members, old.id)
			s.gone = append(s.gone, [2]string{g.id, old.id})
			g.members[m.id] = m
		} else {
			if old != nil {
				s.remove(g, old)
			}
			g.members[m.id] = m
			s.rebalance(g, topics)
		}
	} else {
		if g == nil {
			return HeartbeatResponse{}, fmt.Errorf("group %s: member %s: %w", req.Group, req.MemberID, ErrUnknownMember)
		}
		m = g.members[req.MemberID]
		if m == nil {
			return HeartbeatResponse{}, fmt.Errorf("group %s: member %s: %w", req.Group, req.MemberID, ErrUnknownMember)
		}
		if req.Epoch != m.epoch {
			return HeartbeatResponse{}, fmt.Errorf("group %s: member %s: epoch %d, current %d: %w", req.Group, req.MemberID, req.Epoch, m.epoch, ErrStaleEpoch)
		}
		if req.Sub != nil {
			sub := *req.Sub
			sub.Topics = slices.Clone(sub.Topics)
			sub.InstanceID = m.instance
			if sub.Assignor == "" {
				sub.Assignor = g.assignor
			}
			re, err := s.checkSub(req.Group, &sub)
			if err != nil {
				return HeartbeatResponse{}, err
			}
			if sub.Assignor != g.assignor {
				return HeartbeatResponse{}, invalidf("group %s: assignor %q differs from the group's %q", req.Group, sub.Assignor, g.assignor)
			}
			if !slices.Equal(sub.Topics, m.sub.Topics) || sub.Regex != m.sub.Regex {
				m.sub, m.re = sub, re
				s.rebalance(g, topics)
			}
			m.sub.SessionTimeout = sub.SessionTimeout
		}
	}
	m.managed = req.Managed
	if req.ClientID != "" || req.Host != "" {
		m.clientID, m.host = req.ClientID, req.Host
	}
	m.deadline = now.Add(m.sub.SessionTimeout)
	if req.OwnedReported {
		owned := make(tpSet, len(req.Owned))
		for _, tp := range req.Owned {
			owned[tp] = true
		}
		for tp := range m.held {
			if !m.target[tp] && !owned[tp] {
				delete(m.held, tp) // revocation done
			}
		}
	}
	s.Tick(now, topics)
	s.reconcile(g)
	return s.respond(m), nil
}

// respond builds m's answer, bumping its epoch when the answer changed.
func (s *State) respond(m *member) HeartbeatResponse {
	a := m.answer()
	if m.sent == nil || !slices.Equal(a, m.sent) {
		if m.sent != nil {
			m.epoch++
		}
		m.sent = a
	}
	return HeartbeatResponse{MemberID: m.id, Epoch: m.epoch, Assignment: a}
}

// Leave removes a member at once.
func (s *State) Leave(now time.Time, topics Topics, groupID, memberID string) error {
	g := s.groups[groupID]
	if g == nil || g.members[memberID] == nil {
		return fmt.Errorf("group %s: member %s: %w", groupID, memberID, ErrUnknownMember)
	}
	s.remove(g, g.members[memberID])
	s.rebalance(g, topics)
	s.reconcile(g)
	return nil
}

// Unmanage turns a Consume stream's member into an ordinary one whose
// session timer starts now: a static member whose stream closed keeps its
// partitions for one session timeout, so a restart takes them back without
// a rebalance.
func (s *State) Unmanage(now time.Time, groupID, memberID string) {
	if g := s.groups[groupID]; g != nil {
		if m := g.members[memberID]; m != nil {
			m.managed = false
			m.deadline = now.Add(m.sub.SessionTimeout)
		}
	}
}

// remove drops m and releases everything it held.
func (s *State) remove(g *group, m *member) {
	delete(g.members, m.id)
	s.gone = append(s.gone, [2]string{g.id, m.id})
	g.epoch++
	s.touched[g.id] = true
}

// Tick expires members whose session timed out at now and rebalances groups
// whose topics' metadata changed.
func (s *State) Tick(now time.Time, topics Topics) {
	s.tickClassic(now)
	for _, g := range s.groups {
		expired := false
		for _, m := range g.members {
			if !m.managed && !now.Before(m.deadline) {
				s.remove(g, m)
				expired = true
			}
		}
		if expired || !maps.Equal(g.topics, s.subscribed(g, topics)) {
			s.rebalance(g, topics)
		}
		s.reconcile(g)
	}
}

// subscribed is the part of topics that some member of g wants.
func (s *State) subscribed(g *group, topics Topics) Topics {
	out := Topics{}
	for t, n := range topics {
		for _, m := range g.members {
			if m.subscribes(t) {
				out[t] = n
				break
			}
		}
	}
	return out
}

// rebalance bumps the group epoch and recomputes every member's target.
func (s *State) rebalance(g *group, topics Topics) {
	g.epoch++
	g.topics = s.subscribed(g, topics)
	s.touched[g.id] = true
	ids := make([]string, 0, len(g.members))
	subs := map[string]func(string) bool{}
	prev := map[string]tpSet{}
	for id, m := range g.members {
		ids = append(ids, id)
		subs[id] = m.subscribes
		prev[id] = m.target
	}
	slices.Sort(ids)
	var target map[string]tpSet
	if g.assignor == AssignorRange {
		target = assignRange(ids, subs, g.topics)
	} else {
		target = assignUniform(ids, subs, g.topics, prev)
	}
	for id, m := range g.members {
		m.target = target[id]
		// A partition of a deleted topic (or beyond a shrunk count) is
		// nobody's: drop it from held at once.
		for tp := range m.held {
			if n, ok := g.topics[tp.Topic]; !ok || tp.Partition >= n {
				delete(m.held, tp)
			}
		}
	}
}

// reconcile grants every member the target partitions that nobody holds.
func (s *State) reconcile(g *group) {
	holder := map[TopicPartition]string{}
	for id, m := range g.members {
		for tp := range m.held {
			holder[tp] = id
		}
	}
	ids := make([]string, 0, len(g.members))
	for id := range g.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := g.members[id]
		for _, tp := range m.target.sorted() {
			if _, taken := holder[tp]; !taken {
				m.held[tp] = true
				holder[tp] = id
				s.touched[g.id] = true
			}
		}
	}
}

// TakeChanged returns the members (group, member id) whose answer differs
// from the last one they were sent, and those removed since the last call
// (a fenced static member's stream must stop), and forgets both. Coordinator
// uses it to wake Consume streams.
func (s *State) TakeChanged() [][2]string {
	out := s.gone
	s.gone = nil
	for gid := range s.touched {
		g := s.groups[gid]
		if g == nil {
			continue
		}
		for _, m := range g.members {
			if m.sent != nil && !slices.Equal(m.answer(), m.sent) {
				out = append(out, [2]string{gid, m.id})
			}
		}
	}
	clear(s.touched)
	return out
}

// CheckCommit accepts a commit by memberID at epoch for tps: the member must
// be current and hold every partition. An empty memberID is an admin commit,
// accepted only when the group has no members.
func (s *State) CheckCommit(groupID, memberID string, epoch int32, tps []TopicPartition) error {
	g := s.groups[groupID]
	if cg := s.classic[groupID]; cg != nil && len(cg.members) > 0 {
		if memberID == "" {
			return fmt.Errorf("group %s: a commit without a member id needs an empty group; it has %d members: %w", groupID, len(cg.members), ErrNotEmpty)
		}
		return fmt.Errorf("group %s is a classic group: commit by member %s: %w", groupID, memberID, ErrUnknownMember)
	}
	if memberID == "" {
		if g != nil && len(g.members) > 0 {
			return fmt.Errorf("group %s: a commit without a member id needs an empty group; it has %d members: %w", groupID, len(g.members), ErrNotEmpty)
		}
		return nil
	}
	if g == nil || g.members[memberID] == nil {
		return fmt.Errorf("group %s: commit by member %s: %w", groupID, memberID, ErrUnknownMember)
	}
	m := g.members[memberID]
	if epoch != m.epoch {
		return fmt.Errorf("group %s: commit by member %s at epoch %d, current %d: %w", groupID, memberID, epoch, m.epoch, ErrStaleEpoch)
	}
	for _, tp := range tps {
		if !m.held[tp] {
			return fmt.Errorf("group %s: commit by member %s of %s, which it does not own: %w", groupID, memberID, tp, ErrStaleEpoch)
		}
	}
	return nil
}

// MemberInfo describes one member.
type MemberInfo struct {
	ID, InstanceID string
	Epoch          int32
	// ClientID and Host describe the member's client, when known.
	ClientID, Host string
	Topics         []string
	Regex          string
	// Held is what the member may be consuming; Target what the assignor
	// wants it to own.
	Held, Target []TopicPartition
}

// GroupInfo describes a group.
type GroupInfo struct {
	ID string
	// Type is TypeConsumer or TypeClassic; ProtocolType is a classic
	// group's ("consumer", "connect", ...).
	Type, ProtocolType string
	// Epoch is the group epoch, or a classic group's generation.
	Epoch int32
	// Assignor is the server assignor, or a classic group's protocol.
	Assignor string
	// State is "empty", "stable" (every member holds exactly its target) or
	// "reconciling"; a classic group is "empty", "preparing-rebalance",
	// "completing-rebalance" or "stable".
	State   string
	Members []MemberInfo
}

// Describe returns a group's state; ok is false when the coordinator has
// never seen it (it may still have committed offsets).
func (s *State) Describe(groupID string) (GroupInfo, bool) {
	if cg := s.classic[groupID]; cg != nil {
		return cg.info(), true
	}
	g := s.groups[groupID]
	if g == nil {
		return GroupInfo{ID: groupID, State: "empty"}, false
	}
	gi := GroupInfo{ID: g.id, Type: TypeConsumer, Epoch: g.epoch, Assignor: g.assignor, State: "stable"}
	if len(g.members) == 0 {
		gi.State = "empty"
	}
	for _, m := range g.members {
		held, target := m.held.sorted(), m.target.sorted()
		if !slices.Equal(held, target) {
			gi.State = "reconciling"
		}
		gi.Members = append(gi.Members, MemberInfo{
			ID: m.id, InstanceID: m.instance, Epoch: m.epoch, Topics: slices.Clone(m.sub.Topics),
			Regex: m.sub.Regex, Held: held, Target: target, ClientID: m.clientID, Host: m.host,
		})
	}
	slices.SortFunc(gi.Members, func(a, b MemberInfo) int { return strings.Compare(a.ID, b.ID) })
	return gi, true
}

// Groups lists the ids of known groups, sorted.
func (s *State) Groups() []string {
	out := make([]string, 0, len(s.groups)+len(s.classic))
	for id := range s.groups {
		out = append(out, id)
	}
	for id := range s.classic {
		if s.groups[id] == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// MemberCount is the number of members of a group (0 if unknown).
func (s *State) MemberCount(groupID string) int {
	n := 0
	if g := s.groups[groupID]; g != nil {
		n += len(g.members)
	}
	if cg := s.classic[groupID]; cg != nil {
		n += len(cg.members)
	}
	return n
}

// Delete forgets an empty group.
func (s *State) Delete(groupID string) error {
	if n := s.MemberCount(groupID); n > 0 {
		return fmt.Errorf("group %s has %d members: %w", groupID, n, ErrNotEmpty)
	}
	delete(s.groups, groupID)
	delete(s.classic, groupID)
	return nil
}

// Forget drops everything known of a group, members included, as a node
// does when it stops coordinating the group (another node took it over):
// classic members waiting in JoinGroup or SyncGroup are answered with
// cause, and the watchers of the group's members are woken (TakeChanged),
// so that they ask again and learn cause there. It reports whether the
// group was known.
func (s *State) Forget(groupID string, cause error) bool {
	known := false
	if g := s.groups[groupID]; g != nil {
		known = true
		for id := range g.members {
			s.gone = append(s.gone, [2]string{groupID, id})
		}
		delete(s.groups, groupID)
	}
	if g := s.classic[groupID]; g != nil {
		known = true
		for _, m := range g.members {
			if r := g.unpark(m); r != nil {
				r(JoinResult{Err: cause, MemberID: m.id})
			}
			if m.syncReply != nil {
				m.syncReply(SyncResult{Err: cause})
				m.syncReply = nil
			}
			s.gone = append(s.gone, [2]string{groupID, m.id})
		}
		delete(s.classic, groupID)
	}
	delete(s.touched, groupID)
	return known
}

// CheckInvariant reports two members of one group holding one partition:
// the safety property tests assert after every step.
func (s *State) CheckInvariant() error {
	for _, g := range s.groups {
		holder := map[TopicPartition]string{}
		for id, m := range g.members {
			for tp := range m.held {
				if o, ok := holder[tp]; ok {
					return fmt.Errorf("group %s: %s held by both %s and %s", g.id, tp, o, id)
				}
				holder[tp] = id
			}
		}
	}
	return nil
}

// SessionTimeout is a member's session timeout (0 if the member is unknown):
// the broker derives the heartbeat interval it answers from it.
func (s *State) SessionTimeout(groupID, memberID string) time.Duration {
	if g := s.groups[groupID]; g != nil {
		if m := g.members[memberID]; m != nil {
			return m.sub.SessionTimeout
		}
	}
	return 0
}
