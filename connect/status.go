package connect

import (
	"context"

	"github.com/sluicehq/sluice/client"
	"github.com/sluicehq/sluice/connect/pgsink"
	"github.com/sluicehq/sluice/connect/pgsource"
)

// Status is one connector's state and position.
type Status struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Error says why the status could not be read ("" when it was).
	Error string `json:"error,omitempty"`
	// Sink or Source, by Type.
	Sink   *pgsink.Status   `json:"sink,omitempty"`
	Source *pgsource.Status `json:"source,omitempty"`
}

// ReadStatus reads the status of every connector of f, in file order. A
// connector whose database or topic cannot be read has Error set; the
// others are still read.
func ReadStatus(ctx context.Context, f *File, conn *client.Conn) []Status {
	out := make([]Status, 0, len(f.Connectors))
	for _, c := range f.Connectors {
		st := Status{Name: c.Name, Type: c.Type}
		var err error
		switch {
		case c.Sink != nil:
			st.Sink, err = pgsink.ReadStatus(ctx, *c.Sink, conn)
		case c.Source != nil:
			st.Source, err = pgsource.ReadStatus(ctx, *c.Source)
		}
		if err != nil {
			st.Error = err.Error()
		}
		out = append(out, st)
	}
	return out
}
