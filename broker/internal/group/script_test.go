package group

import (
	"fmt"
	"os"
	"path/filepath"
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
	var out strings.Builder
	blocks := strings.Split(strings.TrimSpace(string(data)), "\n\n")
	for _, blk := range blocks {
		cmd, want, _ := strings.Cut(blk, "\n----")
		cmd = strings.TrimSpace(cmd)
		got := step(t, st, &now, topics, epochs, cmd)
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

func step(t *testing.T, st *State, now *time.Time, topics Topics, epochs map[string]int32, cmd string) string {
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
