// Package connect runs Sluice's connectors: the PostgreSQL sink (package
// pgsink: a typed topic into a table) and the PostgreSQL source (package
// pgsource: change data capture into typed topics), declared in a YAML file
// that `sluice connect run` reads (a connectors: list, alone in its file or
// inside sluice.yaml):
//
//	connectors:
//	  - name: orders-to-pg
//	    type: postgres-sink
//	    postgres: postgres://app@localhost/shop
//	    topic: orders
//	    key_column: id
//	  - name: shop-cdc
//	    type: postgres-source
//	    postgres: postgres://app@localhost/shop
//	    tables: [public.customers]
//	    topic_prefix: shop.
//
// A ${NAME} in any value of the file is replaced by the environment
// variable NAME, so that the file need not hold passwords; the variable's
// text is taken as it is, never read as YAML.
//
// Each connector keeps its position in PostgreSQL (the sink's offsets in
// the target database, the source's in its replication slot), so Status
// can report it without the running process, and a restart resumes there.
package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/connect/pgsink"
	"github.com/sluicehq/sluice/connect/pgsource"
)

// The connector types.
const (
	TypePostgresSink   = "postgres-sink"
	TypePostgresSource = "postgres-source"
)

// Connector is one declared connector: exactly one of Sink and Source is
// set, by its type.
type Connector struct {
	Name string
	Type string
	// Line is the connector's line in its file.
	Line   int
	Sink   *pgsink.Config
	Source *pgsource.Config
}

// File is a parsed connectors file.
type File struct {
	Connectors []Connector
}

// Load reads and parses the connectors of the YAML file at path.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

// Parse parses the connectors: list of a YAML document; other top-level
// keys (those of sluice.yaml) are ignored. Every problem is reported with
// its line, the connector's unknown keys included.
func Parse(file string, data []byte) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	// After parsing, so that a value (a password with "#" or ": ") is
	// never read as YAML, and lines stay where they are.
	expandEnv(&root)
	var doc struct {
		Connectors []yaml.Node `yaml:"connectors"`
	}
	if root.Kind != 0 {
		if err := root.Decode(&doc); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	if len(doc.Connectors) == 0 {
		return nil, fmt.Errorf("%s: no connectors: want a connectors: list", file)
	}
	var errs []string
	f := &File{}
	seen := map[string]int{}
	for i := range doc.Connectors {
		n := &doc.Connectors[i]
		var head struct {
			Name string `yaml:"name"`
			Type string `yaml:"type"`
		}
		if err := n.Decode(&head); err != nil {
			errs = append(errs, fmt.Sprintf("%s:%d: %v", file, n.Line, err))
			continue
		}
		c := Connector{Name: head.Name, Type: head.Type, Line: n.Line}
		where := fmt.Sprintf("%s:%d: connector %q", file, n.Line, head.Name)
		if head.Name == "" {
			errs = append(errs, fmt.Sprintf("%s:%d: connector %d has no name", file, n.Line, i+1))
		} else if prev, ok := seen[head.Name]; ok {
			errs = append(errs, fmt.Sprintf("%s: declared twice (first at line %d)", where, prev))
		}
		seen[head.Name] = n.Line
		body := withoutKey(n, "type")
		var err error
		switch head.Type {
		case TypePostgresSink:
			c.Sink = &pgsink.Config{}
			err = strictDecode(body, c.Sink)
		case TypePostgresSource:
			c.Source = &pgsource.Config{}
			err = strictDecode(body, c.Source)
		default:
			err = fmt.Errorf("type %q: want %s or %s", head.Type, TypePostgresSink, TypePostgresSource)
		}
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", where, strings.TrimPrefix(err.Error(), "yaml: ")))
			continue
		}
		f.Connectors = append(f.Connectors, c)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	return f, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces each ${NAME} in the scalars of n (keys and values)
// with the environment variable NAME (empty when unset), so files need not
// hold database passwords. Other uses of $ are left alone.
func expandEnv(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(m string) string {
			return os.Getenv(m[2 : len(m)-1])
		})
	}
	for _, c := range n.Content {
		expandEnv(c)
	}
}

// withoutKey is a copy of mapping n without key.
func withoutKey(n *yaml.Node, key string) *yaml.Node {
	cp := *n
	cp.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			continue
		}
		cp.Content = append(cp.Content, n.Content[i], n.Content[i+1])
	}
	return &cp
}

// strictDecode decodes mapping n into v (a pointer to a struct with yaml
// tags), refusing keys v does not have, each named with its line.
func strictDecode(n *yaml.Node, v any) error {
	t := reflect.TypeOf(v).Elem()
	var known []string
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); tag != "" && tag != "-" {
			known = append(known, tag)
		}
	}
	var errs []string
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !slices.Contains(known, k.Value) {
				errs = append(errs, fmt.Sprintf("line %d: unknown key %q: want %s", k.Line, k.Value, strings.Join(known, ", ")))
			}
		}
	}
	if err := n.Decode(v); err != nil {
		errs = append(errs, strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n  "))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// runner is what Run starts per connector.
type runner interface {
	Run(ctx context.Context) error
}

// Run runs the file's connectors (only those named in only, when not
// empty) through conn until ctx is done or one fails; a failure stops the
// others and is returned. logger may be nil.
func Run(ctx context.Context, f *File, conn *client.Conn, logger *slog.Logger, only ...string) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var runners []runner
	for _, c := range f.Connectors {
		if len(only) > 0 && !contains(only, c.Name) {
			continue
		}
		var (
			r   runner
			err error
		)
		switch {
		case c.Sink != nil:
			r, err = pgsink.New(*c.Sink, conn, logger)
		case c.Source != nil:
			r, err = pgsource.New(*c.Source, conn, logger)
		}
		if err != nil {
			return err
		}
		runners = append(runners, r)
	}
	if len(runners) == 0 {
		return fmt.Errorf("no connector to run (named: %s)", strings.Join(only, ", "))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.Run(ctx); err != nil {
				once.Do(func() { first = err })
				cancel()
			}
		}()
	}
	wg.Wait()
	return first
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
