package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"connectrpc.com/connect"

	brokerv1 "github.com/sluicehq/sluice/proto/gen/sluice/broker/v1"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/srclient"
)

// This file is the topic page: partitions (log start offset, high
// watermark, size), the topic's configs with a form to set or remove one
// (TopicService.AlterTopicConfigs refuses what may not change, and its
// message is shown), and the key and value subjects its subject-name
// strategy names.

type topicData struct {
	Name, ID       string
	Partitions     []*brokerv1.PartitionDescription
	Records, Bytes int64
	Configs        []kv
	// Subjects are the topic's key and value subjects under the topic
	// name strategy, with whether the registry has them.
	Subjects []topicSubject
	// Strategy notes a record-name strategy, whose subjects depend on the
	// record.
	Strategy string
}

type kv struct{ Key, Value string }

type topicSubject struct {
	Side, Name string
	Versions   []int
	Err        string
}

func (c *Console) topic(w http.ResponseWriter, r *http.Request) {
	c.renderTopic(w, r, http.StatusOK, r.URL.Query().Get("done"), "")
}

// renderTopic shows the topic page with an action's flash or error.
func (c *Console) renderTopic(w http.ResponseWriter, r *http.Request, status int, flash, errText string) {
	ctx := r.Context()
	name := r.PathValue("topic")
	res, err := c.topics.DescribeTopic(ctx, connect.NewRequest(&brokerv1.DescribeTopicRequest{Name: name}))
	if err != nil {
		c.apiFail(w, r, "topic "+name, err)
		return
	}
	t := res.Msg.GetTopic()
	d := topicData{Name: t.GetName(), ID: t.GetTopicId(), Partitions: t.GetPartitions()}
	for _, p := range d.Partitions {
		d.Records += p.GetHighWatermark() - p.GetLogStartOffset()
		d.Bytes += p.GetSizeBytes()
	}
	for k, v := range t.GetConfigs() {
		d.Configs = append(d.Configs, kv{k, v})
	}
	sort.Slice(d.Configs, func(i, j int) bool { return d.Configs[i].Key < d.Configs[j].Key })
	for _, side := range []serde.Side{serde.Key, serde.Value} {
		st := serde.TopicName
		if v := strings.TrimSpace(t.GetConfigs()[side.String()+".subject.name.strategy"]); v != "" {
			if s, err := serde.ParseStrategy(v); err == nil {
				st = s
			}
		}
		if st.NeedsRecordName() {
			d.Strategy = fmt.Sprintf("%s subjects follow %s: one per record type", side, st)
			continue
		}
		subj, _ := st.Subject(name, side, "")
		ts := topicSubject{Side: side.String(), Name: subj}
		var vs []int
		err := c.sr.Do(ctx, http.MethodGet, "/subjects/"+escapeSegment(subj)+"/versions", nil, nil, &vs)
		switch code := srCode(err); {
		case err == nil:
			ts.Versions = vs
		case code == 40401 || code == 404:
		default:
			ts.Err = message(err)
		}
		d.Subjects = append(d.Subjects, ts)
	}
	c.render(w, r, status, "topic", page{Title: "Topic " + name, Section: "topics", Data: d, Flash: flash, Err: errText})
}

// alterConfigs sets (value given) or removes (value empty) one topic
// config through TopicService.AlterTopicConfigs.
func (c *Console) alterConfigs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("topic")
	key := strings.TrimSpace(r.FormValue("key"))
	value := strings.TrimSpace(r.FormValue("value"))
	if key == "" {
		c.renderTopic(w, r, http.StatusBadRequest, "", "config: no key given")
		return
	}
	req := &brokerv1.AlterTopicConfigsRequest{Name: name}
	what := fmt.Sprintf("set %s=%s", key, value)
	if value == "" || r.FormValue("remove") != "" {
		req.Delete = []string{key}
		what = "removed " + key
	} else {
		req.Set = map[string]string{key: value}
	}
	if _, err := c.topics.AlterTopicConfigs(r.Context(), connect.NewRequest(req)); err != nil {
		c.renderTopic(w, r, statusOf(err), "", "config "+key+": "+message(err))
		return
	}
	http.Redirect(w, r, path("topics", name)+"?done="+url.QueryEscape(what), http.StatusSeeOther)
}

// srCode is the registry error code of err, or 0.
func srCode(err error) int { return srclient.Code(err) }
