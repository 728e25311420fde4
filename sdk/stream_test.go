package sdk

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestChunkWriter(t *testing.T) {
	tests := []struct {
		name   string
		writes []int // sizes of successive writes
		flush  bool
		want   []int // sizes of the chunks sent
	}{
		{"small writes held until flush", []int{10, 20}, true, []int{30}},
		{"small writes without flush stay held", []int{10, 20}, false, nil},
		{"exactly one chunk goes at once", []int{chunkSize}, false, []int{chunkSize}},
		{"a large write is split", []int{2*chunkSize + 5}, true, []int{chunkSize, chunkSize, 5}},
		{"writes fill chunks across calls", []int{chunkSize - 1, 2, chunkSize}, true, []int{chunkSize, chunkSize, 1}},
		{"empty flush sends nothing", nil, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sent [][]byte
			w := newChunkWriter(func(b []byte) error { sent = append(sent, b); return nil })
			var all []byte
			for i, n := range tt.writes {
				p := bytes.Repeat([]byte{byte('a' + i)}, n)
				all = append(all, p...)
				if k, err := w.Write(p); k != n || err != nil {
					t.Fatalf("Write = %d, %v", k, err)
				}
			}
			if tt.flush {
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
			}
			var sizes []int
			for _, b := range sent {
				sizes = append(sizes, len(b))
			}
			if len(sizes) != len(tt.want) || (len(sizes) > 0 && !slices.Equal(sizes, tt.want)) {
				t.Errorf("chunks %v, want %v", sizes, tt.want)
			}
			if tt.flush && !bytes.Equal(bytes.Join(sent, nil), all) {
				t.Error("the chunks do not add up to what was written")
			}
		})
	}
}

func TestChunkWriterSendError(t *testing.T) {
	boom := errors.New("stream closed")
	w := newChunkWriter(func([]byte) error { return boom })
	if _, err := w.Write(make([]byte, chunkSize+1)); !errors.Is(err, boom) {
		t.Fatalf("Write = %v, want the send error", err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, boom) {
		t.Errorf("Write after a failed send = %v, want the same error", err)
	}
}

func TestSendChunksTellsReadFromSendErrors(t *testing.T) {
	readErr := errors.New("disk gone")
	err := sendChunks(io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(readErr)), func([]byte) error { return nil })
	var se sendError
	if !errors.Is(err, readErr) || errors.As(err, &se) {
		t.Errorf("read failure = %v, want the read error, not a sendError", err)
	}
	sendErr := errors.New("EOF from peer")
	err = sendChunks(strings.NewReader("abc"), func([]byte) error { return sendErr })
	if !errors.As(err, &se) || !errors.Is(err, sendErr) {
		t.Errorf("send failure = %v, want a sendError", err)
	}
}
