package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/plugintest"
)

// The test binary is also the plugin: Self starts it again with the
// helper variable set, and os.Args[1] picks which plugin it serves.
func TestMain(m *testing.M) {
	plugintest.ServeIfHelper(helperPlugin(os.Args[1:]))
	os.Exit(m.Run())
}

func helperPlugin(args []string) sdk.Plugin {
	if len(args) > 0 {
		switch args[0] {
		case "minimal":
			return minimalPlugin{}
		case "bad-provision":
			return badProvisionPlugin{}
		}
	}
	return &testPlugin{}
}

// minimalPlugin implements nothing but Describe.
type minimalPlugin struct{}

func (minimalPlugin) Describe() sdk.Description {
	return sdk.Description{ID: "minimal", Name: "Minimal", Version: "0.0.1"}
}

type badProvisionPlugin struct{ minimalPlugin }

func (badProvisionPlugin) Provision(context.Context, sdk.Host) error {
	return errors.New("the API key file is missing")
}

// testPlugin implements every capability; what it does is chosen by the
// event type, the HTTP path or the codec format.
type testPlugin struct {
	host sdk.Host
}

var (
	_ sdk.Provisioner   = (*testPlugin)(nil)
	_ sdk.Configurer    = (*testPlugin)(nil)
	_ sdk.HealthChecker = (*testPlugin)(nil)
	_ sdk.EventHandler  = (*testPlugin)(nil)
	_ sdk.HTTPHandler   = (*testPlugin)(nil)
	_ sdk.Codec         = (*testPlugin)(nil)
	_ sdk.RuleProvider  = (*testPlugin)(nil)
)

func (p *testPlugin) Describe() sdk.Description {
	return sdk.Description{ID: "test", Name: "Test plugin", Version: "1.2.3"}
}

func (p *testPlugin) Provision(_ context.Context, h sdk.Host) error {
	p.host = h
	return nil
}

type testConfig struct {
	URL     string `json:"url" validate:"required,url"`
	Format  string `json:"format" validate:"required,oneof=xml form json"`
	Retries int    `json:"retries" validate:"gte=0,lte=10"`
	Token   string `json:"token"`
}

func (p *testPlugin) Configure(_ context.Context, req sdk.ConfigureRequest) error {
	var c testConfig
	if err := sdk.DecodeConfig(req.Settings, &c); err != nil {
		return err
	}
	switch c.Token {
	case "expired":
		return &sdk.ConfigError{Message: "the service refused the token", Fields: map[string]string{"token": "expired"}}
	case "unreachable":
		return errors.New("cannot reach the service to check the token")
	}
	return nil
}

// Health reads its verdict from the host's KV store, through the host
// found in the call's context rather than the provisioned one.
func (p *testPlugin) Health(ctx context.Context) error {
	h, ok := sdk.HostFromContext(ctx)
	if !ok {
		return errors.New("no host in the context")
	}
	v, found, err := h.KVGet(ctx, "health")
	if err != nil {
		return err
	}
	if found {
		return errors.New(string(v))
	}
	return nil
}

func (p *testPlugin) HandleEvent(ctx context.Context, e sdk.Event) sdk.Result {
	switch e.Type {
	case "echo":
		b, err := json.Marshal(e)
		if err != nil {
			return sdk.Failed(err.Error())
		}
		return sdk.Result{Outcome: sdk.Ack, Message: string(b)}
	case "ack":
		return sdk.Acked()
	case "retry":
		return sdk.RetryLater(1500*time.Millisecond, "busy")
	case "permanent":
		return sdk.Failed("bad payload")
	case "host":
		var c hostCall
		if err := json.Unmarshal(e.Payload, &c); err != nil {
			return sdk.Failed(err.Error())
		}
		b, _ := json.Marshal(runHostCall(ctx, p.host, c))
		return sdk.Result{Outcome: sdk.Ack, Message: string(b)}
	case "log":
		sdk.Logger().Info("logged from the plugin", "event_id", e.ID)
		return sdk.Acked()
	case "deadline":
		d, ok := ctx.Deadline()
		if !ok {
			return sdk.Failed("no deadline")
		}
		return sdk.Result{Outcome: sdk.Ack, Message: time.Until(d).String()}
	case "hang":
		// Never answers, so the host's deadline always wins the race.
		<-ctx.Done()
		select {}
	case "panic":
		panic("the plugin panics mid-call")
	case "exit":
		os.Exit(3)
	}
	return sdk.Failed("unknown event type " + e.Type)
}

// hostCall is one host API call the test asks the plugin to make.
type hostCall struct {
	Method        string
	SessionID     int64
	MessagesAfter int64
	Text          string
	Create        sdk.CreateSession
	Update        sdk.FieldUpdate
	Survey        sdk.Survey
	Key           string
	Value         []byte
	Metric        sdk.Metric
}

// hostReply is what the plugin got back.
type hostReply struct {
	Session sdk.Session
	Created sdk.CreatedSession
	Value   []byte
	Found   bool
	Err     string
	Is      string // the sentinel the error matches: not_found, permission, invalid
}

func runHostCall(ctx context.Context, h sdk.Host, c hostCall) hostReply {
	var r hostReply
	var err error
	switch c.Method {
	case "Session":
		r.Session, err = h.Session(ctx, c.SessionID, sdk.SessionOptions{MessagesAfter: c.MessagesAfter})
	case "CreatePrivateSession":
		r.Created, err = h.CreatePrivateSession(ctx, c.Create)
	case "AddNote":
		err = h.AddNote(ctx, c.SessionID, c.Text)
	case "SetFields":
		err = h.SetFields(ctx, c.SessionID, c.Update)
	case "RecordSurvey":
		err = h.RecordSurvey(ctx, c.SessionID, c.Survey)
	case "KVGet":
		r.Value, r.Found, err = h.KVGet(ctx, c.Key)
	case "KVSet":
		err = h.KVSet(ctx, c.Key, c.Value)
	case "KVDelete":
		err = h.KVDelete(ctx, c.Key)
	case "Metric":
		err = h.Metric(ctx, c.Metric)
	default:
		err = fmt.Errorf("unknown method %q", c.Method)
	}
	if err != nil {
		r.Err = err.Error()
		switch {
		case errors.Is(err, sdk.ErrNotFound):
			r.Is = "not_found"
		case errors.Is(err, sdk.ErrPermission):
			r.Is = "permission"
		case errors.Is(err, sdk.ErrInvalid):
			r.Is = "invalid"
		}
	}
	return r
}

func (p *testPlugin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/echo":
		// Echo as it reads, flushing each piece: the host must stream both
		// ways for the client to see the start before it sends the end.
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusOK)
		buf := make([]byte, 16<<10)
		for {
			n, err := r.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
			if err != nil {
				return
			}
		}
	case "/inspect":
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Plugin", "test")
		w.Header().Add("X-Multi", "one")
		w.Header().Add("X-Multi", "two")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(inspected{
			Method: r.Method, RequestURI: r.RequestURI, Path: r.URL.Path, Query: r.URL.Query().Get("q"),
			XTest: r.Header.Values("X-Test"), RemoteAddr: r.RemoteAddr, Host: r.Host,
			ContentLength: r.ContentLength, Body: string(body),
		})
	case "/big":
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		line := bytes.Repeat([]byte("0123456789abcdef"), 64) // 1 KiB
		for written := 0; written < n; written += len(line) {
			if _, err := w.Write(line[:min(len(line), n-written)]); err != nil {
				return
			}
		}
	default:
		http.NotFound(w, r)
	}
}

type inspected struct {
	Method, RequestURI, Path, Query string
	XTest                           []string
	RemoteAddr, Host                string
	ContentLength                   int64
	Body                            string
}

func (p *testPlugin) Formats() []string { return []string{"upper", "fail"} }

func (p *testPlugin) Encode(_ context.Context, format string, in io.Reader, out io.Writer) error {
	buf := make([]byte, 8<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if format == "fail" {
				return errors.New("the codec broke on the first frame")
			}
			if _, werr := out.Write(bytes.ToUpper(buf[:n])); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (p *testPlugin) RuleFiles(context.Context) ([]sdk.RuleFile, error) {
	return []sdk.RuleFile{
		{Name: "vip.expr", Content: []byte(`customer.fields[1] == "VIP" ? priority(1) : nil`)},
		{Name: "empty.expr", Content: []byte{}},
	}, nil
}
