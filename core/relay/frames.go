package relay

import (
	"io"
	"sync"
	"sync/atomic"
)

// frameBufs holds read buffers between frames, so that an idle socket holds
// none and a busy one does not allocate a new buffer for every frame. A
// relayed binary frame keeps its buffer until the last receiver wrote it.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

// binFrame is a relayed binary frame shared by its receivers. Every holder
// (the sending socket while it relays, each receiver's queue) owns one
// reference; the last release returns the buffer to frameBufs. A frame left
// in the queue of a socket that closed is never released and is simply
// collected.
type binFrame struct {
	buf  *[]byte
	refs atomic.Int32
}

func newBinFrame(buf *[]byte) *binFrame {
	f := &binFrame{buf: buf}
	f.refs.Store(1)
	return f
}

func (f *binFrame) data() []byte { return *f.buf }

func (f *binFrame) retain() { f.refs.Add(1) }

// release drops one reference; nothing may read the frame after its own
// release.
func (f *binFrame) release() {
	if f.refs.Add(-1) == 0 {
		*f.buf = (*f.buf)[:0]
		frameBufs.Put(f.buf)
		f.buf = nil
	}
}

// readAll reads a whole message into buf, growing it only when the message
// is longer than its capacity (a message that fills buf exactly does not
// grow it).
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	var probe [1]byte
	for {
		if len(buf) == cap(buf) {
			n, err := r.Read(probe[:])
			if n > 0 {
				buf = append(buf, probe[0])
			}
			if err == io.EOF {
				return buf, nil
			}
			if err != nil {
				return buf, err
			}
			continue
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
