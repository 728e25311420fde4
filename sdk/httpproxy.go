package sdk

import (
	"context"
	"errors"
	"io"
	"net/http"

	pluginv1 "github.com/tetherhq/tether/sdk/proto/v1"
)

var _ http.Handler = (*Conn)(nil)

// ServeHTTP proxies r to the plugin's HTTPHandler and its response back,
// streaming both bodies. The plugin sees r's path and query as they are
// here: mount the Conn under http.StripPrefix to give it paths relative to
// its own root. Before the plugin's response head, a failure answers 502
// (501 for a plugin with no HTTPHandler); after it, the connection is
// aborted, as net/http/httputil's ReverseProxy does, so the client never
// takes a cut body for a whole one.
func (c *Conn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stream, err := c.pc.rpc.ServeHTTP(ctx)
	if err != nil {
		c.httpFailed(w, r, c.callError("serve HTTP", err))
		return
	}
	head := &pluginv1.HTTPRequestHead{
		Method:        r.Method,
		Url:           r.URL.RequestURI(),
		Headers:       headersToProto(r.Header),
		RemoteAddr:    r.RemoteAddr,
		Host:          r.Host,
		Proto:         r.Proto,
		ContentLength: r.ContentLength,
	}
	body := r.Body
	if body == nil || body == http.NoBody {
		head.ContentLength = 0
		body = http.NoBody
	} else if head.ContentLength == 0 {
		// A server request with an unknown length (chunked) says -1, but
		// one built by hand may say 0 with a body; send what it holds.
		head.ContentLength = -1
	}
	recv := func() error { _, err := stream.Recv(); return err }
	if err := stream.Send(&pluginv1.ServeHTTPRequest{Part: &pluginv1.ServeHTTPRequest_Head{Head: head}}); err != nil {
		c.httpFailed(w, r, c.sendFailure("serve HTTP", err, recv))
		return
	}

	// The body goes up while the response comes down: a plugin may answer
	// before it has read everything (or anything), or echo as it reads.
	// HTTP/1 would otherwise close r.Body at the response's first flush.
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex()
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		err := sendChunks(body, func(b []byte) error {
			return stream.Send(&pluginv1.ServeHTTPRequest{Part: &pluginv1.ServeHTTPRequest_Body{Body: b}})
		})
		if err == nil {
			_ = stream.CloseSend()
			return
		}
		var se sendError
		if !errors.As(err, &se) {
			// The client's upload broke: the plugin must not take the
			// body it got for the whole one.
			cancel()
		}
	}()
	// Returning from ServeHTTP ends the right to read r.Body, so wait for
	// the sender; cancel first so it stops at its next Send.
	defer func() { cancel(); <-sent }()

	first, err := stream.Recv()
	if err != nil {
		c.httpFailed(w, r, c.callError("serve HTTP", err))
		return
	}
	rh := first.GetHead()
	if rh == nil || rh.GetStatus() < 100 || rh.GetStatus() > 999 {
		c.logger.Error("plugin answered HTTP without a valid response head", "plugin", c.name, "path", r.URL.Path)
		http.Error(w, "bad gateway: the plugin's response was malformed", http.StatusBadGateway)
		return
	}
	headersFromProto(w.Header(), rh.GetHeaders())
	w.WriteHeader(int(rh.GetStatus()))
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			return
		}
		if err != nil {
			if r.Context().Err() == nil {
				c.logger.Error("plugin HTTP response cut short", "plugin", c.name, "path", r.URL.Path, "error", fromStatus(err))
			}
			panic(http.ErrAbortHandler)
		}
		if _, err := w.Write(m.GetBody()); err != nil {
			return // the client went away; cancel stops the plugin
		}
		// Each chunk is what the plugin wrote or flushed: pass it on now,
		// so server-sent events and long downloads reach the client live.
		_ = rc.Flush()
	}
}

func (c *Conn) httpFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client is gone; nobody reads an answer
	}
	if errors.Is(err, ErrUnimplemented) {
		http.Error(w, "not implemented: this plugin serves no HTTP", http.StatusNotImplemented)
		return
	}
	c.logger.Error("plugin HTTP request failed", "plugin", c.name, "path", r.URL.Path, "error", err)
	http.Error(w, "bad gateway: the plugin did not answer", http.StatusBadGateway)
}
