package compat

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// protoDifference is one difference between two Protobuf schemas, compatible
// or not.
type protoDifference struct {
	kind    protoKind
	path    string
	message string
	// pending, when set, makes this FIELD_NAMED_TYPE_CHANGED conditional:
	// it stands only if the referenced pair turns out incompatible, which
	// is known once the whole diff has been walked.
	pending *protoPairState
	// owner is the pair whose field this is: a message that refers to
	// itself is not reported again at its own fields.
	owner *protoPairState
	// at is the pending difference's location, rendered if it stands.
	at protoLoc
}

func (d protoDifference) compatible() bool { return protoCompatibleKinds[d.kind] }

// protoPair is a message of the original schema and the message of the
// update it is compared with.
type protoPair struct {
	original, update protoreflect.MessageDescriptor
}

// protoPairState is the memoised comparison of one pair of messages.
type protoPairState struct {
	// own is set when the pair has an incompatible difference of its own.
	own bool
	// deps are the pairs whose incompatibility makes this one incompatible:
	// its nested messages and the messages its fields refer to.
	deps []*protoPairState
	// incompatible is the final verdict, set by resolve.
	incompatible bool
}

// protoDiffer computes Confluent's Protobuf diff from an original schema to
// an update (spec/registry-api.md §11.2) over linked descriptors.
//
// Confluent compares a message again every time a message-typed field
// refers to it, reports the referenced message's differences at every such
// field, and cuts recursion by skipping a message already under comparison
// further up the stack. We compare each pair of messages once (memo) and
// report its differences once, at the message's own location. Whether a
// referenced message "changed incompatibly" (FIELD_NAMED_TYPE_CHANGED) is
// then decided after the walk, over the graph of pairs: a pair is
// incompatible when it, a nested message or a referenced message has an
// incompatible difference of its own. The set of pairs compared, and so
// every verdict, is Confluent's. In mutually recursive types we flag every
// field on the cycle, where Confluent's answer depends on which message it
// meets first; like Confluent we never flag a message's field that refers
// to the message itself (its own differences already say it). A deeply
// shared type costs one comparison, not one per path to it.
type protoDiffer struct {
	memo map[protoPair]*protoPairState
	cur  *protoPairState // the pair whose fields are being compared
	// all keeps compatible differences too; a compatibility check only
	// needs the incompatible ones and skips rendering the rest.
	all   bool
	diffs []protoDifference
}

// protoDiff returns the differences from original to update in a stable
// order: the package, then types in declaration order (original's first,
// then those only in the update), fields by number. With all it returns
// compatible differences too; without, only the violations.
func protoDiff(original, update protoreflect.FileDescriptor, all bool) []protoDifference {
	d := &protoDiffer{memo: map[protoPair]*protoPairState{}, all: all}
	if op, up := original.Package(), update.Package(); op != up {
		d.add(protoPackageChanged, protoAt("package"), "changed from %s to %s", protoPackageText(op), protoPackageText(up))
	}
	d.compareTypes(original.Messages(), update.Messages(), original.Enums(), update.Enums())
	return d.resolve()
}

// resolve settles which pairs are incompatible (least fixpoint: own
// differences, spread to every pair that depends on them) and keeps the
// pending FIELD_NAMED_TYPE_CHANGED differences whose pair is.
func (d *protoDiffer) resolve() []protoDifference {
	users := map[*protoPairState][]*protoPairState{}
	var queue []*protoPairState
	for _, st := range d.memo {
		for _, dep := range st.deps {
			users[dep] = append(users[dep], st)
		}
		if st.own {
			st.incompatible = true
			queue = append(queue, st)
		}
	}
	for len(queue) > 0 {
		st := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		for _, u := range users[st] {
			if !u.incompatible {
				u.incompatible = true
				queue = append(queue, u)
			}
		}
	}
	out := d.diffs[:0]
	for _, diff := range d.diffs {
		if diff.pending == nil || diff.pending.incompatible && diff.pending != diff.owner {
			if diff.pending != nil {
				diff.path = diff.at.String()
			}
			diff.pending, diff.owner, diff.at = nil, nil, protoLoc{}
			out = append(out, diff)
		}
	}
	return out
}

func protoPackageText(p protoreflect.FullName) string {
	if p == "" {
		return "(no package)"
	}
	return string(p)
}

// protoLoc is where a difference is: a message and one of its fields, or
// a ready text. Field paths are rendered only for differences reported,
// not for every field compared.
type protoLoc struct {
	msg   protoreflect.MessageDescriptor
	field protoreflect.FieldDescriptor
	text  string
}

func protoAt(text string) protoLoc { return protoLoc{text: text} }

func protoAtField(m protoreflect.MessageDescriptor, f protoreflect.FieldDescriptor) protoLoc {
	return protoLoc{msg: m, field: f}
}

// String renders a field as "shop.v1.Order.total (field 4)".
func (l protoLoc) String() string {
	if l.field == nil {
		return l.text
	}
	return string(l.msg.FullName()) + "." + string(l.field.Name()) + " (field " + strconv.Itoa(int(l.field.Number())) + ")"
}

// add records a difference, and marks the pair being compared as having an
// incompatible difference of its own when it is one.
func (d *protoDiffer) add(kind protoKind, at protoLoc, format string, args ...any) {
	compatible := protoCompatibleKinds[kind]
	if !compatible && d.cur != nil {
		d.cur.own = true
	}
	if compatible && !d.all {
		return
	}
	d.diffs = append(d.diffs, protoDifference{kind: kind, path: at.String(), message: fmt.Sprintf(format, args...)})
}

// compareTypes matches the messages and enums declared in one scope (a file
// or a message) by simple name; the scope itself was matched by its parents,
// so this is matching by full name relative to the package, which is how
// Confluent still matches everything after a package change. Synthetic map
// entries and proto2 group bodies are not types here (Confluent's parser
// never lists them). Nested messages become dependencies of the pair
// being compared: a parent changes incompatibly with its nested types.
func (d *protoDiffer) compareTypes(om, um protoreflect.MessageDescriptors, oe, ue protoreflect.EnumDescriptors) {
	origMsgs, updMsgs := protoMessagesOf(om), protoMessagesOf(um)
	updIndex := make(map[protoreflect.Name]int, len(updMsgs))
	for i, m := range updMsgs {
		updIndex[m.Name()] = i
	}
	origNames := make(map[protoreflect.Name]bool, len(origMsgs))
	for i, o := range origMsgs {
		origNames[o.Name()] = true
		j, ok := updIndex[o.Name()]
		if !ok {
			d.add(protoMessageRemoved, protoAt(string(o.FullName())), "message removed")
			continue
		}
		u := updMsgs[j]
		if st := d.compareMessage(o, u); st != nil && d.cur != nil {
			d.cur.deps = append(d.cur.deps, st)
		}
		if i != j {
			// Message indexes in record headers are relative to the schema
			// the record was written with, so reordering is harmless.
			d.add(protoMessageMoved, protoAt(string(u.FullName())), "message moved from index %d to %d", i, j)
		}
	}
	for _, u := range updMsgs {
		if !origNames[u.Name()] {
			d.add(protoMessageAdded, protoAt(string(u.FullName())), "message added")
		}
	}

	updEnums := make(map[protoreflect.Name]protoreflect.EnumDescriptor, ue.Len())
	for i := 0; i < ue.Len(); i++ {
		updEnums[ue.Get(i).Name()] = ue.Get(i)
	}
	origEnums := make(map[protoreflect.Name]bool, oe.Len())
	for i := 0; i < oe.Len(); i++ {
		o := oe.Get(i)
		origEnums[o.Name()] = true
		if u, ok := updEnums[o.Name()]; ok {
			d.compareEnum(o, u)
		} else {
			d.add(protoEnumRemoved, protoAt(string(o.FullName())), "enum removed")
		}
	}
	for i := 0; i < ue.Len(); i++ {
		if u := ue.Get(i); !origEnums[u.Name()] {
			d.add(protoEnumAdded, protoAt(string(u.FullName())), "enum added")
		}
	}
}

// protoMessagesOf lists the messages of a scope as Confluent sees them:
// without synthetic map entries and proto2 group bodies. A message's index
// in this list is what MESSAGE_MOVED compares.
func protoMessagesOf(ms protoreflect.MessageDescriptors) []protoreflect.MessageDescriptor {
	out := make([]protoreflect.MessageDescriptor, 0, ms.Len())
	for i := 0; i < ms.Len(); i++ {
		if m := ms.Get(i); !m.IsMapEntry() && !protoIsGroupBody(m) {
			out = append(out, m)
		}
	}
	return out
}

// compareEnum compares enum constants by number. Every enum difference is
// compatible in Confluent's rules (an unknown number decodes as an unknown
// value), so these are recorded for completeness only. With allow_alias the
// last constant of a number stands for it, as in Confluent's map by tag.
func (d *protoDiffer) compareEnum(o, u protoreflect.EnumDescriptor) {
	if !d.all {
		return
	}
	ov, uv := protoEnumByNumber(o), protoEnumByNumber(u)
	for _, n := range protoSortedKeys(ov, uv) {
		a, b := ov[n], uv[n]
		switch {
		case b == nil:
			d.add(protoEnumConstRemoved, protoAt(protoEnumValuePath(o, a)), "enum value removed")
		case a == nil:
			d.add(protoEnumConstAdded, protoAt(protoEnumValuePath(u, b)), "enum value added")
		case a.Name() != b.Name():
			d.add(protoEnumConstChanged, protoAt(protoEnumValuePath(u, b)), "enum value renamed from %s", a.Name())
		}
	}
}

func protoEnumByNumber(e protoreflect.EnumDescriptor) map[protoreflect.EnumNumber]protoreflect.EnumValueDescriptor {
	vs := e.Values()
	m := make(map[protoreflect.EnumNumber]protoreflect.EnumValueDescriptor, vs.Len())
	for i := 0; i < vs.Len(); i++ {
		m[vs.Get(i).Number()] = vs.Get(i)
	}
	return m
}

func protoEnumValuePath(e protoreflect.EnumDescriptor, v protoreflect.EnumValueDescriptor) string {
	return string(e.FullName()) + "." + string(v.Name()) + " (value " + strconv.Itoa(int(v.Number())) + ")"
}

// protoSortedKeys returns the union of two maps' keys, ascending.
func protoSortedKeys[K ~int32, V any](a, b map[K]V) []K {
	keys := make([]K, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// compareMessage compares two messages matched by name (or referenced by
// fields that were matched by number) once, and returns the pair's state,
// whose verdict resolve settles; nil when both sides share one descriptor.
func (d *protoDiffer) compareMessage(o, u protoreflect.MessageDescriptor) *protoPairState {
	if o == u {
		// The same linked descriptor on both sides: a well-known type or a
		// bundled file, shared by every parse. Confluent likewise skips
		// messages both sides take from the same subject and version.
		return nil
	}
	key := protoPair{o, u}
	if st, ok := d.memo[key]; ok {
		return st
	}
	st := &protoPairState{}
	d.memo[key] = st
	outer := d.cur
	d.cur = st
	d.compareFields(o, u)
	d.compareTypes(o.Messages(), u.Messages(), o.Enums(), u.Enums())
	d.cur = outer
	return st
}

// protoField looks a field up by number, ignoring proto2 groups (which
// Confluent does not see).
func protoField(m protoreflect.MessageDescriptor, n protoreflect.FieldNumber) protoreflect.FieldDescriptor {
	f := m.Fields().ByNumber(n)
	if f == nil || protoIsLegacyGroup(f) {
		return nil
	}
	return f
}

// protoRealOneof returns the oneof a field is a member of, or nil: proto3
// `optional` fields sit in synthetic oneofs, which are no oneofs here.
func protoRealOneof(f protoreflect.FieldDescriptor) protoreflect.OneofDescriptor {
	if od := f.ContainingOneof(); od != nil && !od.IsSynthetic() {
		return od
	}
	return nil
}

// protoOneof looks a real oneof up by name.
func protoOneof(m protoreflect.MessageDescriptor, name protoreflect.Name) protoreflect.OneofDescriptor {
	if od := m.Oneofs().ByName(name); od != nil && !od.IsSynthetic() {
		return od
	}
	return nil
}

// protoFieldNumbers returns the numbers of both messages' fields, groups
// excluded, ascending and without repeats.
func protoFieldNumbers(o, u protoreflect.MessageDescriptor) []protoreflect.FieldNumber {
	of, uf := o.Fields(), u.Fields()
	nums := make([]protoreflect.FieldNumber, 0, of.Len()+2)
	for i := 0; i < of.Len(); i++ {
		if f := of.Get(i); !protoIsLegacyGroup(f) {
			nums = append(nums, f.Number())
		}
	}
	for i := 0; i < uf.Len(); i++ {
		if f := uf.Get(i); !protoIsLegacyGroup(f) && protoField(o, f.Number()) == nil {
			nums = append(nums, f.Number())
		}
	}
	slices.Sort(nums)
	return nums
}

// compareFields is the field and oneof part of the message comparison, as
// in Confluent's current MessageSchemaDiff: fields are matched by number
// across oneof boundaries, so a oneof rename, or a field moving into or out
// of a oneof, cannot hide a type change or a removal; what a oneof change
// adds is a check for mutual exclusion that did not exist before.
func (d *protoDiffer) compareFields(o, u protoreflect.MessageDescriptor) {
	oneofPath := func(m protoreflect.MessageDescriptor, od protoreflect.OneofDescriptor) protoLoc {
		return protoAt(string(m.FullName()) + "." + string(od.Name()) + " (oneof)")
	}

	// New mutual exclusion: the pre-existing members of an update oneof
	// must all come from one origin, either one original oneof or one
	// formerly top-level field (brand-new members never had data). Two
	// origins means values that used to be set together now overwrite
	// each other.
	uo := u.Oneofs()
	for i := 0; i < uo.Len(); i++ {
		od := uo.Get(i)
		if od.IsSynthetic() {
			continue
		}
		var origins []string
		movedIn := 0
		for _, f := range protoOneofMembers(od) {
			prev := protoField(o, f.Number())
			if prev == nil {
				continue
			}
			origin := ""
			if pod := protoRealOneof(prev); pod != nil {
				origin = "oneof " + string(pod.Name())
			} else {
				origin = "field " + string(prev.Name())
				movedIn++
			}
			if !slices.Contains(origins, origin) {
				origins = append(origins, origin)
			}
		}
		if len(origins) < 2 {
			continue
		}
		if movedIn > 1 {
			d.add(protoMultipleFieldsMovedToOne, oneofPath(u, od), "oneof now holds fields that were independent before: %s", strings.Join(origins, ", "))
		} else {
			d.add(protoFieldMovedToExistingOneof, oneofPath(u, od), "oneof now joins fields that were not mutually exclusive before: %s", strings.Join(origins, ", "))
		}
	}

	oo := o.Oneofs()
	for i := 0; i < oo.Len(); i++ {
		if od := oo.Get(i); !od.IsSynthetic() && protoOneof(u, od.Name()) == nil {
			d.add(protoOneofRemoved, oneofPath(o, od), "oneof removed")
		}
	}
	for i := 0; i < uo.Len(); i++ {
		if od := uo.Get(i); !od.IsSynthetic() && protoOneof(o, od.Name()) == nil {
			d.add(protoOneofAdded, oneofPath(u, od), "oneof added")
		}
	}

	for _, n := range protoFieldNumbers(o, u) {
		a, b := protoField(o, n), protoField(u, n)
		switch {
		case b == nil:
			at := protoAtField(o, a)
			switch aod := protoRealOneof(a); {
			case aod != nil && protoOneofDeleted(aod, u):
				// Reported once, as ONEOF_REMOVED, like Confluent.
			case aod != nil:
				d.add(protoOneofFieldRemoved, at, "field removed from oneof %s", aod.Name())
			case protoLabelOf(a) == protoRequired:
				d.add(protoRequiredFieldRemoved, at, "required field removed")
			default:
				d.add(protoFieldRemoved, at, "field removed")
			}
		case a == nil:
			at := protoAtField(u, b)
			switch bod := protoRealOneof(b); {
			case bod != nil:
				d.add(protoOneofFieldAdded, at, "field added to oneof %s", bod.Name())
			case protoLabelOf(b) == protoRequired:
				d.add(protoRequiredFieldAdded, at, "required field added")
			default:
				d.add(protoFieldAdded, at, "field added")
			}
		default:
			at := protoAtField(u, b)
			if aod := protoRealOneof(a); aod != nil && protoRealOneof(b) == nil {
				d.add(protoOneofFieldMovedToTopLevel, at, "field moved out of oneof %s", aod.Name())
			}
			d.compareField(at, a, b)
		}
	}
}

// protoOneofDeleted reports whether an original oneof was deleted as a
// whole: gone by name from the update, and none of its members survive
// anywhere in it. Like removing fields, that is compatible.
func protoOneofDeleted(od protoreflect.OneofDescriptor, u protoreflect.MessageDescriptor) bool {
	if protoOneof(u, od.Name()) != nil {
		return false
	}
	for _, f := range protoOneofMembers(od) {
		if protoField(u, f.Number()) != nil {
			return false
		}
	}
	return true
}

// protoOneofMembers lists a oneof's fields without proto2 groups.
func protoOneofMembers(od protoreflect.OneofDescriptor) []protoreflect.FieldDescriptor {
	fs := od.Fields()
	out := make([]protoreflect.FieldDescriptor, 0, fs.Len())
	for i := 0; i < fs.Len(); i++ {
		if f := fs.Get(i); !protoIsLegacyGroup(f) {
			out = append(out, f)
		}
	}
	return out
}

// compareField compares two fields with the same number (Confluent's
// FieldSchemaDiff): name, then kind, type and label.
func (d *protoDiffer) compareField(at protoLoc, a, b protoreflect.FieldDescriptor) {
	if a.Name() != b.Name() {
		d.add(protoFieldNameChanged, at, "field renamed from %s", a.Name())
	}
	d.compareType(at, "", a, b, true)
}

// compareType compares the types of two fields, or of a map's keys or
// values (what says which, for messages). Labels are compared only for
// scalars and only when both sides wrote one: a label change on a message
// field is ignored, on string or bytes compatible, on a number not. Map
// keys and values have no labels.
func (d *protoDiffer) compareType(at protoLoc, what string, a, b protoreflect.FieldDescriptor, labels bool) {
	ak, bk := protoKindOf(a), protoKindOf(b)
	if ak != bk {
		d.add(protoFieldKindChanged, at, "%skind changed from %s %s to %s %s", what, ak, protoTypeName(a), bk, protoTypeName(b))
		return
	}
	switch ak {
	case protoScalar:
		ag, bg := protoGroupOf(a.Kind()), protoGroupOf(b.Kind())
		if ag != bg {
			d.add(protoFieldScalarKindChanged, at, "%stype changed from %s to %s", what, protoTypeName(a), protoTypeName(b))
			return
		}
		if !labels {
			return
		}
		al, bl := protoLabelOf(a), protoLabelOf(b)
		if al == protoNoLabel || bl == protoNoLabel || al == bl {
			return
		}
		if ag == protoGroupText {
			d.add(protoFieldStringOrBytesLabel, at, "label changed from %s to %s", al, bl)
		} else {
			d.add(protoFieldNumericLabelChanged, at, "label of numeric field (%s) changed from %s to %s", protoTypeName(b), al, bl)
		}
	case protoMessage:
		am, bm := a.Message(), b.Message()
		if protoLocalName(am) != protoLocalName(bm) {
			d.add(protoFieldNamedTypeChanged, at, "%smessage type changed from %s to %s", what, am.FullName(), bm.FullName())
			return
		}
		st := d.compareMessage(am, bm)
		if st == nil {
			return
		}
		if d.cur != nil {
			d.cur.deps = append(d.cur.deps, st)
		}
		d.diffs = append(d.diffs, protoDifference{
			kind: protoFieldNamedTypeChanged, at: at, pending: st, owner: d.cur,
			message: fmt.Sprintf("%smessage type %s changed incompatibly", what, bm.FullName()),
		})
	case protoMap:
		d.compareType(at, "map key ", a.MapKey(), b.MapKey(), false)
		d.compareType(at, "map value ", a.MapValue(), b.MapValue(), false)
	}
}
