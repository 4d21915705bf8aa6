package evolution_test

import (
	"context"
	"fmt"
	"os"

	"github.com/sluicehq/sluice/evolution"
	"github.com/sluicehq/sluice/registry/compat"
)

// Diff two schema files under BACKWARD: the added field has a default
// (safe); total's type change is not readable.
func ExampleDiff() {
	ops, level, err := evolution.ResolveOperands(context.Background(), nil,
		[2]string{"testdata/order_v1.avsc", "testdata/order_v2.avsc"}, compat.Backward)
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := evolution.Diff(level, ops[0], ops[1])
	if err != nil {
		fmt.Println(err)
		return
	}
	rep.Write(os.Stdout, false)
	fmt.Println("breaking:", rep.Breaking)
	// Output:
	// BREAKING changed /fields/1/type: "double" -> "long" [TYPE_MISMATCH: reader type long cannot read writer type double]
	// safe     added   /fields/2 = {"default":"","name":"note","type":"string"}
	// 2 changes, 1 breaking under BACKWARD
	// breaking: 1
}
