// Package logcapture records the lines of a slog.Logger for tests that
// check what a component logs: each line's message, level and attributes
// (those given to Logger.With included), flattened to strings.
package logcapture

import (
	"context"
	"log/slog"
	"slices"
	"sync"
)

// Line is one recorded log line.
type Line struct {
	Level   slog.Level
	Message string
	// Attrs maps each attribute's key (groups joined with ".") to its
	// value's string form.
	Attrs map[string]string
}

// Recorder keeps every line logged through its Logger. Safe for
// concurrent use.
type Recorder struct {
	mu    sync.Mutex
	lines []Line
}

// Logger returns a logger, at every level from min up, recording into r.
func (r *Recorder) Logger(min slog.Level) *slog.Logger {
	return slog.New(&handler{r: r, min: min})
}

// Lines returns the lines with message msg, oldest first ("" for all).
func (r *Recorder) Lines(msg string) []Line {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Line
	for _, l := range r.lines {
		if msg == "" || l.Message == msg {
			out = append(out, l)
		}
	}
	return out
}

type handler struct {
	r     *Recorder
	min   slog.Level
	attrs []slog.Attr
	group string
}

func (h *handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *handler) Handle(_ context.Context, rec slog.Record) error {
	l := Line{Level: rec.Level, Message: rec.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		flatten(l.Attrs, "", a)
	}
	rec.Attrs(func(a slog.Attr) bool {
		flatten(l.Attrs, h.group, a)
		return true
	})
	h.r.mu.Lock()
	h.r.lines = append(h.r.lines, l)
	h.r.mu.Unlock()
	return nil
}

func flatten(m map[string]string, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	key := a.Key
	if prefix != "" {
		key = prefix + "." + key
	}
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			flatten(m, key, g)
		}
		return
	}
	m[key] = a.Value.String()
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = slices.Clone(h.attrs)
	for _, a := range as {
		if h.group != "" {
			a = slog.Group(h.group, a)
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}
