package main

import (
	"context"
	"fmt"
)

func runBench(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "sluice bench: not built yet")
	return 1
}
