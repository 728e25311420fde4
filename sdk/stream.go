package sdk

import (
	"io"
)

// chunkSize bounds each body or data message: far below gRPC's 4 MiB
// message limit, large enough that per-message overhead does not matter.
const chunkSize = 32 << 10

// chunkWriter turns writes into messages of at most chunkSize bytes. It
// holds back at most one partial chunk until the next write fills it or
// Flush sends it, so a stream of any length is never held whole.
type chunkWriter struct {
	send func([]byte) error
	buf  []byte
	err  error
}

func newChunkWriter(send func([]byte) error) *chunkWriter {
	return &chunkWriter{send: send}
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			// A fresh buffer per chunk: gRPC may still hold the previous
			// message after Send returns.
			w.buf = make([]byte, 0, chunkSize)
		}
		k := min(chunkSize-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == chunkSize {
			if err := w.Flush(); err != nil {
				return n - len(p), err
			}
		}
	}
	return n, nil
}

// Flush sends the partial chunk held back, if any.
func (w *chunkWriter) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.buf) == 0 {
		return nil
	}
	buf := w.buf
	w.buf = nil
	if err := w.send(buf); err != nil {
		w.err = err
		return err
	}
	return nil
}

// sendChunks reads r to its end and sends what it reads, one message per
// read. It returns the first read error other than io.EOF, or the first
// send error wrapped in sendError so callers can tell the two apart.
func sendChunks(r io.Reader, send func([]byte) error) error {
	for {
		buf := make([]byte, chunkSize)
		n, err := r.Read(buf)
		if n > 0 {
			if serr := send(buf[:n]); serr != nil {
				return sendError{serr}
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

type sendError struct{ err error }

func (e sendError) Error() string { return "send: " + e.err.Error() }
func (e sendError) Unwrap() error { return e.err }

// pumpToPipe receives chunks until the sender closes its side (io.EOF) and
// writes them to pw, which the reading side sees as one stream. It returns
// when the reader closes the pipe, so it never outlives its consumer.
func pumpToPipe(pw *io.PipeWriter, recv func() ([]byte, error)) {
	for {
		chunk, err := recv()
		if err == io.EOF {
			_ = pw.Close()
			return
		}
		if err != nil {
			_ = pw.CloseWithError(err)
			return
		}
		if _, err := pw.Write(chunk); err != nil {
			return
		}
	}
}
