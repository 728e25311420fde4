// Command tether is the one Tether binary: the hub (serve), its schema
// migrations, and later the applet and the bundled plugins.
package main

import (
	"context"
	"os"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args[1:]))
}

// run executes the command line and returns the process exit code.
func run(ctx context.Context, args []string) int {
	a := newApp(os.LookupEnv, os.Stdout, os.Stderr)
	return a.execute(ctx, args)
}
