package manifest

import (
	"os"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/sluicehq/sluice/registry/compat"
)

// TestFromFiles resolves explicit files without a manifest: references to
// files that were not named are inferred, and become subjects first.
func TestFromFiles(t *testing.T) {
	m, err := FromFiles(".", []SchemaFile{
		{File: "schemas/order.avsc", Subject: "orders-value"},
		{File: "schemas/payment.proto", Subject: "payments-value"},
		{File: "schemas/customer.json", Subject: "customers-value"},
		{File: "schemas/money.proto", Subject: "money"},
	}, compat.Full)
	if err != nil {
		t.Fatal(err)
	}
	set, err := m.Resolve(os.DirFS("testdata/project"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range set.Subjects {
		line := s.Name + " " + string(s.Level) + " " + s.File
		for _, r := range s.References {
			line += " ref(" + r.Name + "=" + r.Subject + ")"
		}
		got = append(got, line)
	}
	want := []string{
		"com.acme.Address FULL schemas/address.avsc",
		"orders-value FULL schemas/order.avsc ref(com.acme.Address=com.acme.Address)",
		"money FULL schemas/money.proto",
		"payments-value FULL schemas/payment.proto ref(schemas/money.proto=money)",
		"schemas/postal.json FULL schemas/postal.json",
		"customers-value FULL schemas/customer.json ref(postal.json=schemas/postal.json)",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("subjects (-want +got):\n%s", d)
	}
}

func TestFromFilesErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		files []SchemaFile
		want  string
	}{
		{"none", nil, "no schema files"},
		{"no subject", []SchemaFile{{File: "a.avsc"}}, "schema file a.avsc: no subject"},
		{"twice", []SchemaFile{{File: "a.avsc", Subject: "s"}, {File: "b.avsc", Subject: "s"}}, `subject "s" is given twice`},
		{"extension", []SchemaFile{{File: "a.txt", Subject: "s"}}, `cannot tell the schema format of "a.txt" from its extension: want .avsc, .avro, .proto or .json`},
	} {
		if _, err := FromFiles(".", c.files, ""); err == nil || err.Error() != c.want {
			t.Errorf("%s: err %v, want %q", c.name, err, c.want)
		}
	}
	// A missing file is reported at the file.
	m, err := FromFiles(".", []SchemaFile{{File: "gone.avsc", Subject: "s"}}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Resolve(fstest.MapFS{}); err == nil || err.Error() != "gone.avsc: schema file gone.avsc: file does not exist" {
		t.Errorf("missing file: %v", err)
	}
}
