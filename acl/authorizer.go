package acl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/sluicehq/sluice/auth"
	"github.com/sluicehq/sluice/internal/reqid"
)

// ErrDenied marks every refusal; *DeniedError carries its details.
var ErrDenied = errors.New("not authorized")

// DeniedError is a refused check: who asked for what on which resource.
type DeniedError struct {
	// Principal is the principal's name; "" for an anonymous request.
	Principal string
	// Operation and Resource are what was asked.
	Operation Operation
	Resource  Resource
}

// Error reads `principal "alice" is not authorized to write topic "orders"`.
func (e *DeniedError) Error() string {
	who := "anonymous request"
	if e.Principal != "" {
		who = fmt.Sprintf("principal %q", e.Principal)
	}
	return fmt.Sprintf("%s is not authorized to %s %s", who, e.Operation, e.Resource)
}

// Is makes errors.Is(err, ErrDenied) true.
func (e *DeniedError) Is(target error) bool { return target == ErrDenied }

// Store keeps the rules. Implementations are safe for concurrent use; the
// Authorizer serialises its writes. One conformance suite (acltest) runs
// against every implementation.
type Store interface {
	// Load returns every stored rule.
	Load(ctx context.Context) ([]Rule, error)
	// Add stores rules, all or none; a rule stored already is left as is.
	Add(ctx context.Context, rules []Rule) error
	// Remove deletes rules, all or none; a rule not stored is ignored.
	Remove(ctx context.Context, rules []Rule) error
}

// Watcher is implemented by a Store that several nodes share (MetaStore
// on PostgreSQL): Watch calls changed whenever another node may have
// changed the rules, until ctx ends, and reports a lost connection to
// warn. The Authorizer reloads its cache on each call.
type Watcher interface {
	Watch(ctx context.Context, changed func(), warn func(msg string, err error))
}

// Config configures an Authorizer.
type Config struct {
	// Store keeps the rules. Required.
	Store Store
	// Enforce turns checks on: the node enforces ACLs exactly when it
	// authenticates (an auth file is configured). Off, every check passes
	// and the rules can still be managed.
	Enforce bool
	// Logger receives one Info line per refusal; nil discards.
	Logger *slog.Logger
}

// Authorizer makes every authorization decision of a node over the cached
// rule set. Its methods are safe for concurrent use. A nil *Authorizer
// allows everything (a transport built without one).
type Authorizer struct {
	cfg   Config
	log   *slog.Logger
	mu    sync.Mutex // serialises writes: store, then cache
	rules atomic.Pointer[ruleSet]

	// stop ends the watch of a shared store; watching is closed when it
	// has returned.
	stop     context.CancelFunc
	watching chan struct{}
}

// New loads the rules from cfg.Store. When the store is shared by several
// nodes (it implements Watcher), the Authorizer follows the other nodes'
// writes until Close.
func New(ctx context.Context, cfg Config) (*Authorizer, error) {
	if cfg.Store == nil {
		return nil, errors.New("acl: Config.Store is nil")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &Authorizer{cfg: cfg, log: cfg.Logger}
	if err := a.Reload(ctx); err != nil {
		return nil, err
	}
	if w, ok := cfg.Store.(Watcher); ok {
		wctx, cancel := context.WithCancel(context.Background())
		a.stop, a.watching = cancel, make(chan struct{})
		go func() {
			defer close(a.watching)
			w.Watch(wctx, func() {
				if err := a.Reload(wctx); err != nil && wctx.Err() == nil {
					a.log.Warn("acl: cannot reload the rules another node may have changed; checks use the rules loaded before", "err", err)
				}
			}, func(msg string, err error) { a.log.Warn(msg, "err", err) })
		}()
	}
	return a, nil
}

// Close stops following a shared store's changes; checks go on with the
// rules loaded last. A nil Authorizer, or one over an unshared store, has
// nothing to stop.
func (a *Authorizer) Close() {
	if a == nil || a.stop == nil {
		return
	}
	a.stop()
	<-a.watching
}

// Reload replaces the cache with the store's rules (for a store shared by
// several nodes).
func (a *Authorizer) Reload(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	rules, err := a.cfg.Store.Load(ctx)
	if err != nil {
		return fmt.Errorf("acl: load rules: %w", err)
	}
	a.rules.Store(newRuleSet(rules))
	return nil
}

// Enforcing reports whether checks are on. A nil Authorizer is not.
func (a *Authorizer) Enforcing() bool { return a != nil && a.cfg.Enforce }

// Decide answers whether the principal of ctx (auth.FromContext) may
// perform op on res; with checks off everything is allowed.
func (a *Authorizer) Decide(ctx context.Context, op Operation, res Resource) Decision {
	if !a.Enforcing() {
		return Decision{Allowed: true}
	}
	p, _ := auth.FromContext(ctx)
	return a.rules.Load().decide(p.Name, p.Superuser, op, res)
}

// Allowed is Decide's answer alone, without logging a refusal: for
// filtering lists (Kafka Metadata, subject listings).
func (a *Authorizer) Allowed(ctx context.Context, op Operation, res Resource) bool {
	return a.Decide(ctx, op, res).Allowed
}

// Authorize returns nil when the principal of ctx may perform op on res,
// and otherwise a *DeniedError, logged at Info with the request's identity
// from ctx (package reqid: the HTTP request id, or the Kafka connection,
// correlation and client ids).
func (a *Authorizer) Authorize(ctx context.Context, op Operation, res Resource) error {
	if a.Decide(ctx, op, res).Allowed {
		return nil
	}
	p, _ := auth.FromContext(ctx)
	err := &DeniedError{Principal: p.Name, Operation: op, Resource: res}
	attrs := append(reqid.Attrs(ctx), // the request: its id, or its Kafka connection and correlation id
		slog.String("principal", p.Name), slog.String("operation", op.String()),
		slog.String("resource_type", res.Type.String()), slog.String("resource", res.Name))
	a.log.LogAttrs(ctx, slog.LevelInfo, "request refused by ACL", attrs...)
	return err
}

// AuthorizeAny returns nil when the principal of ctx may perform op on at
// least one of resources (reading a schema by id: one of its subjects),
// and otherwise the refusal for the first, logged. No resources: nil.
func (a *Authorizer) AuthorizeAny(ctx context.Context, op Operation, resources []Resource) error {
	if len(resources) == 0 {
		return nil
	}
	for _, r := range resources {
		if a.Allowed(ctx, op, r) {
			return nil
		}
	}
	return a.Authorize(ctx, op, resources[0])
}

// Rules returns the rules f selects, in a stable order (resource type,
// name, principal, operation, permission). The caller owns the slice.
func (a *Authorizer) Rules(f Filter) []Rule {
	var out []Rule
	for _, r := range a.rules.Load().all {
		if f.Matches(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, compareRules)
	return out
}

// Create validates rules (every problem named) and stores them, all or
// none. Rules stored already are not duplicated.
func (a *Authorizer) Create(ctx context.Context, rules []Rule) error {
	var errs []error
	norm := make([]Rule, 0, len(rules))
	for _, r := range rules {
		r = r.Normalize()
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
		}
		norm = append(norm, r)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.cfg.Store.Add(ctx, norm); err != nil {
		return fmt.Errorf("acl: store rules: %w", err)
	}
	next := slices.Clone(a.rules.Load().all)
	for _, r := range norm {
		if !slices.Contains(next, r) {
			next = append(next, r)
		}
	}
	a.rules.Store(newRuleSet(next))
	return nil
}

// Delete removes every rule f selects and returns them. It selects among
// the stored rules (read again: another node sharing the store may have
// added some the cache does not have yet).
func (a *Authorizer) Delete(ctx context.Context, f Filter) ([]Rule, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur, err := a.cfg.Store.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("acl: load rules: %w", err)
	}
	var gone, keep []Rule
	for _, r := range cur {
		if f.Matches(r) {
			gone = append(gone, r)
		} else {
			keep = append(keep, r)
		}
	}
	if len(gone) == 0 {
		a.rules.Store(newRuleSet(keep))
		return nil, nil
	}
	if err := a.cfg.Store.Remove(ctx, gone); err != nil {
		return nil, fmt.Errorf("acl: delete rules: %w", err)
	}
	a.rules.Store(newRuleSet(keep))
	slices.SortFunc(gone, compareRules)
	return gone, nil
}

func compareRules(x, y Rule) int {
	switch {
	case x.Resource != y.Resource:
		return int(x.Resource) - int(y.Resource)
	case x.Name != y.Name:
		if x.Name < y.Name {
			return -1
		}
		return 1
	case x.Pattern != y.Pattern:
		return int(x.Pattern) - int(y.Pattern)
	case x.Principal != y.Principal:
		if x.Principal < y.Principal {
			return -1
		}
		return 1
	case x.Operation != y.Operation:
		return int(x.Operation) - int(y.Operation)
	}
	return int(x.Permission) - int(y.Permission)
}
