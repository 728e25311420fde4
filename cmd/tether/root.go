package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envPrefix starts the environment variable that stands in for each flag:
// --data-dir <-> TETHER_DATA_DIR.
const envPrefix = "TETHER_"

// envAnnotation marks a flag that has an environment equivalent.
const envAnnotation = "tether_env"

var (
	logLevels  = []string{"trace", "debug", "info", "warn", "error"}
	logFormats = []string{"text", "json"}
)

// app is one invocation of the binary: where it reads its environment and
// writes its output, the global options, and the logger built from them.
type app struct {
	lookupEnv      func(string) (string, bool)
	stdout, stderr io.Writer

	logLevel  string
	logFormat string
	log       hclog.Logger

	// serve runs the hub; tests replace it to inspect the resolved options.
	serve func(ctx context.Context, o serveOptions) error
}

func newApp(lookupEnv func(string) (string, bool), stdout, stderr io.Writer) *app {
	a := &app{lookupEnv: lookupEnv, stdout: stdout, stderr: stderr}
	a.serve = a.runServe
	return a
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tether",
		Short: "Tether, a self-hosted remote-support hub",
		Long: `Tether is a self-hosted remote-support hub: customers ask for help on a channel link
or with a PIN code, wait in a queue, and are picked up by technicians.

Every flag can also be set through the TETHER_* environment variable shown beside it;
a flag given on the command line wins over the environment.`,
		SilenceUsage:      true,
		SilenceErrors:     true,
		PersistentPreRunE: a.setUp,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see %s --help)", err, cmd.CommandPath())
	})
	pf := root.PersistentFlags()
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: "+strings.Join(logLevels, "|"))
	pf.StringVar(&a.logFormat, "log-format", "text", "log format: "+strings.Join(logFormats, "|"))
	bindEnv(pf)
	root.AddCommand(a.serveCmd(), a.migrateCmd(), a.versionCmd())
	root.AddCommand(a.appletCmd(), a.pluginCmd())
	return root
}

// execute runs the command line and returns the exit code. Errors go to the
// log once it exists, and to stderr before that (bad flags, bad env values).
func (a *app) execute(ctx context.Context, args []string) int {
	root := a.rootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	if a.log != nil {
		a.log.Error("tether failed", "error", err)
	} else {
		fmt.Fprintln(a.stderr, "Error:", err)
	}
	return 1
}

// setUp runs before every subcommand: it fills unset flags from the
// environment, checks the global options and builds the logger.
func (a *app) setUp(cmd *cobra.Command, _ []string) error {
	if err := applyEnv(cmd.Flags(), a.lookupEnv); err != nil {
		return err
	}
	if !slices.Contains(logLevels, a.logLevel) {
		return fmt.Errorf("invalid log level %q: want one of %s", a.logLevel, strings.Join(logLevels, ", "))
	}
	if !slices.Contains(logFormats, a.logFormat) {
		return fmt.Errorf("invalid log format %q: want one of %s", a.logFormat, strings.Join(logFormats, ", "))
	}
	a.log = hclog.New(&hclog.LoggerOptions{
		Name:       "tether",
		Level:      hclog.LevelFromString(a.logLevel),
		JSONFormat: a.logFormat == "json",
		Output:     a.stderr,
		Color:      hclog.ColorOff,
	})
	// Libraries that log through hclog's default or the standard library
	// end up in the same stream, in the same format.
	hclog.SetDefault(a.log)
	log.SetOutput(a.log.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true}))
	log.SetFlags(0)
	return nil
}

// envName is the environment variable that stands in for a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// bindEnv gives every flag in fs an environment equivalent and names it in
// the flag's help text. Call it once, after the flags are defined.
func bindEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		name := envName(f.Name)
		f.Usage += " [env " + name + "]"
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[envAnnotation] = []string{name}
	})
}

// applyEnv sets every flag that was not given on the command line from its
// environment variable, when that is set and not empty: flag > env > default.
func applyEnv(fs *pflag.FlagSet, lookupEnv func(string) (string, bool)) error {
	var firstErr error
	fs.VisitAll(func(f *pflag.Flag) {
		names := f.Annotations[envAnnotation]
		if firstErr != nil || f.Changed || len(names) == 0 {
			return
		}
		v, ok := lookupEnv(names[0])
		if !ok || v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			firstErr = fmt.Errorf("invalid value %q in %s: %w", v, names[0], err)
		}
	})
	return firstErr
}

// buildVersion is the -ldflags version or, for a binary built with
// "go install ...@vX", the module version Go recorded.
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}
