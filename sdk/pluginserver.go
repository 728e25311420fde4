package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/hashicorp/go-plugin"
	pluginv1 "github.com/tetherhq/tether/sdk/proto/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// pluginServer runs in the plugin process and turns the Plugin service's
// calls into calls of the capability interfaces impl implements.
type pluginServer struct {
	pluginv1.UnimplementedPluginServer
	impl   Plugin
	broker *plugin.GRPCBroker

	mu       sync.Mutex
	host     Host
	hostConn *grpc.ClientConn
}

func newPluginServer(impl Plugin, broker *plugin.GRPCBroker) *pluginServer {
	return &pluginServer{impl: impl, broker: broker}
}

// capabilities lists what impl can do, from the interfaces it implements,
// so the manifest and the binary can be checked against each other.
func capabilities(p Plugin) []string {
	var caps []string
	if _, ok := p.(EventHandler); ok {
		caps = append(caps, CapEvents)
	}
	if _, ok := p.(HTTPHandler); ok {
		caps = append(caps, CapHTTP)
	}
	if _, ok := p.(Codec); ok {
		caps = append(caps, CapCodec)
	}
	if _, ok := p.(RuleProvider); ok {
		caps = append(caps, CapRouting)
	}
	return caps
}

// ctx adds the host API, once provisioned, to a call's context.
func (s *pluginServer) ctx(ctx context.Context) context.Context {
	s.mu.Lock()
	h := s.host
	s.mu.Unlock()
	return contextWithHost(ctx, h)
}

func (s *pluginServer) Describe(context.Context, *pluginv1.DescribeRequest) (*pluginv1.DescribeResponse, error) {
	d := s.impl.Describe()
	out := &pluginv1.DescribeResponse{Id: d.ID, Name: d.Name, Version: d.Version, Capabilities: capabilities(s.impl)}
	if c, ok := s.impl.(Codec); ok {
		out.Formats = c.Formats()
	}
	return out, nil
}

func (s *pluginServer) Provision(ctx context.Context, req *pluginv1.ProvisionRequest) (*pluginv1.ProvisionResponse, error) {
	conn, err := s.broker.Dial(req.GetHostBrokerId())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dial the host API (broker id %d): %v", req.GetHostBrokerId(), err)
	}
	host := &hostClient{rpc: pluginv1.NewHostClient(conn)}
	s.mu.Lock()
	old := s.hostConn
	s.host, s.hostConn = host, conn
	s.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	if p, ok := s.impl.(Provisioner); ok {
		if err := p.Provision(contextWithHost(ctx, host), host); err != nil {
			return nil, toStatus(fmt.Errorf("provision: %w", err))
		}
	}
	return &pluginv1.ProvisionResponse{}, nil
}

func (s *pluginServer) Configure(ctx context.Context, req *pluginv1.ConfigureRequest) (*pluginv1.ConfigureResponse, error) {
	c, ok := s.impl.(Configurer)
	if !ok {
		return nil, unimplemented(s.impl, "Configurer")
	}
	err := c.Configure(s.ctx(ctx), ConfigureRequest{UnitID: req.GetUnitId(), Settings: req.GetSettings()})
	if err == nil {
		return &pluginv1.ConfigureResponse{}, nil
	}
	// A call cut short is the transport's failure, not a verdict on the
	// settings.
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil, toStatus(err)
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return &pluginv1.ConfigureResponse{Invalid: true, Message: ce.Message, FieldErrors: ce.Fields}, nil
	}
	return &pluginv1.ConfigureResponse{Invalid: true, Message: err.Error()}, nil
}

func (s *pluginServer) Health(ctx context.Context, _ *pluginv1.HealthRequest) (*pluginv1.HealthResponse, error) {
	h, ok := s.impl.(HealthChecker)
	if !ok {
		return nil, unimplemented(s.impl, "HealthChecker")
	}
	if err := h.Health(s.ctx(ctx)); err != nil {
		return &pluginv1.HealthResponse{Message: err.Error()}, nil
	}
	return &pluginv1.HealthResponse{Healthy: true}, nil
}

func (s *pluginServer) HandleEvent(ctx context.Context, req *pluginv1.HandleEventRequest) (*pluginv1.HandleEventResponse, error) {
	h, ok := s.impl.(EventHandler)
	if !ok {
		return nil, unimplemented(s.impl, "EventHandler")
	}
	res := h.HandleEvent(s.ctx(ctx), eventFromProto(req))
	if res.Outcome != Ack && res.Outcome != Retry && res.Outcome != Permanent {
		return nil, status.Errorf(codes.Internal, "event %s: the plugin answered outcome %d, want Ack, Retry or Permanent", req.GetId(), res.Outcome)
	}
	return resultToProto(res), nil
}

func (s *pluginServer) RuleFiles(ctx context.Context, _ *pluginv1.RuleFilesRequest) (*pluginv1.RuleFilesResponse, error) {
	rp, ok := s.impl.(RuleProvider)
	if !ok {
		return nil, unimplemented(s.impl, "RuleProvider")
	}
	files, err := rp.RuleFiles(s.ctx(ctx))
	if err != nil {
		return nil, toStatus(fmt.Errorf("rule files: %w", err))
	}
	out := &pluginv1.RuleFilesResponse{}
	for _, f := range files {
		out.Files = append(out.Files, &pluginv1.RuleFile{Name: f.Name, Content: f.Content})
	}
	return out, nil
}

func (s *pluginServer) Encode(stream grpc.BidiStreamingServer[pluginv1.EncodeRequest, pluginv1.EncodeResponse]) error {
	c, ok := s.impl.(Codec)
	if !ok {
		return unimplemented(s.impl, "Codec")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	format := first.GetFormat()
	if formats := c.Formats(); !slices.Contains(formats, format) {
		return status.Errorf(codes.InvalidArgument, "encode: format %q is not one of %q", format, formats)
	}
	pr, pw := io.Pipe()
	go pumpToPipe(pw, func() ([]byte, error) {
		m, err := stream.Recv()
		return m.GetInput(), err
	})
	out := newChunkWriter(func(b []byte) error { return stream.Send(&pluginv1.EncodeResponse{Output: b}) })
	err = c.Encode(s.ctx(stream.Context()), format, pr, out)
	_ = pr.CloseWithError(errors.New("encode returned"))
	if err != nil {
		return toStatus(fmt.Errorf("encode %s: %w", format, err))
	}
	return out.Flush()
}

func (s *pluginServer) ServeHTTP(stream grpc.BidiStreamingServer[pluginv1.ServeHTTPRequest, pluginv1.ServeHTTPResponse]) error {
	h, ok := s.impl.(HTTPHandler)
	if !ok {
		return unimplemented(s.impl, "HTTPHandler")
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	head := first.GetHead()
	if head == nil {
		return status.Error(codes.InvalidArgument, "serve HTTP: the first message must be the request head")
	}
	req, err := requestFromHead(s.ctx(stream.Context()), head)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "serve HTTP: %v", err)
	}
	var pr *io.PipeReader
	if head.GetContentLength() != 0 {
		var pw *io.PipeWriter
		pr, pw = io.Pipe()
		req.Body = pr
		go pumpToPipe(pw, func() ([]byte, error) {
			m, err := stream.Recv()
			return m.GetBody(), err
		})
	}
	w := newStreamResponseWriter(stream)
	h.ServeHTTP(w, req)
	if pr != nil {
		// Unblocks the pump when the handler did not read the whole body.
		_ = pr.CloseWithError(http.ErrBodyReadAfterClose)
	}
	return w.finish()
}

func requestFromHead(ctx context.Context, head *pluginv1.HTTPRequestHead) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, head.GetMethod(), head.GetUrl(), http.NoBody)
	if err != nil {
		return nil, err
	}
	req.RequestURI = head.GetUrl()
	req.RemoteAddr = head.GetRemoteAddr()
	req.Host = head.GetHost()
	req.ContentLength = head.GetContentLength()
	if p := head.GetProto(); p != "" {
		if major, minor, ok := http.ParseHTTPVersion(p); ok {
			req.Proto, req.ProtoMajor, req.ProtoMinor = p, major, minor
		}
	}
	req.Header = http.Header{}
	headersFromProto(req.Header, head.GetHeaders())
	return req, nil
}

// streamResponseWriter is the http.ResponseWriter a plugin's handler
// writes to: the head goes out with the first write (or WriteHeader, or
// Flush), the body in chunks as it is written.
type streamResponseWriter struct {
	stream      grpc.BidiStreamingServer[pluginv1.ServeHTTPRequest, pluginv1.ServeHTTPResponse]
	header      http.Header
	wroteHeader bool
	body        *chunkWriter
	err         error
}

var (
	_ http.ResponseWriter = (*streamResponseWriter)(nil)
	_ http.Flusher        = (*streamResponseWriter)(nil)
)

func newStreamResponseWriter(stream grpc.BidiStreamingServer[pluginv1.ServeHTTPRequest, pluginv1.ServeHTTPResponse]) *streamResponseWriter {
	w := &streamResponseWriter{stream: stream, header: http.Header{}}
	w.body = newChunkWriter(func(b []byte) error {
		return stream.Send(&pluginv1.ServeHTTPResponse{Part: &pluginv1.ServeHTTPResponse_Body{Body: b}})
	})
	return w
}

func (w *streamResponseWriter) Header() http.Header { return w.header }

func (w *streamResponseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	w.wroteHeader = true
	head := &pluginv1.HTTPResponseHead{Status: int32(code), Headers: headersToProto(w.header)}
	w.err = w.stream.Send(&pluginv1.ServeHTTPResponse{Part: &pluginv1.ServeHTTPResponse_Head{Head: head}})
}

func (w *streamResponseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	return w.body.Write(p)
}

func (w *streamResponseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err == nil {
		_ = w.body.Flush()
	}
}

// finish completes the response after the handler returned.
func (w *streamResponseWriter) finish() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	return w.body.Flush()
}
