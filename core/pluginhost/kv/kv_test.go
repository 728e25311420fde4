package kv_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/pluginhost/catalogue"
	"github.com/tetherhq/tether/core/pluginhost/kv"
	"github.com/tetherhq/tether/core/store/storetest"
)

// register puts bundled plugins in the catalogue: plugin_kv rows belong to
// a plugins row.
func register(t *testing.T, db *bun.DB, ids ...string) *catalogue.Catalogue {
	t.Helper()
	self := filepath.Join(t.TempDir(), "tether")
	if err := os.WriteFile(self, []byte("hub"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := &catalogue.Catalogue{DB: db, Root: t.TempDir()}
	for _, id := range ids {
		doc := `{"id":"` + id + `","name":"` + id + `","version":"1.0.0","bundled":true,"capabilities":["events"],"events":["session.*"]}`
		if _, err := c.RegisterBundled(context.Background(), []byte(doc), self); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func newStore(db *bun.DB) *kv.Store {
	return &kv.Store{DB: db, Now: func() time.Time { return time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC) }}
}

func TestGetSetDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		register(t, db, "crm", "surveys")
		s := newStore(db)
		crm, surveys := s.Space("crm"), s.Space("surveys")

		if _, ok, err := crm.Get(ctx, "token"); ok || err != nil {
			t.Fatalf("missing key: ok=%v err=%v", ok, err)
		}
		binary := []byte{0, 1, 2, 0xff, 0xfe, 0}
		for _, v := range [][]byte{[]byte("first"), binary, {}, nil} {
			if err := crm.Set(ctx, "token", v); err != nil {
				t.Fatal(err)
			}
			got, ok, err := crm.Get(ctx, "token")
			if err != nil || !ok || !bytes.Equal(got, v) || got == nil {
				t.Fatalf("Get after Set(%q) = %q, %v, %v", v, got, ok, err)
			}
		}
		if err := crm.Set(ctx, "token", binary); err != nil {
			t.Fatal(err)
		}
		// Another plugin's space never sees the key, and writes its own.
		if _, ok, _ := surveys.Get(ctx, "token"); ok {
			t.Fatal("surveys sees crm's key")
		}
		if err := surveys.Set(ctx, "token", []byte("mine")); err != nil {
			t.Fatal(err)
		}
		if err := surveys.Delete(ctx, "token"); err != nil {
			t.Fatal(err)
		}
		if got, ok, _ := crm.Get(ctx, "token"); !ok || !bytes.Equal(got, binary) {
			t.Fatalf("surveys' delete touched crm's key: %q %v", got, ok)
		}
		if err := crm.Delete(ctx, "token"); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := crm.Get(ctx, "token"); ok {
			t.Error("key still there after Delete")
		}
		if err := crm.Delete(ctx, "token"); err != nil {
			t.Errorf("deleting an absent key: %v", err)
		}
		if crm.PluginID() != "crm" {
			t.Errorf("PluginID = %q", crm.PluginID())
		}
		unicode := "clé/émoji 🙂"
		if err := crm.Set(ctx, unicode, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := crm.Get(ctx, unicode); !ok {
			t.Error("unicode key lost")
		}
	})
}

func TestLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		register(t, db, "crm")
		s := newStore(db)
		s.MaxKeys = 3
		sp := s.Space("crm")
		for _, tc := range []struct {
			name  string
			key   string
			value []byte
			field string
			want  string
		}{
			{"empty key", "", nil, "key", "is required"},
			{"long key", strings.Repeat("k", 257), nil, "key", "at most 256 bytes"},
			{"NUL in key", "a\x00b", nil, "key", "NUL"},
			{"bad UTF-8", "a\xffb", nil, "key", "UTF-8"},
			{"big value", "k", make([]byte, 64<<10+1), "value", "at most 65536 bytes"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := sp.Set(ctx, tc.key, tc.value)
				fe, ok := fault.As(err)
				if !ok || !strings.Contains(fe.Fields[tc.field], tc.want) {
					t.Fatalf("Set = %v, want %s to mention %q", err, tc.field, tc.want)
				}
			})
		}
		if err := sp.Set(ctx, strings.Repeat("k", 256), make([]byte, 64<<10)); err != nil {
			t.Fatalf("largest key and value: %v", err)
		}
		if _, _, err := sp.Get(ctx, ""); !fault.IsKind(err, fault.Invalid) {
			t.Errorf("Get of an empty key = %v", err)
		}
		if err := sp.Delete(ctx, strings.Repeat("k", 300)); !fault.IsKind(err, fault.Invalid) {
			t.Errorf("Delete of a long key = %v", err)
		}
		for _, k := range []string{"a", "b"} {
			if err := sp.Set(ctx, k, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		err := sp.Set(ctx, "c", []byte("x"))
		if fe, ok := fault.As(err); !ok || fe.Code != "kv_full" || !strings.Contains(fe.Message, "3 keys") {
			t.Fatalf("fourth key = %v, want kv_full", err)
		}
		if err := sp.Set(ctx, "a", []byte("overwrite")); err != nil {
			t.Errorf("overwriting a key at the limit: %v", err)
		}
		if n, err := sp.Count(ctx); err != nil || n != 3 {
			t.Errorf("Count = %d, %v", n, err)
		}
	})
}

func TestUnknownPluginAndRemoval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := register(t, db)
		src := t.TempDir()
		doc := `{"id":"crm","name":"CRM","version":"1.0.0","executable":"run","capabilities":["events"],"events":["session.*"]}`
		if err := os.WriteFile(filepath.Join(src, "plugin.json"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, "run"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := c.InstallDir(ctx, src); err != nil {
			t.Fatal(err)
		}
		s := newStore(db)
		if err := s.Space("ghost").Set(ctx, "k", []byte("v")); !fault.IsKind(err, fault.NotFound) {
			t.Errorf("Set for a plugin not in the catalogue = %v, want NotFound", err)
		}
		if err := s.Space("crm").Set(ctx, "k", []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := c.Remove(ctx, "crm"); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Space("crm").Count(ctx); n != 0 {
			t.Errorf("%d keys survive their plugin", n)
		}
	})
}
