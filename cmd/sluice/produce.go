package main

import (
	"context"
	"fmt"
)

func runProduce(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "sluice produce: not built yet")
	return 1
}
