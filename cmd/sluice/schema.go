package main

import (
	"context"
	"fmt"
)

func runSchema(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "sluice schema: not built yet")
	return 1
}
