package main

import (
	"context"
	"fmt"
)

func runConsume(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "sluice consume: not built yet")
	return 1
}
