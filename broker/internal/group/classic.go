package group

// The classic (pre-KIP-848) group protocol: members join, one of them (the
// leader) computes the assignment on the client side and hands it back with
// SyncGroup, and the coordinator only sequences generations.
//
// States, as in Kafka's ClassicGroupState: Empty (no members),
// PreparingRebalance (collecting JoinGroups), CompletingRebalance (waiting
// for the leader's SyncGroup), Stable. A group that is deleted is simply
// forgotten (Kafka's Dead).
//
// A request that must wait (a JoinGroup until the rebalance completes, a
// SyncGroup until the leader's assignment arrives) passes a reply func that
// the State calls exactly once, possibly during the call itself and possibly
// during a later operation or Tick. Reply funcs must not block: the
// Coordinator's goroutine calls them.
//
// Classic and KIP-848 groups share one namespace: a group id names at most
// one of them while it has members, and a request of the other protocol is
// ErrInconsistentProtocol. An empty group of either kind is converted on
// the first join of the other.

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Classic-protocol errors; wrapped with the group and member concerned.
var (
	// ErrInconsistentProtocol: the group runs the other protocol, another
	// protocol type, or no protocol the member supports.
	ErrInconsistentProtocol = errorString("inconsistent group protocol")
	// ErrIllegalGeneration: the request names another generation.
	ErrIllegalGeneration = errorString("illegal generation")
	// ErrRebalanceInProgress: the group is rebalancing; rejoin.
	ErrRebalanceInProgress = errorString("rebalance in progress")
	// ErrMemberIDRequired: a new member must rejoin with the member id that
	// the result carries (KIP-394).
	ErrMemberIDRequired = errorString("member id required")
	// ErrFencedInstance: another process took over the static member's
	// instance id.
	ErrFencedInstance = errorString("fenced instance id")
	// ErrInvalidSessionTimeout: the session timeout lies outside the
	// broker's bounds.
	ErrInvalidSessionTimeout = errorString("invalid session timeout")
)

// errorString is a comparable sentinel error.
type errorString string

func (e errorString) Error() string { return string(e) }

// ClassicState is the state of a classic group.
type ClassicState int

// Classic group states.
const (
	ClassicEmpty ClassicState = iota
	ClassicPreparingRebalance
	ClassicCompletingRebalance
	ClassicStable
	// ClassicDead is what describing an unknown group answers.
	ClassicDead
)

// String returns Kafka's name of the state.
func (st ClassicState) String() string {
	switch st {
	case ClassicEmpty:
		return "Empty"
	case ClassicPreparingRebalance:
		return "PreparingRebalance"
	case ClassicCompletingRebalance:
		return "CompletingRebalance"
	case ClassicStable:
		return "Stable"
	}
	return "Dead"
}

// ClassicProtocol is one protocol a member supports, with its opaque
// metadata (for protocol type "consumer", a ConsumerMemberMetadata).
type ClassicProtocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a classic JoinGroup.
type JoinRequest struct {
	Group string
	// MemberID is empty for a new member.
	MemberID string
	// InstanceID makes the member static (KIP-345).
	InstanceID       string
	ClientID, Host   string
	ProtocolType     string
	Protocols        []ClassicProtocol
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	// RequireKnownMemberID (JoinGroup v4+) makes a new dynamic member first
	// get ErrMemberIDRequired with its id.
	RequireKnownMemberID bool
	// Topics is the subscription decoded from the protocols' metadata, when
	// the caller understands the protocol type (describe and OffsetDelete
	// use it); nil otherwise.
	Topics []string
}

// JoinMember is one member as the leader sees it.
type JoinMember struct {
	ID, InstanceID string
	Metadata       []byte
}

// JoinResult answers a JoinGroup. Err is nil or wraps one of the sentinel
// errors; with ErrMemberIDRequired, MemberID is the id to rejoin with.
type JoinResult struct {
	Err          error
	Generation   int32
	ProtocolType string
	Protocol     string
	Leader       string
	MemberID     string
	// Members is set for the leader only.
	Members []JoinMember
	// SkipAssignment tells a static leader that rejoined a stable group
	// that the assignment stands (JoinGroup v9).
	SkipAssignment bool
}

// SyncRequest is a classic SyncGroup.
type SyncRequest struct {
	Group, MemberID, InstanceID string
	Generation                  int32
	// ProtocolType and Protocol, when not empty, must match the group's.
	ProtocolType, Protocol string
	// Assignments is the leader's assignment by member id (empty for the
	// followers); Decoded the same, decoded by the caller when it
	// understands the protocol type.
	Assignments map[string][]byte
	Decoded     map[string][]TopicPartition
}

// SyncResult answers a SyncGroup.
type SyncResult struct {
	Err                    error
	ProtocolType, Protocol string
	Assignment             []byte
}

// LeaveMember names a member leaving: by id, or by instance id alone.
type LeaveMember struct {
	MemberID, InstanceID string
}

// classicMember is one member of a classic group.
type classicMember struct {
	id, instance     string
	clientID, host   string
	protocols        []ClassicProtocol
	topics           []string
	session          time.Duration
	rebalanceTimeout time.Duration
	deadline         time.Time
	seq              int64
	joinReply        func(JoinResult)
	syncReply        func(SyncResult)
	assignment       []byte
	held             []TopicPartition
}

// metadata returns the member's metadata for protocol.
func (m *classicMember) metadata(protocol string) []byte {
	for _, p := range m.protocols {
		if p.Name == protocol {
			return p.Metadata
		}
	}
	return nil
}

// supports reports whether the member lists protocol.
func (m *classicMember) supports(protocol string) bool {
	return slices.ContainsFunc(m.protocols, func(p ClassicProtocol) bool { return p.Name == protocol })
}

// classicGroup is one classic group.
type classicGroup struct {
	id           string
	state        ClassicState
	generation   int32
	protocolType string
	protocol     string
	leader       string
	members      map[string]*classicMember
	// awaiting counts the members with a waiting JoinGroup; supported
	// counts, per protocol name, the members listing it: both keep joins
	// O(protocols), not O(members).
	awaiting  int
	supported map[string]int
	// pending are new members told ErrMemberIDRequired, with the deadline
	// by which they must rejoin.
	pending map[string]time.Time
	// rebalanceDeadline ends PreparingRebalance; during the initial delay it
	// moves forward while new members arrive, up to delayLimit.
	rebalanceDeadline time.Time
	initial           bool
	newMemberAdded    bool
	delayLimit        time.Time
}

// sortedMembers returns the members in join order.
func (g *classicGroup) sortedMembers() []*classicMember {
	out := make([]*classicMember, 0, len(g.members))
	for _, m := range g.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *classicMember) int { return int(a.seq - b.seq) })
	return out
}

// byInstance finds the static member with instance id inst.
func (g *classicGroup) byInstance(inst string) *classicMember {
	if inst == "" {
		return nil
	}
	for _, m := range g.members {
		if m.instance == inst {
			return m
		}
	}
	return nil
}

// park makes reply m's waiting JoinGroup.
func (g *classicGroup) park(m *classicMember, reply func(JoinResult)) {
	if m.joinReply == nil {
		g.awaiting++
	}
	m.joinReply = reply
}

// unpark clears and returns m's waiting JoinGroup (nil if none).
func (g *classicGroup) unpark(m *classicMember) func(JoinResult) {
	r := m.joinReply
	if r != nil {
		g.awaiting--
		m.joinReply = nil
	}
	return r
}

// count adds d to the support counts of m's protocols.
func (g *classicGroup) count(m *classicMember, d int) {
	for i, p := range m.protocols {
		if !slices.ContainsFunc(m.protocols[:i], func(q ClassicProtocol) bool { return q.Name == p.Name }) {
			g.supported[p.Name] += d
		}
	}
}

// supportsProtocols reports whether a member (other than skip) with these
// protocols may join: same protocol type, and one protocol that every other
// member supports.
func (g *classicGroup) supportsProtocols(protocolType string, protocols []ClassicProtocol, skip string) bool {
	others := len(g.members)
	self := g.members[skip]
	if self != nil {
		others--
	}
	if others == 0 {
		return true
	}
	if protocolType != g.protocolType {
		return false
	}
	for _, p := range protocols {
		n := g.supported[p.Name]
		if self != nil && self.supports(p.Name) {
			n--
		}
		if n == others {
			return true
		}
	}
	return false
}

// selectProtocol picks the protocol that every member supports and most
// members prefer; ties go to the leader's (or first member's) preference.
func (g *classicGroup) selectProtocol() string {
	ms := g.sortedMembers()
	if len(ms) == 0 {
		return ""
	}
	first := ms[0]
	if l := g.members[g.leader]; l != nil {
		first = l
	}
	votes := map[string]int{}
	var order []string
	for _, p := range first.protocols {
		if !slices.ContainsFunc(ms, func(m *classicMember) bool { return !m.supports(p.Name) }) {
			order = append(order, p.Name)
		}
	}
	for _, m := range ms {
		for _, p := range m.protocols {
			if slices.Contains(order, p.Name) {
				votes[p.Name]++
				break
			}
		}
	}
	best := ""
	for _, name := range order {
		if best == "" || votes[name] > votes[best] {
			best = name
		}
	}
	return best
}

// maxRebalanceTimeout is the largest rebalance timeout of the members.
func (g *classicGroup) maxRebalanceTimeout() time.Duration {
	var d time.Duration
	for _, m := range g.members {
		d = max(d, m.rebalanceTimeout)
	}
	return d
}

// otherProtocolBusy reports whether id names a KIP-848 group with members;
// an empty one is forgotten (its offsets stay), so that the classic group
// can take the name.
func (s *State) otherProtocolBusy(id string) bool {
	if g := s.groups[id]; g != nil {
		if len(g.members) > 0 {
			return true
		}
		delete(s.groups, id)
	}
	return false
}

// checkClassicSession checks a session timeout and clamps the rebalance
// timeout (0 means the session timeout, as JoinGroup v0 has none).
func (s *State) checkClassicSession(req *JoinRequest) error {
	if req.SessionTimeout < s.cfg.MinSessionTimeout || req.SessionTimeout > s.cfg.MaxSessionTimeout {
		return fmt.Errorf("group %s: session timeout %v is outside %v..%v: %w", req.Group, req.SessionTimeout, s.cfg.MinSessionTimeout, s.cfg.MaxSessionTimeout, ErrInvalidSessionTimeout)
	}
	if req.RebalanceTimeout <= 0 {
		req.RebalanceTimeout = req.SessionTimeout
	}
	req.RebalanceTimeout = min(max(req.RebalanceTimeout, s.cfg.MinSessionTimeout), s.cfg.MaxSessionTimeout)
	return nil
}

// JoinClassic handles a JoinGroup at now. reply is called exactly once:
// now, or when the rebalance completes (or the member is removed first).
func (s *State) JoinClassic(now time.Time, req JoinRequest, reply func(JoinResult)) {
	fail := func(err error) { reply(JoinResult{Err: err, MemberID: req.MemberID}) }
	if req.Group == "" {
		fail(invalidf("group id is empty"))
		return
	}
	if req.ProtocolType == "" || len(req.Protocols) == 0 {
		fail(fmt.Errorf("group %s: a join needs a protocol type and at least one protocol: %w", req.Group, ErrInconsistentProtocol))
		return
	}
	if err := s.checkClassicSession(&req); err != nil {
		fail(err)
		return
	}
	if s.otherProtocolBusy(req.Group) {
		fail(fmt.Errorf("group %s is a consumer (KIP-848) group with members: %w", req.Group, ErrInconsistentProtocol))
		return
	}
	g := s.classic[req.Group]
	if g == nil {
		if req.MemberID != "" {
			fail(fmt.Errorf("group %s: member %s: %w", req.Group, req.MemberID, ErrUnknownMember))
			return
		}
		g = &classicGroup{id: req.Group, members: map[string]*classicMember{}, pending: map[string]time.Time{}, supported: map[string]int{}}
		s.classic[req.Group] = g
	}
	if !g.supportsProtocols(req.ProtocolType, req.Protocols, req.MemberID) {
		fail(fmt.Errorf("group %s: protocol type %q with protocols %s matches none of the group's (type %q): %w", req.Group, req.ProtocolType, protocolNames(req.Protocols), g.protocolType, ErrInconsistentProtocol))
		return
	}
	if req.MemberID == "" {
		s.joinNew(now, g, req, reply)
	} else {
		s.joinKnown(now, g, req, reply)
	}
	s.touched[g.id] = true
}

func protocolNames(ps []ClassicProtocol) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return "[" + strings.Join(names, " ") + "]"
}

// joinNew handles a join without a member id.
func (s *State) joinNew(now time.Time, g *classicGroup, req JoinRequest, reply func(JoinResult)) {
	// Kafka's form: the instance id (static) or client id, a dash, a
	// unique part. Some clients rely on the instance-id prefix (franz-go
	// before JoinGroup v9 recognises a static leader's rejoin by it).
	id := s.cfg.NewMemberID()
	if prefix := cmp.Or(req.InstanceID, req.ClientID); prefix != "" {
		id = prefix + "-" + id
	}
	if req.InstanceID != "" {
		if old := g.byInstance(req.InstanceID); old != nil {
			s.replaceStatic(now, g, old, id, req, reply)
			return
		}
	} else if req.RequireKnownMemberID {
		g.pending[id] = now.Add(req.SessionTimeout)
		reply(JoinResult{Err: fmt.Errorf("group %s: rejoin with member id %s: %w", g.id, id, ErrMemberIDRequired), MemberID: id})
		return
	}
	s.addClassicMember(now, g, id, req, reply)
}

// addClassicMember adds a member that waits for the rebalance.
func (s *State) addClassicMember(now time.Time, g *classicGroup, id string, req JoinRequest, reply func(JoinResult)) {
	s.seq++
	m := &classicMember{id: id, seq: s.seq}
	m.update(req)
	m.deadline = now.Add(m.session)
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	g.members[id] = m
	g.count(m, 1)
	g.park(m, reply)
	if g.leader == "" {
		g.leader = id
	}
	g.newMemberAdded = true
	s.prepareRebalance(now, g)
	s.maybeCompleteJoin(now, g)
}

// update copies a join's member fields.
func (m *classicMember) update(req JoinRequest) {
	m.instance = req.InstanceID
	m.clientID, m.host = req.ClientID, req.Host
	m.protocols = slices.Clone(req.Protocols)
	m.topics = slices.Clone(req.Topics)
	m.session, m.rebalanceTimeout = req.SessionTimeout, req.RebalanceTimeout
}

// replaceStatic gives a static member that restarted a new member id,
// fencing the old process, and keeps its assignment.
func (s *State) replaceStatic(now time.Time, g *classicGroup, old *classicMember, id string, req JoinRequest, reply func(JoinResult)) {
	oldID := old.id
	if r := g.unpark(old); r != nil {
		r(JoinResult{Err: fmt.Errorf("group %s: instance %s rejoined as member %s: %w", g.id, req.InstanceID, id, ErrFencedInstance), MemberID: oldID})
	}
	if old.syncReply != nil {
		old.syncReply(SyncResult{Err: fmt.Errorf("group %s: instance %s rejoined as member %s: %w", g.id, req.InstanceID, id, ErrFencedInstance)})
		old.syncReply = nil
	}
	delete(g.members, oldID)
	s.gone = append(s.gone, [2]string{g.id, oldID})
	prevProtocols := old.protocols
	old.id = id
	g.count(old, -1)
	old.update(req)
	g.count(old, 1)
	old.deadline = now.Add(old.session)
	g.members[id] = old
	if g.leader == oldID {
		g.leader = id
	}
	switch g.state {
	case ClassicStable:
		sameMeta := g.protocol != "" && old.supports(g.protocol) && slices.EqualFunc(prevProtocols, old.protocols, func(a, b ClassicProtocol) bool {
			return a.Name == b.Name && string(a.Metadata) == string(b.Metadata)
		})
		if sameMeta {
			res := JoinResult{Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, Leader: g.leader, MemberID: id}
			if g.leader == id {
				res.Members, res.SkipAssignment = g.joinMembers(), true
			}
			reply(res)
			return
		}
		g.park(old, reply)
		s.prepareRebalance(now, g)
	case ClassicCompletingRebalance:
		// The leader may have been sent the old id; start over.
		g.park(old, reply)
		s.prepareRebalance(now, g)
	default:
		g.park(old, reply)
		s.maybeCompleteJoin(now, g)
	}
}

// joinKnown handles a join with a member id.
func (s *State) joinKnown(now time.Time, g *classicGroup, req JoinRequest, reply func(JoinResult)) {
	if _, ok := g.pending[req.MemberID]; ok {
		delete(g.pending, req.MemberID)
		s.addClassicMember(now, g, req.MemberID, req, reply)
		return
	}
	m := g.members[req.MemberID]
	if req.InstanceID != "" {
		if sm := g.byInstance(req.InstanceID); sm != nil && sm.id != req.MemberID {
			reply(JoinResult{Err: fmt.Errorf("group %s: instance %s belongs to member %s, not %s: %w", g.id, req.InstanceID, sm.id, req.MemberID, ErrFencedInstance), MemberID: req.MemberID})
			return
		}
	}
	if m == nil {
		reply(JoinResult{Err: fmt.Errorf("group %s: member %s: %w", g.id, req.MemberID, ErrUnknownMember), MemberID: req.MemberID})
		return
	}
	if r := g.unpark(m); r != nil {
		// A retry on another connection: the earlier request will not be
		// read any more.
		r(JoinResult{Err: fmt.Errorf("group %s: member %s sent a newer join: %w", g.id, m.id, ErrRebalanceInProgress), MemberID: m.id})
	}
	changed := !slices.EqualFunc(m.protocols, req.Protocols, func(a, b ClassicProtocol) bool {
		return a.Name == b.Name && string(a.Metadata) == string(b.Metadata)
	})
	g.count(m, -1)
	m.update(req)
	g.count(m, 1)
	m.deadline = now.Add(m.session)
	switch g.state {
	case ClassicPreparingRebalance:
		g.park(m, reply)
		s.maybeCompleteJoin(now, g)
	case ClassicCompletingRebalance, ClassicStable:
		if !changed && (g.state == ClassicCompletingRebalance || g.leader != m.id) {
			// Nothing new: answer the current generation again.
			res := JoinResult{Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, Leader: g.leader, MemberID: m.id}
			if g.leader == m.id {
				res.Members = g.joinMembers()
			}
			reply(res)
			return
		}
		g.park(m, reply)
		s.prepareRebalance(now, g)
		s.maybeCompleteJoin(now, g)
	default: // Empty with members cannot happen; be safe
		g.park(m, reply)
		s.prepareRebalance(now, g)
		s.maybeCompleteJoin(now, g)
	}
}

// joinMembers is the member list the leader gets.
func (g *classicGroup) joinMembers() []JoinMember {
	var out []JoinMember
	for _, m := range g.sortedMembers() {
		out = append(out, JoinMember{ID: m.id, InstanceID: m.instance, Metadata: m.metadata(g.protocol)})
	}
	return out
}

// prepareRebalance moves the group to PreparingRebalance (if it is not
// there already), failing the SyncGroups that wait for an assignment.
func (s *State) prepareRebalance(now time.Time, g *classicGroup) {
	if g.state == ClassicPreparingRebalance {
		return
	}
	if g.state == ClassicCompletingRebalance {
		for _, m := range g.members {
			if m.syncReply != nil {
				m.syncReply(SyncResult{Err: fmt.Errorf("group %s: %w", g.id, ErrRebalanceInProgress)})
				m.syncReply = nil
			}
		}
	}
	timeout := g.maxRebalanceTimeout()
	if g.state == ClassicEmpty && s.cfg.InitialRebalanceDelay > 0 {
		g.initial = true
		g.newMemberAdded = false
		g.rebalanceDeadline = now.Add(min(s.cfg.InitialRebalanceDelay, timeout))
		g.delayLimit = now.Add(timeout)
	} else {
		g.initial = false
		g.rebalanceDeadline = now.Add(timeout)
	}
	g.state = ClassicPreparingRebalance
	s.touched[g.id] = true
}

// maybeCompleteJoin completes the rebalance once every member (and no
// pending one) has joined, outside the initial delay.
func (s *State) maybeCompleteJoin(now time.Time, g *classicGroup) {
	if g.state != ClassicPreparingRebalance || g.initial {
		return
	}
	if len(g.pending) > 0 {
		return
	}
	if g.awaiting == len(g.members) {
		s.completeJoin(now, g)
	}
}

// completeJoin starts the next generation: dynamic members that did not
// rejoin are removed, a protocol is selected and every waiting JoinGroup is
// answered.
func (s *State) completeJoin(now time.Time, g *classicGroup) {
	for id, m := range g.members {
		if m.joinReply == nil && m.instance == "" {
			g.count(m, -1)
			delete(g.members, id)
			s.gone = append(s.gone, [2]string{g.id, id})
		}
	}
	clear(g.pending)
	g.initial = false
	g.generation++
	s.touched[g.id] = true
	if len(g.members) == 0 {
		g.state, g.protocol, g.leader = ClassicEmpty, "", ""
		return
	}
	if l := g.members[g.leader]; l == nil || l.joinReply == nil {
		g.leader = ""
		for _, m := range g.sortedMembers() {
			if m.joinReply != nil {
				g.leader = m.id
				break
			}
		}
		if g.leader == "" {
			g.leader = g.sortedMembers()[0].id
		}
	}
	g.protocol = g.selectProtocol()
	g.state = ClassicCompletingRebalance
	for _, m := range g.sortedMembers() {
		m.deadline = now.Add(m.session)
		if m.joinReply == nil {
			continue
		}
		res := JoinResult{Generation: g.generation, ProtocolType: g.protocolType, Protocol: g.protocol, Leader: g.leader, MemberID: m.id}
		if m.id == g.leader {
			res.Members = g.joinMembers()
		}
		g.unpark(m)(res)
	}
}

// checkMember finds a member for sync, heartbeat and commit: unknown
// member, fenced instance and generation checks.
func (g *classicGroup) checkMember(op, memberID, instanceID string, generation int32) (*classicMember, error) {
	if instanceID != "" {
		if sm := g.byInstance(instanceID); sm != nil && sm.id != memberID {
			return nil, fmt.Errorf("group %s: %s: instance %s belongs to member %s, not %s: %w", g.id, op, instanceID, sm.id, memberID, ErrFencedInstance)
		}
	}
	m := g.members[memberID]
	if m == nil {
		return nil, fmt.Errorf("group %s: %s: member %q: %w", g.id, op, memberID, ErrUnknownMember)
	}
	if generation != g.generation {
		return nil, fmt.Errorf("group %s: %s by member %s: generation %d, current %d: %w", g.id, op, memberID, generation, g.generation, ErrIllegalGeneration)
	}
	return m, nil
}

// SyncClassic handles a SyncGroup at now; reply is called exactly once.
func (s *State) SyncClassic(now time.Time, req SyncRequest, reply func(SyncResult)) {
	g := s.classic[req.Group]
	if g == nil || g.state == ClassicEmpty {
		reply(SyncResult{Err: fmt.Errorf("group %s: sync: member %q: %w", req.Group, req.MemberID, ErrUnknownMember)})
		return
	}
	m, err := g.checkMember("sync", req.MemberID, req.InstanceID, req.Generation)
	if err != nil {
		reply(SyncResult{Err: err})
		return
	}
	if (req.ProtocolType != "" && req.ProtocolType != g.protocolType) || (req.Protocol != "" && req.Protocol != g.protocol) {
		reply(SyncResult{Err: fmt.Errorf("group %s: sync with protocol %s/%s, the group's is %s/%s: %w", g.id, req.ProtocolType, req.Protocol, g.protocolType, g.protocol, ErrInconsistentProtocol)})
		return
	}
	m.deadline = now.Add(m.session)
	switch g.state {
	case ClassicPreparingRebalance:
		reply(SyncResult{Err: fmt.Errorf("group %s: %w", g.id, ErrRebalanceInProgress)})
	case ClassicStable:
		reply(SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: m.assignment})
	case ClassicCompletingRebalance:
		if m.syncReply != nil {
			m.syncReply(SyncResult{Err: fmt.Errorf("group %s: member %s sent a newer sync: %w", g.id, m.id, ErrRebalanceInProgress)})
		}
		m.syncReply = reply
		if m.id != g.leader {
			return
		}
		for id, o := range g.members {
			o.assignment = req.Assignments[id]
			o.held = slices.Clone(req.Decoded[id])
			slices.SortFunc(o.held, compareTP)
		}
		g.state = ClassicStable
		s.touched[g.id] = true
		for _, o := range g.sortedMembers() {
			if o.syncReply != nil {
				r := o.syncReply
				o.syncReply = nil
				r(SyncResult{ProtocolType: g.protocolType, Protocol: g.protocol, Assignment: o.assignment})
			}
		}
	}
}

// HeartbeatClassic handles a classic Heartbeat at now. In
// PreparingRebalance a current member gets ErrRebalanceInProgress: it must
// rejoin.
func (s *State) HeartbeatClassic(now time.Time, groupID, memberID, instanceID string, generation int32) error {
	g := s.classic[groupID]
	if g == nil || g.state == ClassicEmpty {
		return fmt.Errorf("group %s: heartbeat: member %q: %w", groupID, memberID, ErrUnknownMember)
	}
	m, err := g.checkMember("heartbeat", memberID, instanceID, generation)
	if err != nil {
		return err
	}
	m.deadline = now.Add(m.session)
	if g.state == ClassicPreparingRebalance {
		return fmt.Errorf("group %s: %w", groupID, ErrRebalanceInProgress)
	}
	return nil
}

// LeaveClassic removes members at once (LeaveGroup), answering an error per
// member; err is set when the group is unknown.
func (s *State) LeaveClassic(now time.Time, groupID string, leaving []LeaveMember) (errs []error, err error) {
	g := s.classic[groupID]
	if g == nil {
		return nil, fmt.Errorf("group %s: leave: %w", groupID, ErrUnknownMember)
	}
	errs = make([]error, len(leaving))
	for i, l := range leaving {
		if l.InstanceID != "" {
			sm := g.byInstance(l.InstanceID)
			switch {
			case sm == nil:
				errs[i] = fmt.Errorf("group %s: leave: instance %s: %w", groupID, l.InstanceID, ErrUnknownMember)
			case l.MemberID != "" && sm.id != l.MemberID:
				errs[i] = fmt.Errorf("group %s: leave: instance %s belongs to member %s, not %s: %w", groupID, l.InstanceID, sm.id, l.MemberID, ErrFencedInstance)
			default:
				s.removeClassic(now, g, sm, "left the group")
			}
			continue
		}
		if _, ok := g.pending[l.MemberID]; ok {
			delete(g.pending, l.MemberID)
			s.maybeCompleteJoin(now, g)
			continue
		}
		m := g.members[l.MemberID]
		if m == nil {
			errs[i] = fmt.Errorf("group %s: leave: member %q: %w", groupID, l.MemberID, ErrUnknownMember)
			continue
		}
		s.removeClassic(now, g, m, "left the group")
	}
	return errs, nil
}

// removeClassic drops a member: its waiting requests fail and the group
// rebalances.
func (s *State) removeClassic(now time.Time, g *classicGroup, m *classicMember, why string) {
	if r := g.unpark(m); r != nil {
		r(JoinResult{Err: fmt.Errorf("group %s: member %s %s: %w", g.id, m.id, why, ErrUnknownMember), MemberID: m.id})
	}
	if m.syncReply != nil {
		m.syncReply(SyncResult{Err: fmt.Errorf("group %s: member %s %s: %w", g.id, m.id, why, ErrUnknownMember)})
		m.syncReply = nil
	}
	g.count(m, -1)
	delete(g.members, m.id)
	s.gone = append(s.gone, [2]string{g.id, m.id})
	if g.leader == m.id {
		g.leader = ""
	}
	s.touched[g.id] = true
	switch g.state {
	case ClassicStable, ClassicCompletingRebalance:
		s.prepareRebalance(now, g)
		s.maybeCompleteJoin(now, g)
	case ClassicPreparingRebalance:
		s.maybeCompleteJoin(now, g)
	}
}

// tickClassic expires members and pending members whose session ended,
// ends rebalances whose deadline passed and forgets empty groups.
func (s *State) tickClassic(now time.Time) {
	for _, g := range s.classic {
		for id, d := range g.pending {
			if !now.Before(d) {
				delete(g.pending, id)
				s.maybeCompleteJoin(now, g)
			}
		}
		for _, m := range g.sortedMembers() {
			if m.joinReply == nil && m.syncReply == nil && !now.Before(m.deadline) {
				s.removeClassic(now, g, m, "timed out")
			}
		}
		if g.state == ClassicPreparingRebalance && !now.Before(g.rebalanceDeadline) {
			if g.initial && g.newMemberAdded && now.Before(g.delayLimit) {
				g.newMemberAdded = false
				g.rebalanceDeadline = minTime(now.Add(s.cfg.InitialRebalanceDelay), g.delayLimit)
				continue
			}
			s.completeJoin(now, g)
		}
		if g.state == ClassicEmpty && len(g.members) == 0 && len(g.pending) == 0 {
			// Forgotten, as Kafka's offset cleanup removes an empty
			// group: its committed offsets (in the broker) remain.
			delete(s.classic, g.id)
		}
	}
}

// NextRebalanceDeadline is the earliest time at which Tick ends a
// rebalance (an initial delay or a rebalance timeout); ok is false when no
// classic group is rebalancing.
func (s *State) NextRebalanceDeadline() (d time.Time, ok bool) {
	for _, g := range s.classic {
		if g.state == ClassicPreparingRebalance && (!ok || g.rebalanceDeadline.Before(d)) {
			d, ok = g.rebalanceDeadline, true
		}
	}
	return d, ok
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// checkCommit validates an offset commit against a classic group
// with members (Kafka's rules).
func (g *classicGroup) checkCommit(memberID, instanceID string, generation int32) error {
	if memberID == "" && generation < 0 {
		return fmt.Errorf("group %s: a commit without a member needs an empty group; it has %d members: %w", g.id, len(g.members), ErrNotEmpty)
	}
	if _, err := g.checkMember("commit", memberID, instanceID, generation); err != nil {
		return err
	}
	if g.state == ClassicCompletingRebalance {
		return fmt.Errorf("group %s: commit while the assignment is being distributed: %w", g.id, ErrRebalanceInProgress)
	}
	return nil
}

// ClassicMemberInfo describes one member of a classic group.
type ClassicMemberInfo struct {
	ID, InstanceID, ClientID, Host string
	// Metadata is the member's metadata for the group's protocol and
	// Assignment its last assignment (both empty unless Stable).
	Metadata, Assignment []byte
	Topics               []string
	Held                 []TopicPartition
}

// ClassicGroupInfo describes a classic group.
type ClassicGroupInfo struct {
	ID           string
	State        ClassicState
	Generation   int32
	ProtocolType string
	Protocol     string
	Leader       string
	Members      []ClassicMemberInfo
}

// DescribeClassic describes a classic group; ok is false when id names no
// classic group.
func (s *State) DescribeClassic(id string) (ClassicGroupInfo, bool) {
	g := s.classic[id]
	if g == nil {
		return ClassicGroupInfo{ID: id, State: ClassicDead}, false
	}
	gi := ClassicGroupInfo{ID: id, State: g.state, Generation: g.generation, ProtocolType: g.protocolType, Leader: g.leader}
	if g.state == ClassicStable {
		gi.Protocol = g.protocol
	}
	for _, m := range g.sortedMembers() {
		mi := ClassicMemberInfo{ID: m.id, InstanceID: m.instance, ClientID: m.clientID, Host: m.host, Topics: slices.Clone(m.topics), Held: slices.Clone(m.held)}
		if g.state == ClassicStable {
			mi.Metadata, mi.Assignment = m.metadata(g.protocol), m.assignment
		}
		gi.Members = append(gi.Members, mi)
	}
	return gi, true
}

// info renders a classic group as a GroupInfo.
func (g *classicGroup) info() GroupInfo {
	gi := GroupInfo{ID: g.id, Epoch: g.generation, Assignor: g.protocol, Type: TypeClassic, ProtocolType: g.protocolType}
	switch g.state {
	case ClassicEmpty:
		gi.State = "empty"
	case ClassicPreparingRebalance:
		gi.State = "preparing-rebalance"
	case ClassicCompletingRebalance:
		gi.State = "completing-rebalance"
	default:
		gi.State = "stable"
	}
	for _, m := range g.sortedMembers() {
		gi.Members = append(gi.Members, MemberInfo{
			ID: m.id, InstanceID: m.instance, Epoch: g.generation, Topics: slices.Clone(m.topics),
			Held: slices.Clone(m.held), Target: slices.Clone(m.held), ClientID: m.clientID, Host: m.host,
		})
	}
	slices.SortFunc(gi.Members, func(a, b MemberInfo) int { return strings.Compare(a.ID, b.ID) })
	return gi
}

// CheckKafkaCommit validates a Kafka OffsetCommit (or an OffsetFetch that
// names its member) whose generation is a classic group's generation or a
// KIP-848 member's epoch, by the kind of group groupID is. A commit without
// a member id at a negative generation is an admin commit, accepted only
// while the group has no members (else ErrNotEmpty).
func (s *State) CheckKafkaCommit(groupID, memberID, instanceID string, generation int32, tps []TopicPartition) error {
	if cg := s.classic[groupID]; cg != nil && len(cg.members) > 0 {
		return cg.checkCommit(memberID, instanceID, generation)
	}
	if g := s.groups[groupID]; g != nil && len(g.members) > 0 {
		if memberID == "" {
			return fmt.Errorf("group %s: a commit without a member needs an empty group; it has %d members: %w", groupID, len(g.members), ErrNotEmpty)
		}
		return s.CheckCommit(groupID, memberID, generation, tps)
	}
	switch {
	case memberID != "":
		return fmt.Errorf("group %s has no members: commit by member %s: %w", groupID, memberID, ErrUnknownMember)
	case generation >= 0:
		return fmt.Errorf("group %s has no members: commit at generation %d without a member id: %w", groupID, generation, ErrIllegalGeneration)
	}
	return nil
}
