package group

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/golden"
)

// TestScripts runs testdata/*.txt: blocks of one command, a "----" line and
// the expected output, separated by blank lines (etcd-io/raft's interaction
// tests are the model). After every command the safety invariant (no
// partition held by two members) is checked.
//
// Commands:
//
//	topics a=6 b=3                       set the metadata
//	join G topics=a,b|regex=R [instance=I] [assignor=range] [timeout=10s]
//	heartbeat G M [owned=a/0,a/1|owned=] [epoch=N]
//	leave G M
//	advance DUR                          move the clock and tick
//	describe G
//	commit G M a/0,a/1 [epoch=N]
//
// Classic groups (a reply that waits is printed, tagged with its request
// number, by the command during which it arrives):
//
//	delay DUR                            set the initial rebalance delay
//	cjoin G [member=M] [instance=I] [protocols=range,roundrobin] [type=consumer] [meta=SUFFIX]
//	      [session=10s] [rebalance=10s] [known] [topics=a,b]
//	csync G M gen=N [instance=I] [assign=M1:a/0,a/1;M2:a/2]
//	cheartbeat G M gen=N [instance=I]
//	cleave G [M,...] [instance=I]
//	kcommit G M gen=N [instance=I]       Kafka commit check (M "-" for none)
//	cdescribe G
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no testdata/*.txt")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) { runScript(t, f) })
	}
}

func runScript(t *testing.T, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	st := NewState(Config{NewMemberID: func() string { n++; return "m" + strconv.Itoa(n) }})
	now := time.Unix(1000, 0)
	topics := Topics{}
	epochs := map[string]int32{}
	replies := &replyLog{}
	var out strings.Builder
	blocks := strings.Split(strings.TrimSpace(string(data)), "\n\n")
	for _, blk := range blocks {
		cmd, want, _ := strings.Cut(blk, "\n----")
		cmd = strings.TrimSpace(cmd)
		got := step(t, st, &now, topics, epochs, replies, cmd)
		got += replies.take()
		if err := st.CheckInvariant(); err != nil {
			t.Fatalf("%s: after %q: %v", path, cmd, err)
		}
		if !golden.Update() && strings.TrimSpace(want) != strings.TrimSpace(got) {
			t.Errorf("%s: %s\nwant:\n%s\ngot:\n%s", path, cmd, strings.TrimSpace(want), got)
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n\n", cmd, strings.TrimSpace(got))
	}
	if golden.Update() {
		os.WriteFile(path, []byte(strings.TrimSpace(out.String())+"\n"), 0o644)
	}
}

func parseTPs(s string) []TopicPartition {
	var out []TopicPartition
	for _, x := range strings.Split(s, ",") {
		if x == "" {
			continue
		}
		tn, ps, _ := strings.Cut(x, "/")
		p, _ := strconv.Atoi(ps)
		out = append(out, TopicPartition{tn, int32(p)})
	}
	return out
}

func fmtTPs(tps []TopicPartition) string {
	s := make([]string, len(tps))
	for i, tp := range tps {
		s[i] = tp.String()
	}
	return "[" + strings.Join(s, " ") + "]"
}

// replyLog collects the classic replies that arrive during a command.
type replyLog struct {
	n   int
	buf strings.Builder
}

func (r *replyLog) take() string {
	s := r.buf.String()
	r.buf.Reset()
	return s
}

func (r *replyLog) join() func(JoinResult) {
	r.n++
	n := r.n
	return func(res JoinResult) {
		fmt.Fprintf(&r.buf, "\n#%d join: ", n)
		if res.Err != nil {
			fmt.Fprintf(&r.buf, "error: %v", res.Err)
			return
		}
		fmt.Fprintf(&r.buf, "%s gen=%d protocol=%s/%s leader=%s", res.MemberID, res.Generation, res.ProtocolType, res.Protocol, res.Leader)
		if res.SkipAssignment {
			r.buf.WriteString(" skip-assignment")
		}
		for _, m := range res.Members {
			fmt.Fprintf(&r.buf, " [%s", m.ID)
			if m.InstanceID != "" {
				fmt.Fprintf(&r.buf, " instance=%s", m.InstanceID)
			}
			fmt.Fprintf(&r.buf, " %s]", m.Metadata)
		}
	}
}

func (r *replyLog) sync() func(SyncResult) {
	r.n++
	n := r.n
	return func(res SyncResult) {
		fmt.Fprintf(&r.buf, "\n#%d sync: ", n)
		if res.Err != nil {
			fmt.Fprintf(&r.buf, "error: %v", res.Err)
			return
		}
		fmt.Fprintf(&r.buf, "%s/%s %q", res.ProtocolType, res.Protocol, res.Assignment)
	}
}

func step(t *testing.T, st *State, now *time.Time, topics Topics, epochs map[string]int32, replies *replyLog, cmd string) string {
	f := strings.Fields(cmd)
	kv := map[string]string{}
	var pos []string
	for _, x := range f[1:] {
		if k, v, ok := strings.Cut(x, "="); ok {
			kv[k] = v
		} else {
			pos = append(pos, x)
		}
	}
	resp := func(r HeartbeatResponse, err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		epochs[r.MemberID] = r.Epoch
		return fmt.Sprintf("%s epoch=%d %s", r.MemberID, r.Epoch, fmtTPs(r.Assignment))
	}
	switch f[0] {
	case "topics":
		clear(topics)
		for k, v := range kv {
			n, _ := strconv.Atoi(v)
			topics[k] = int32(n)
		}
		st.Tick(*now, topics)
		return "ok"
	case "join":
		sub := &Subscription{Regex: kv["regex"], InstanceID: kv["instance"], Assignor: kv["assignor"]}
		if kv["topics"] != "" {
			sub.Topics = strings.Split(kv["topics"], ",")
		}
		if d := kv["timeout"]; d != "" {
			sub.SessionTimeout, _ = time.ParseDuration(d)
		}
		return resp(st.Heartbeat(*now, topics, HeartbeatRequest{Group: pos[0], Sub: sub}))
	case "heartbeat":
		req := HeartbeatRequest{Group: pos[0], MemberID: pos[1], Epoch: epochs[pos[1]]}
		if e, ok := kv["epoch"]; ok {
			n, _ := strconv.Atoi(e)
			req.Epoch = int32(n)
		}
		if o, ok := kv["owned"]; ok {
			req.Owned, req.OwnedReported = parseTPs(o), true
		}
		return resp(st.Heartbeat(*now, topics, req))
	case "leave":
		if err := st.Leave(*now, topics, pos[0], pos[1]); err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	case "advance":
		d, err := time.ParseDuration(pos[0])
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		*now = now.Add(d)
		st.Tick(*now, topics)
		return "ok"
	case "commit":
		e := epochs[pos[1]]
		if v, ok := kv["epoch"]; ok {
			n, _ := strconv.Atoi(v)
			e = int32(n)
		}
		if err := st.CheckCommit(pos[0], pos[1], e, parseTPs(pos[2])); err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	case "delay":
		d, err := time.ParseDuration(pos[0])
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		st.cfg.InitialRebalanceDelay = d
		return "ok"
	case "cjoin":
		req := JoinRequest{Group: pos[0], MemberID: kv["member"], InstanceID: kv["instance"], ProtocolType: "consumer",
			SessionTimeout: 10 * time.Second, RebalanceTimeout: 10 * time.Second, RequireKnownMemberID: slices.Contains(pos, "known")}
		if v, ok := kv["type"]; ok {
			req.ProtocolType = v
		}
		protocols := "range"
		if v, ok := kv["protocols"]; ok {
			protocols = v
		}
		for _, p := range strings.Split(protocols, ",") {
			if p != "" {
				req.Protocols = append(req.Protocols, ClassicProtocol{Name: p, Metadata: []byte(p + "-meta" + kv["meta"])})
			}
		}
		if v := kv["topics"]; v != "" {
			req.Topics = strings.Split(v, ",")
		}
		if v := kv["session"]; v != "" {
			req.SessionTimeout, _ = time.ParseDuration(v)
		}
		if v := kv["rebalance"]; v != "" {
			req.RebalanceTimeout, _ = time.ParseDuration(v)
		}
		st.JoinClassic(*now, req, replies.join())
		return fmt.Sprintf("#%d sent", replies.n)
	case "csync":
		gen, _ := strconv.Atoi(kv["gen"])
		req := SyncRequest{Group: pos[0], MemberID: pos[1], InstanceID: kv["instance"], Generation: int32(gen)}
		if v := kv["assign"]; v != "" {
			req.Assignments = map[string][]byte{}
			req.Decoded = map[string][]TopicPartition{}
			for _, a := range strings.Split(v, ";") {
				id, tps, _ := strings.Cut(a, ":")
				req.Assignments[id] = []byte(tps)
				req.Decoded[id] = parseTPs(tps)
			}
		}
		st.SyncClassic(*now, req, replies.sync())
		return fmt.Sprintf("#%d sent", replies.n)
	case "cheartbeat":
		gen, _ := strconv.Atoi(kv["gen"])
		if err := st.HeartbeatClassic(*now, pos[0], pos[1], kv["instance"], int32(gen)); err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	case "cleave":
		var ls []LeaveMember
		if len(pos) > 1 {
			for _, id := range strings.Split(pos[1], ",") {
				ls = append(ls, LeaveMember{MemberID: id})
			}
		}
		if v := kv["instance"]; v != "" {
			ls = append(ls, LeaveMember{InstanceID: v})
		}
		errs, err := st.LeaveClassic(*now, pos[0], ls)
		if err != nil {
			return "error: " + err.Error()
		}
		var b strings.Builder
		b.WriteString("ok")
		for i, e := range errs {
			if e != nil {
				fmt.Fprintf(&b, "\n  %d: %v", i, e)
			}
		}
		return b.String()
	case "kcommit":
		gen, _ := strconv.Atoi(kv["gen"])
		m := pos[1]
		if m == "-" {
			m = ""
		}
		if err := st.CheckKafkaCommit(pos[0], m, kv["instance"], int32(gen), nil); err != nil {
			return "error: " + err.Error()
		}
		return "ok"
	case "cdescribe":
		gi, ok := st.DescribeClassic(pos[0])
		var b strings.Builder
		fmt.Fprintf(&b, "%s known=%v state=%s gen=%d protocol=%s/%s leader=%s", gi.ID, ok, gi.State, gi.Generation, gi.ProtocolType, gi.Protocol, gi.Leader)
		for _, m := range gi.Members {
			fmt.Fprintf(&b, "\n  %s", m.ID)
			if m.InstanceID != "" {
				fmt.Fprintf(&b, " instance=%s", m.InstanceID)
			}
			fmt.Fprintf(&b, " topics=%v meta=%q assignment=%q held=%s", m.Topics, m.Metadata, m.Assignment, fmtTPs(m.Held))
		}
		return b.String()
	case "describe":
		gi, _ := st.Describe(pos[0])
		var b strings.Builder
		fmt.Fprintf(&b, "%s state=%s epoch=%d assignor=%s", gi.ID, gi.State, gi.Epoch, gi.Assignor)
		for _, m := range gi.Members {
			fmt.Fprintf(&b, "\n  %s epoch=%d held=%s target=%s", m.ID, m.Epoch, fmtTPs(m.Held), fmtTPs(m.Target))
		}
		return b.String()
	}
	t.Fatalf("unknown command %q", cmd)
	return ""
}
