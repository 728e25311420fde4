package sdk

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	pluginv1 "github.com/tetherhq/tether/sdk/proto/v1"
	"google.golang.org/grpc"
)

// LaunchConfig says how the host starts one plugin process.
type LaunchConfig struct {
	// Cmd is the unstarted plugin executable. When Cmd.Env is nil the
	// plugin gets only a small allow-list of the hub's environment (PATH,
	// HOME, TMPDIR, TZ, locale, proxy and CA settings): the hub's own
	// variables may hold its database URL and secrets.
	Cmd *exec.Cmd
	// Checksum is the executable's SHA-256 as the catalogue pinned it at
	// install. It is never computed here from the file about to run.
	Checksum []byte
	// Host is the host API, already scoped to this plugin.
	Host Host
	// Logger receives go-plugin's messages and the plugin's own log lines
	// (under a sub-logger named after the executable). Nil: hclog.L().
	Logger hclog.Logger
	// StartTimeout bounds the start and handshake, and then the plugin's
	// Provision. Zero: DefaultStartTimeout.
	StartTimeout time.Duration
}

// DefaultStartTimeout is LaunchConfig.StartTimeout's default.
const DefaultStartTimeout = 30 * time.Second

// envAllowList is what a plugin inherits of the hub's environment when the
// caller does not set Cmd.Env.
var envAllowList = []string{
	"PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL",
	"SSL_CERT_FILE", "SSL_CERT_DIR",
	"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
}

// Conn is the host's connection to one running plugin process. The caller
// owns the process: Kill it when done, a Conn is never cleaned up on its
// own. Its methods are safe for concurrent use.
type Conn struct {
	client *plugin.Client
	rpc    plugin.ClientProtocol
	pc     *pluginClient
	logger hclog.Logger
	name   string
}

// Launch verifies the executable against cfg.Checksum, starts it, checks
// the handshake, serves cfg.Host to it over the broker and provisions it.
// A binary that does not match its checksum is not started: the error then
// wraps ErrChecksumMismatch (and go-plugin's ErrChecksumsDoNotMatch).
func Launch(ctx context.Context, cfg LaunchConfig) (*Conn, error) {
	if cfg.Cmd == nil {
		return nil, errors.New("launch plugin: LaunchConfig.Cmd is nil")
	}
	name := cfg.Cmd.Path
	if len(cfg.Checksum) != sha256.Size {
		return nil, fmt.Errorf("launch plugin %s: checksum is %d bytes, want a %d-byte SHA-256 from the catalogue", name, len(cfg.Checksum), sha256.Size)
	}
	if cfg.Host == nil {
		return nil, fmt.Errorf("launch plugin %s: LaunchConfig.Host is nil", name)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.L()
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = DefaultStartTimeout
	}
	cmd := cfg.Cmd
	if cmd.Env == nil {
		cmd.Env = allowedEnv()
	}
	cmd.Env = append(cmd.Env, LogLevelEnv+"="+logger.GetLevel().String())

	// Stray prints to stdout/stderr inside the plugin (after Serve) arrive
	// through go-plugin's stdio stream; they belong in the log too.
	stray := logger.Named("stdio").StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(nil),
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: cfg.Checksum, Hash: sha256.New()},
		AutoMTLS:         true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Managed:          false,
		SkipHostEnv:      true,
		Logger:           logger,
		StartTimeout:     timeout,
		SyncStdout:       stray,
		SyncStderr:       stray,
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
			return nil, fmt.Errorf("launch plugin %s: %w; refusing to start it (reinstall the plugin or fix the catalogue): %w", name, ErrChecksumMismatch, err)
		}
		return nil, fmt.Errorf("launch plugin %s: %w", name, err)
	}
	raw, err := rpc.Dispense(pluginKey)
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("launch plugin %s: dispense: %w", name, err)
	}
	c := &Conn{client: client, rpc: rpc, pc: raw.(*pluginClient), logger: logger, name: filepath.Base(name)}

	id := c.pc.broker.NextId()
	go c.pc.broker.AcceptAndServe(id, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(opts...)
		pluginv1.RegisterHostServer(s, &hostServer{host: cfg.Host})
		return s
	})
	// A plugin stuck in Provision must not hold up the hub's start.
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := c.pc.rpc.Provision(pctx, &pluginv1.ProvisionRequest{HostBrokerId: id}); err != nil {
		client.Kill()
		return nil, fmt.Errorf("launch plugin %s: provision: %w", name, fromStatus(err))
	}
	return c, nil
}

func allowedEnv() []string {
	env := []string{}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, allowed := range envAllowList {
			if k == allowed {
				env = append(env, kv)
			}
		}
	}
	return env
}

// Describe asks the plugin who it is and what it implements.
func (c *Conn) Describe(ctx context.Context) (Description, error) {
	resp, err := c.pc.rpc.Describe(ctx, &pluginv1.DescribeRequest{})
	if err != nil {
		return Description{}, c.callError("describe", err)
	}
	return Description{
		ID: resp.GetId(), Name: resp.GetName(), Version: resp.GetVersion(),
		Capabilities: resp.GetCapabilities(), Formats: resp.GetFormats(),
	}, nil
}

// Configure asks the plugin to check a unit's settings. Refused settings
// return a *ConfigError; other errors are transport failures. A plugin that
// does not implement Configurer accepts any settings.
func (c *Conn) Configure(ctx context.Context, req ConfigureRequest) error {
	resp, err := c.pc.rpc.Configure(ctx, &pluginv1.ConfigureRequest{UnitId: req.UnitID, Settings: req.Settings})
	if err != nil {
		err = c.callError("configure", err)
		if errors.Is(err, ErrUnimplemented) {
			return nil
		}
		return err
	}
	if !resp.GetInvalid() {
		return nil
	}
	msg := resp.GetMessage()
	if msg == "" {
		msg = invalidSettings
	}
	return &ConfigError{Message: msg, Fields: resp.GetFieldErrors()}
}

// Health asks the plugin for its own health. An unhealthy answer wraps
// ErrUnhealthy with the plugin's reason; other errors are transport
// failures. A plugin that does not implement HealthChecker is healthy as
// long as it answers.
func (c *Conn) Health(ctx context.Context) error {
	resp, err := c.pc.rpc.Health(ctx, &pluginv1.HealthRequest{})
	if err != nil {
		err = c.callError("health", err)
		if errors.Is(err, ErrUnimplemented) {
			return nil
		}
		return err
	}
	if !resp.GetHealthy() {
		return fmt.Errorf("%w: %s", ErrUnhealthy, resp.GetMessage())
	}
	return nil
}

// Ping is go-plugin's liveness check: it answers as long as the process
// serves gRPC, whatever the plugin's own code is doing.
func (c *Conn) Ping() error {
	if err := c.rpc.Ping(); err != nil {
		return fmt.Errorf("ping plugin %s: %w", c.name, err)
	}
	return nil
}

// HandleEvent delivers one event. The Result is the plugin's answer; an
// error means there was no answer (the process died, the call timed out,
// the plugin handles no events: ErrUnimplemented), and the host retries
// the delivery as it would a Retry.
func (c *Conn) HandleEvent(ctx context.Context, e Event) (Result, error) {
	resp, err := c.pc.rpc.HandleEvent(ctx, eventToProto(e))
	if err != nil {
		return Result{}, c.callError("handle event "+e.ID, err)
	}
	r, err := resultFromProto(resp)
	if err != nil {
		return Result{}, fmt.Errorf("plugin %s: handle event %s: %w", c.name, e.ID, err)
	}
	return r, nil
}

// RuleFiles fetches the routing rule files the plugin ships.
func (c *Conn) RuleFiles(ctx context.Context) ([]RuleFile, error) {
	resp, err := c.pc.rpc.RuleFiles(ctx, &pluginv1.RuleFilesRequest{})
	if err != nil {
		return nil, c.callError("rule files", err)
	}
	files := make([]RuleFile, 0, len(resp.GetFiles()))
	for _, f := range resp.GetFiles() {
		files = append(files, RuleFile{Name: f.GetName(), Content: f.GetContent()})
	}
	return files, nil
}

// Encode streams in through the plugin's codec into out. If reading in
// fails, the plugin's call is cancelled rather than ended, so it never
// takes a cut input for a complete one. Like io.Copy, Encode returns only
// once it has stopped reading in: an in that blocks holds it up.
func (c *Conn) Encode(ctx context.Context, format string, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.pc.rpc.Encode(ctx)
	if err != nil {
		return c.callError("encode "+format, err)
	}
	if err := stream.Send(&pluginv1.EncodeRequest{Part: &pluginv1.EncodeRequest_Format{Format: format}}); err != nil {
		return c.sendFailure("encode "+format, err, func() error { _, err := stream.Recv(); return err })
	}
	readErr := make(chan error, 1)
	go func() {
		err := sendChunks(in, func(b []byte) error {
			return stream.Send(&pluginv1.EncodeRequest{Part: &pluginv1.EncodeRequest_Input{Input: b}})
		})
		if err == nil {
			err = stream.CloseSend()
		}
		var se sendError
		if err != nil && !errors.As(err, &se) {
			readErr <- fmt.Errorf("plugin %s: encode %s: read input: %w", c.name, format, err)
			cancel()
			return
		}
		// A failed send shows again, with the plugin's reason, in Recv.
		readErr <- nil
	}()
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			cancel()
			if rerr := <-readErr; rerr != nil {
				return rerr
			}
			return c.callError("encode "+format, err)
		}
		if _, err := out.Write(m.GetOutput()); err != nil {
			cancel()
			<-readErr
			return fmt.Errorf("plugin %s: encode %s: write output: %w", c.name, format, err)
		}
	}
	return <-readErr
}

// sendFailure returns why a stream's Send failed: Send itself only says
// io.EOF, the plugin's status comes with the next Recv.
func (c *Conn) sendFailure(call string, err error, recv func() error) error {
	if err == io.EOF {
		if rerr := recv(); rerr != nil && rerr != io.EOF {
			err = rerr
		}
	}
	return c.callError(call, err)
}

// Exited reports whether the plugin process has exited.
func (c *Conn) Exited() bool { return c.client.Exited() }

// Done is closed once the plugin process has exited (Exited is true by
// then), whether it was killed or died on its own.
func (c *Conn) Done() <-chan struct{} { return c.pc.done.Done() }

// Kill stops the plugin: gracefully first (go-plugin's shutdown call, two
// seconds), then with SIGKILL. It returns when the process is gone, and is
// safe to call more than once.
func (c *Conn) Kill() { c.client.Kill() }

// callError says which plugin and call failed; the cause unwraps to
// ErrUnimplemented, ErrInvalid ... or a context error where it is one.
func (c *Conn) callError(call string, err error) error {
	return fmt.Errorf("plugin %s: %s: %w", c.name, call, fromStatus(err))
}
