package main

import (
	"context"
	"fmt"
)

func runTopic(ctx context.Context, e *env, args []string) int {
	fmt.Fprintln(e.stderr, "sluice topic: not built yet")
	return 1
}
