package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store"
)

// blockingServer serves one handler that signals when a request has entered
// it and then waits for release.
func blockingServer(t *testing.T) (srv *http.Server, url string, entered <-chan struct{}, release chan struct{}) {
	t.Helper()
	in, rel := make(chan struct{}, 1), make(chan struct{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		<-rel
		io.WriteString(w, "finished")
	})}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed
	t.Cleanup(func() { srv.Close() })
	return srv, "http://" + ln.Addr().String(), in, rel
}

func testApp(t *testing.T) (*app, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	a := newApp(func(string) (string, bool) { return "", false }, io.Discard, io.Discard)
	a.log = hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	return a, &logs
}

func openDB(t *testing.T, a *app) *bun.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Config{DataDir: filepath.Join(t.TempDir(), "data")}, a.log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestShutdownWaitsForInFlightRequests(t *testing.T) {
	a, logs := testApp(t)
	db := openDB(t, a)
	srv, url, entered, release := blockingServer(t)

	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			got <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		got <- result{string(b), err}
	}()
	<-entered

	stopped := make(chan error, 1)
	go func() { stopped <- a.shutdown(srv, nil, db, 10*time.Second) }()
	select {
	case err := <-stopped:
		t.Fatalf("shutdown returned (%v) while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if r := <-got; r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q, %v", r.body, r.err)
	}
	if !strings.Contains(logs.String(), "shutdown complete") {
		t.Errorf("log lacks shutdown complete:\n%s", logs)
	}
}

func TestShutdownGivesUpAfterTimeout(t *testing.T) {
	a, _ := testApp(t)
	db := openDB(t, a)
	srv, url, entered, release := blockingServer(t)
	defer close(release)
	go http.Get(url) //nolint:errcheck // cut off by the shutdown
	<-entered
	err := a.shutdown(srv, nil, db, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 50ms") {
		t.Fatalf("shutdown with a stuck request: %v, want a timeout error", err)
	}
}
