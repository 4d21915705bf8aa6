package main

// `sluice acl create|list|delete` over the AclService (DESIGN.md §10).

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"connectrpc.com/connect"

	"github.com/sluicehq/sluice/acl"
	aclrpc "github.com/sluicehq/sluice/acl/rpc"
	aclv1 "github.com/sluicehq/sluice/proto/gen/sluice/acl/v1"
	"github.com/sluicehq/sluice/proto/gen/sluice/acl/v1/aclv1connect"
)

const aclUsage = `Usage: sluice acl <subcommand> [flags]

Subcommands:
  create   store rules: --principal and one resource flag are required, and
           --operation (one or more, comma-separated); --deny for deny rules
  list     list the rules the flags select (all without flags)
  delete   delete the rules the flags select; --all to delete every rule

A resource is one of --topic NAME, --subject NAME, --group NAME,
--transactional-id NAME or --cluster; NAME "*" is every resource of the
type, and --prefix makes NAME a prefix. Operations: read, write, create,
delete, alter, describe, all (read, write, delete and alter imply describe).
A deny wins over any allow; superusers pass every check. Managing rules needs
alter on the cluster, listing them describe on the cluster.

In list and delete, --topic NAME selects the rules named NAME (literal or
prefixed), --prefix only prefixed ones, --match every rule that applies to
the resource NAME.

Examples:
  sluice acl create --principal alice --topic orders --operation write,read
  sluice acl create --principal '*' --topic audit- --prefix --operation read --deny
  sluice acl list --principal alice
  sluice acl delete --principal alice --topic orders --operation write

Flags:
`

// aclFlags are the rule and filter flags.
type aclFlags struct {
	principal, topic, subject, group, txnID, operation string
	cluster, prefix, match, deny, allow, all           bool
}

func (f *aclFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.principal, "principal", "", "the user `name` (no User: prefix), or * for every principal")
	fs.StringVar(&f.topic, "topic", "", "a topic `name` (or prefix, or *)")
	fs.StringVar(&f.subject, "subject", "", "a registry subject `name` (or prefix, or *)")
	fs.StringVar(&f.group, "group", "", "a consumer group `name` (or prefix, or *)")
	fs.StringVar(&f.txnID, "transactional-id", "", "a Kafka transactional `id` (or prefix, or *)")
	fs.BoolVar(&f.cluster, "cluster", false, "the cluster (ACL management, global registry config and mode)")
	fs.BoolVar(&f.prefix, "prefix", false, "the name is a prefix")
	fs.BoolVar(&f.match, "match", false, "list, delete: the rules that apply to the named resource")
	fs.StringVar(&f.operation, "operation", "", "`ops`, comma-separated: read, write, create, delete, alter, describe, all")
	fs.BoolVar(&f.deny, "deny", false, "a deny rule (create), deny rules only (list, delete)")
	fs.BoolVar(&f.allow, "allow", false, "list, delete: allow rules only")
	fs.BoolVar(&f.all, "all", false, "delete: every rule")
}

// resource returns the resource type and name the flags give; none is
// (ResourceAny, "").
func (f *aclFlags) resource() (acl.ResourceType, string, error) {
	var rt acl.ResourceType
	var name string
	n := 0
	for _, r := range []struct {
		set  bool
		t    acl.ResourceType
		name string
	}{
		{f.topic != "", acl.Topic, f.topic},
		{f.subject != "", acl.Subject, f.subject},
		{f.group != "", acl.Group, f.group},
		{f.txnID != "", acl.TransactionalID, f.txnID},
		{f.cluster, acl.Cluster, acl.ClusterName},
	} {
		if r.set {
			n++
			rt, name = r.t, r.name
		}
	}
	if n > 1 {
		return 0, "", errors.New("give one of --topic, --subject, --group, --transactional-id, --cluster")
	}
	return rt, name, nil
}

// operations parses --operation ("" is none).
func (f *aclFlags) operations() ([]acl.Operation, error) {
	var ops []acl.Operation
	if f.operation == "" {
		return nil, nil
	}
	for _, s := range strings.Split(f.operation, ",") {
		op, err := acl.ParseOperation(strings.TrimSpace(s), false)
		if err != nil {
			return nil, fmt.Errorf("--operation: %w", err)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// rules builds the rules of create.
func (f *aclFlags) rules() ([]*aclv1.Acl, error) {
	rt, name, err := f.resource()
	if err != nil {
		return nil, err
	}
	ops, err := f.operations()
	if err != nil {
		return nil, err
	}
	var missing []string
	if f.principal == "" {
		missing = append(missing, "--principal")
	}
	if rt == acl.ResourceAny {
		missing = append(missing, "a resource (--topic, --subject, --group, --transactional-id or --cluster)")
	}
	if len(ops) == 0 {
		missing = append(missing, "--operation")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	if f.match || f.allow || f.all {
		return nil, errors.New("--match, --allow and --all are for list and delete")
	}
	pattern := acl.Literal
	if f.prefix {
		pattern = acl.Prefixed
	}
	perm := acl.Allow
	if f.deny {
		perm = acl.Deny
	}
	var out []*aclv1.Acl
	for _, op := range ops {
		out = append(out, aclrpc.RuleToProto(acl.Rule{Principal: f.principal, Resource: rt, Name: name, Pattern: pattern, Operation: op, Permission: perm}))
	}
	return out, nil
}

// filter builds the filter of list and delete; empty reports whether it
// selects every rule.
func (f *aclFlags) filter() (filter *aclv1.AclFilter, empty bool, err error) {
	rt, name, err := f.resource()
	if err != nil {
		return nil, false, err
	}
	ops, err := f.operations()
	if err != nil {
		return nil, false, err
	}
	if len(ops) > 1 {
		return nil, false, errors.New("--operation: give one operation to select by")
	}
	af := acl.Filter{Principal: f.principal, Resource: rt, Name: name}
	if rt == acl.Cluster {
		af.Name = ""
	}
	if len(ops) == 1 {
		af.Operation = ops[0]
	}
	switch {
	case f.prefix && f.match:
		return nil, false, errors.New("give one of --prefix and --match")
	case f.prefix:
		af.Pattern = acl.Prefixed
	case f.match:
		af.Pattern = acl.PatternMatch
	}
	switch {
	case f.deny && f.allow:
		return nil, false, errors.New("give one of --allow and --deny")
	case f.deny:
		af.Permission = acl.Deny
	case f.allow:
		af.Permission = acl.Allow
	}
	return aclrpc.FilterToProto(af), af == (acl.Filter{}), nil
}

func runACL(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "sluice acl", aclUsage)
	var cf clientFlags
	cf.register(fs, e)
	var af aclFlags
	af.register(fs)
	sub, rest, code, ok := parseSubcommand(fs, &cf, e, args)
	if !ok {
		return code
	}
	switch sub {
	case "create", "list", "delete":
	default:
		fmt.Fprintf(e.stderr, "sluice acl: unknown subcommand %q; want create, list or delete\n", sub)
		return 2
	}
	if len(rest) != 0 {
		fmt.Fprintf(e.stderr, "sluice acl %s: takes flags only, not %q\n", sub, rest[0])
		return 2
	}
	client := aclv1connect.NewAclServiceClient(cf.httpClient(), cf.baseURL(), cf.connectOptions()...)
	var err error
	switch sub {
	case "create":
		rules, rerr := af.rules()
		if rerr != nil {
			fmt.Fprintf(e.stderr, "sluice acl create: %v\n", rerr)
			return 2
		}
		if _, err = client.CreateAcls(ctx, connect.NewRequest(&aclv1.CreateAclsRequest{Acls: rules})); err == nil {
			err = printACLs(e.stdout, "created", rules, cf.json())
		}
	case "list", "delete":
		if af.all && sub == "list" {
			fmt.Fprintln(e.stderr, "sluice acl list: --all is for delete (list without flags lists every rule)")
			return 2
		}
		f, empty, ferr := af.filter()
		if ferr != nil {
			fmt.Fprintf(e.stderr, "sluice acl %s: %v\n", sub, ferr)
			return 2
		}
		if sub == "list" {
			var res *connect.Response[aclv1.ListAclsResponse]
			if res, err = client.ListAcls(ctx, connect.NewRequest(&aclv1.ListAclsRequest{Filter: f})); err == nil {
				err = printACLs(e.stdout, "", res.Msg.GetAcls(), cf.json())
			}
			break
		}
		if empty != af.all {
			if empty {
				fmt.Fprintln(e.stderr, "sluice acl delete: no filter flags: give --all to delete every rule")
			} else {
				fmt.Fprintln(e.stderr, "sluice acl delete: --all deletes every rule: give no filter flags with it")
			}
			return 2
		}
		var res *connect.Response[aclv1.DeleteAclsResponse]
		if res, err = client.DeleteAcls(ctx, connect.NewRequest(&aclv1.DeleteAclsRequest{Filter: f})); err == nil {
			err = printACLs(e.stdout, "deleted", res.Msg.GetDeleted(), cf.json())
		}
	}
	if err != nil {
		return printErr(e.stderr, "acl "+sub, err)
	}
	return 0
}

// aclJSON is one rule in --output json.
type aclJSON struct {
	Principal    string `json:"principal"`
	ResourceType string `json:"resource_type"`
	Name         string `json:"name"`
	PatternType  string `json:"pattern_type"`
	Operation    string `json:"operation"`
	Permission   string `json:"permission"`
}

// printACLs prints rules as a table (headed by verb and a count when verb
// is set) or as {"acls": [...]} (or {"created": [...]}, {"deleted": [...]}).
func printACLs(w io.Writer, verb string, rules []*aclv1.Acl, asJSON bool) error {
	out := make([]aclJSON, 0, len(rules))
	for _, p := range rules {
		r := aclrpc.RuleFromProto(p)
		out = append(out, aclJSON{r.Principal, r.Resource.String(), r.Name, r.Pattern.String(), r.Operation.String(), r.Permission.String()})
	}
	if asJSON {
		key := verb
		if key == "" {
			key = "acls"
		}
		return writeJSON(w, map[string]any{key: out})
	}
	if verb != "" {
		fmt.Fprintf(w, "%s %s\n", verb, plural(len(out), "rule"))
	} else if len(out) == 0 {
		fmt.Fprintln(w, "no rules")
		return nil
	}
	if len(out) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PERMISSION\tPRINCIPAL\tOPERATION\tRESOURCE\tNAME\tPATTERN")
	for _, r := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Permission, r.Principal, r.Operation, r.ResourceType, r.Name, r.PatternType)
	}
	return tw.Flush()
}
