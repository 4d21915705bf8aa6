package console

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/registry/compat"
	"github.com/sluicehq/sluice/serde"
	"github.com/sluicehq/sluice/srclient"
)

// This file is the subjects pages, over the Confluent REST API: the list;
// a subject's versions, one version's schema text (highlighted), its
// references, metadata and rule set, and the subject's compatibility level
// with a form to change it; the diff between two versions with each
// change marked breaking or safe under the level (package evolution, the
// engine of `sluice schema diff`); and a candidate schema tested against
// the subject (the registry's compatibility endpoint, and the diff from
// the latest version).

type subjectListData struct {
	Subjects []subjectRow
}

type subjectRow struct {
	Name     string
	Versions []int
}

func (c *Console) subjects(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var names []string
	if err := c.sr.Do(ctx, http.MethodGet, "/subjects", nil, nil, &names); err != nil {
		c.apiFail(w, r, "subjects", err)
		return
	}
	sort.Strings(names)
	d := subjectListData{}
	for _, n := range names {
		row := subjectRow{Name: n}
		c.sr.Do(ctx, http.MethodGet, "/subjects/"+escapeSegment(n)+"/versions", nil, nil, &row.Versions)
		d.Subjects = append(d.Subjects, row)
	}
	c.render(w, r, http.StatusOK, "subjects", page{Title: "Subjects", Section: "subjects", Data: d})
}

type subjectData struct {
	Name     string
	Versions []int
	// Schema is the version shown.
	Schema *srclient.Schema
	Lang   string // json or proto, for highlighting
	// Level is the effective level; Own the subject's own ("" inherits).
	Level, Own string
	Levels     []compat.Level
	RuleSet    string
	Metadata   string
	// Old and New preselect the diff form: the version before the shown
	// one, and the shown one.
	Old, New int
	// Candidate is the test form's text and type after a test.
	Candidate     string
	CandidateType string
	Test          *testResult
}

// testResult is a candidate schema's verdict.
type testResult struct {
	Compatible bool
	Messages   []string
	Diff       *evolution.DiffReport
	DiffErr    string
}

func (c *Console) subject(w http.ResponseWriter, r *http.Request) {
	d, ok := c.subjectPage(w, r)
	if !ok {
		return
	}
	c.render(w, r, http.StatusOK, "subject", page{Title: "Subject " + d.Name, Section: "subjects", Data: d, Flash: r.URL.Query().Get("done")})
}

// subjectPage reads what the subject page shows.
func (c *Console) subjectPage(w http.ResponseWriter, r *http.Request) (*subjectData, bool) {
	ctx := r.Context()
	name := r.PathValue("subject")
	d := &subjectData{Name: name, Levels: compat.Levels}
	sp := "/subjects/" + escapeSegment(name)
	if err := c.sr.Do(ctx, http.MethodGet, sp+"/versions", nil, nil, &d.Versions); err != nil {
		c.apiFail(w, r, "subject "+name, err)
		return nil, false
	}
	version := r.URL.Query().Get("version")
	if version == "" {
		version = "latest"
	}
	var s srclient.Schema
	if err := c.sr.Do(ctx, http.MethodGet, sp+"/versions/"+url.PathEscape(version), nil, nil, &s); err != nil {
		c.apiFail(w, r, "subject "+name+" version "+version, err)
		return nil, false
	}
	d.Schema = &s
	d.Lang = "json"
	if s.TypeName() == "PROTOBUF" {
		d.Lang = "proto"
	}
	d.Schema.Schema = prettySchema(d.Lang, s.Schema)
	d.RuleSet = prettyJSON(s.RuleSet)
	d.Metadata = prettyJSON(s.Metadata)
	cfg, err := srclient.NewReader(c.sr).Config(ctx, name)
	if err != nil {
		c.apiFail(w, r, "subject "+name, err)
		return nil, false
	}
	d.Level, d.Own = string(cfg.Level), string(cfg.Own)
	d.New = s.Version
	for _, v := range d.Versions {
		if v < s.Version {
			d.Old = v
		}
	}
	if d.Old == 0 {
		d.Old = s.Version
	}
	d.CandidateType = s.TypeName()
	return d, true
}

// prettySchema indents a JSON schema text (Avro, JSON Schema) for reading;
// Protobuf text stays as registered.
func prettySchema(lang, text string) string {
	if lang != "json" {
		return text
	}
	return prettyJSON(json.RawMessage(text))
}

// prettyJSON indents a JSON document as it was written: its keys keep
// their order and its strings their characters (a rule's "a > 0" stays
// so; re-encoding would sort the keys and write \u003e). Text that is
// not JSON is returned as it is; null or nothing is "".
func prettyJSON(raw json.RawMessage) string {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, trimmed, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

// setLevel sets the subject's compatibility level (PUT /config/{subject}),
// or, with "inherit", removes its own (DELETE /config/{subject}).
func (c *Console) setLevel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("subject")
	level := r.FormValue("level")
	sp := "/config/" + escapeSegment(name)
	var err error
	done := "level set to " + level
	if level == "inherit" {
		err = c.sr.Do(ctx, http.MethodDelete, sp, nil, nil, nil)
		done = "the subject now inherits the global level"
	} else if _, perr := compat.ParseLevel(level); perr != nil {
		c.fail(w, r, http.StatusBadRequest, fmt.Errorf("level %q: %v", level, perr))
		return
	} else {
		err = c.sr.Do(ctx, http.MethodPut, sp, nil, map[string]string{"compatibility": level}, nil)
	}
	if err != nil {
		c.apiFail(w, r, "subject "+name+": setting its level", err)
		return
	}
	http.Redirect(w, r, path("subjects", name)+"?done="+url.QueryEscape(done), http.StatusSeeOther)
}

type diffData struct {
	Name     string
	Versions []int
	Old, New int
	Level    string
	Levels   []compat.Level
	Report   *evolution.DiffReport
	OldText  string
	NewText  string
	Lang     string
}

// diff shows every change between two versions of the subject, each
// marked breaking or safe under the level (?level=, else the subject's).
func (c *Console) diff(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("subject")
	q := r.URL.Query()
	d := diffData{Name: name, Levels: compat.Levels}
	if err := c.sr.Do(ctx, http.MethodGet, "/subjects/"+escapeSegment(name)+"/versions", nil, nil, &d.Versions); err != nil {
		c.apiFail(w, r, "subject "+name, err)
		return
	}
	var err error
	if d.Old, err = versionParam(q.Get("old"), d.Versions); err != nil {
		c.fail(w, r, http.StatusBadRequest, fmt.Errorf("old: %w", err))
		return
	}
	if d.New, err = versionParam(q.Get("new"), d.Versions); err != nil {
		c.fail(w, r, http.StatusBadRequest, fmt.Errorf("new: %w", err))
		return
	}
	var level compat.Level
	if l := q.Get("level"); l != "" {
		if level, err = compat.ParseLevel(l); err != nil {
			c.fail(w, r, http.StatusBadRequest, fmt.Errorf("level %q: %v", l, err))
			return
		}
	}
	reader := srclient.NewReader(c.sr)
	sides, level, err := evolution.ResolveOperands(ctx, reader,
		[2]string{fmt.Sprintf("%s:%d", name, d.Old), fmt.Sprintf("%s:%d", name, d.New)}, level)
	if err != nil {
		c.apiFail(w, r, "subject "+name, err)
		return
	}
	rep, err := evolution.Diff(level, sides[0], sides[1])
	if err != nil {
		c.fail(w, r, http.StatusUnprocessableEntity, fmt.Errorf("diff of %s versions %d and %d: %w", name, d.Old, d.New, err))
		return
	}
	d.Report, d.Level = rep, string(level)
	d.Lang = "json"
	if sides[0].Format == serde.Protobuf {
		d.Lang = "proto"
	}
	d.OldText, d.NewText = prettySchema(d.Lang, sides[0].Text), prettySchema(d.Lang, sides[1].Text)
	title := fmt.Sprintf("Diff of %s: version %d to %d", name, d.Old, d.New)
	c.render(w, r, http.StatusOK, "diff", page{Title: title, Section: "subjects", Data: d})
}

// versionParam reads a version number of the subject ("" or latest is
// the newest).
func versionParam(s string, versions []int) (int, error) {
	if len(versions) == 0 {
		return 0, badRequest("the subject has no versions")
	}
	if s == "" || s == "latest" {
		return versions[len(versions)-1], nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, badRequest("version %q: want a number or latest", s)
	}
	for _, v := range versions {
		if v == n {
			return n, nil
		}
	}
	return 0, badRequest("version %d: the subject has versions %s", n, joinInts(versions))
}

// testCandidate checks a pasted schema against the subject: the registry's
// verdict (POST /compatibility/subjects/{subject}/versions/latest with
// verbose=true), and the diff from the latest version.
func (c *Console) testCandidate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d, ok := c.subjectPage(w, r)
	if !ok {
		return
	}
	d.Candidate = r.FormValue("schema")
	typ := strings.ToUpper(strings.TrimSpace(r.FormValue("type")))
	if typ == "" {
		typ = d.Schema.TypeName()
	}
	d.CandidateType = typ
	status := http.StatusOK
	res, err := c.checkCandidate(ctx, d.Name, typ, d.Candidate, d.Schema)
	if err != nil {
		status = statusOf(err)
		c.render(w, r, status, "subject", page{Title: "Subject " + d.Name, Section: "subjects", Data: d, Err: "candidate: " + messageOf(err)})
		return
	}
	d.Test = res
	c.render(w, r, status, "subject", page{Title: "Subject " + d.Name, Section: "subjects", Data: d})
}

func (c *Console) checkCandidate(ctx context.Context, subject, typ, text string, latest *srclient.Schema) (*testResult, error) {
	if strings.TrimSpace(text) == "" {
		return nil, badRequest("paste a schema to test")
	}
	body := map[string]any{"schema": text}
	if typ != "AVRO" {
		body["schemaType"] = typ
	}
	if len(latest.References) > 0 {
		body["references"] = latest.References
	}
	var verdict struct {
		Compatible bool     `json:"is_compatible"`
		Messages   []string `json:"messages"`
	}
	q := url.Values{"verbose": {"true"}}
	if err := c.sr.Do(ctx, http.MethodPost, "/compatibility/subjects/"+escapeSegment(subject)+"/versions/latest", q, body, &verdict); err != nil {
		return nil, err
	}
	res := &testResult{Compatible: verdict.Compatible, Messages: verdict.Messages}
	// The diff from the latest version, under the subject's level.
	reader := srclient.NewReader(c.sr)
	sides, level, err := evolution.ResolveOperands(ctx, reader, [2]string{fmt.Sprintf("%s:%d", subject, latest.Version), fmt.Sprintf("%s:%d", subject, latest.Version)}, "")
	if err != nil {
		res.DiffErr = messageOf(err)
		return res, nil
	}
	parsed, err := srclient.ParseSchema(typ, text, sides[0].Refs)
	if err != nil {
		res.DiffErr = "the candidate does not parse: " + err.Error()
		return res, nil
	}
	cand := &evolution.Operand{Arg: "candidate", Text: text, Format: parsed.Format(), Schema: parsed, Refs: sides[0].Refs}
	if res.Diff, err = evolution.Diff(level, sides[0], cand); err != nil {
		res.DiffErr = err.Error()
	}
	return res, nil
}
