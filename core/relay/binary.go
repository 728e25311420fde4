package relay

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"

	"github.com/tetherhq/tether/core/fault"
)

// fileStream follows the chunks of one accepted offer sent by this socket:
// the relay hashes what it carries, so the hash on record is the hash of the
// bytes that went through, not only the one the sender declared (SEC).
type fileStream struct {
	offer FileOffer
	seq   int64
	got   int64
	h     hash.Hash
}

// relayBinary forwards a binary frame to the other side, unstored; only its
// size is counted (AddTransmitted). Screen frames are opaque; file chunks
// must belong to an accepted offer of this side. relayBinary owns one
// reference to f and releases it when done.
func (c *conn) relayBinary(f *binFrame) {
	defer f.release()
	frame := f.data()
	if len(frame) == 0 {
		c.sendError("binary", fault.New(fault.BadRequest, "bad_binary", "A binary frame starts with its channel byte."))
		return
	}
	var fs *fileStream
	switch frame[0] {
	case BinaryScreen:
		if !c.isCustomer() {
			v, err := c.view(c.ctx)
			if err != nil {
				c.sendError("binary", err)
				return
			}
			if !v.perms.ShareScreen {
				c.sendError("binary", c.forbidPermission("screen", "share_screen"))
				return
			}
		}
	case BinaryFile:
		var err error
		if fs, err = c.fileChunk(frame); err != nil {
			c.sendError("binary", err)
			return
		}
	default:
		c.sendError("binary", fault.New(fault.BadRequest, "bad_binary", "Unknown binary channel %d.", frame[0]))
		return
	}
	to := c.otherSide()
	delivered := false
	for _, p := range c.srv.hub.side(c.sessionID, to) {
		if p.deliverBinary(c.ctx, f) {
			delivered = true
		}
	}
	// And to the other side's sockets on other hub nodes. A file chunk
	// none took here waits for theirs: it must not go nowhere unsaid.
	remote := false
	if b := c.srv.hub.binaries; b != nil {
		remote = b.Send(c.ctx, c.sessionID, to, frame, fs != nil && !delivered)
	}
	if !delivered && !remote {
		if fs != nil {
			c.sendError(fmt.Sprint(fs.seq), fault.New(fault.Conflict, "peer_not_connected",
				"The other side is not connected; the file chunk was not delivered. Offer the file again."))
			delete(c.files, fs.seq)
		}
		return
	}
	if delivered {
		// A node that delivered a frame counts it (DeliverRemote).
		c.transmitted.Add(int64(len(frame)))
	}
	if fs != nil {
		c.fileProgress(fs, frame[9:])
	}
	// Sharing a screen or sending a file is acting in the session: a
	// session watched for an hour without a word does not time out idle.
	c.touch()
}

// fileChunk checks a file chunk's header and returns its stream.
func (c *conn) fileChunk(frame []byte) (*fileStream, error) {
	if len(frame) < 9 {
		return nil, fault.New(fault.BadRequest, "bad_binary", "A file chunk starts with 0x02 and the 8-byte offer seq.")
	}
	seq := int64(binary.BigEndian.Uint64(frame[1:9]))
	fs := c.files[seq]
	if fs == nil {
		var err error
		if fs, err = c.openFile(c.ctx, seq); err != nil {
			return nil, err
		}
		c.files[seq] = fs
	}
	if fs.got+int64(len(frame)-9) > fs.offer.Size {
		delete(c.files, seq)
		return nil, fault.New(fault.Invalid, "file_too_long", "More bytes than the %d offered for %q.", fs.offer.Size, fs.offer.Name)
	}
	return fs, nil
}

func (c *conn) openFile(ctx context.Context, seq int64) (*fileStream, error) {
	m, err := c.srv.log.Get(ctx, c.sessionID, seq)
	if err != nil {
		return nil, err
	}
	if m.Kind != KindFileOffer || m.SenderKind != c.viewer.Kind || m.SenderID != c.viewer.ID {
		return nil, fault.New(fault.Invalid, "not_your_offer", "Message %d is not a file offer of yours.", seq)
	}
	accepted, err := c.srv.log.accepted(ctx, c.sessionID, seq)
	if err != nil {
		return nil, err
	}
	if !accepted {
		return nil, fault.New(fault.Conflict, "offer_not_accepted", "File offer %d has not been accepted.", seq)
	}
	var offer FileOffer
	if err := json.Unmarshal(m.Payload, &offer); err != nil {
		return nil, fmt.Errorf("file offer %d: %w", seq, err)
	}
	return &fileStream{offer: offer, seq: seq, h: sha256.New()}, nil
}

// fileProgress hashes a delivered chunk and, at the last byte, records a
// file_done message with the computed hash.
func (c *conn) fileProgress(fs *fileStream, data []byte) {
	fs.h.Write(data)
	fs.got += int64(len(data))
	if fs.got < fs.offer.Size {
		return
	}
	delete(c.files, fs.seq)
	sum := hex.EncodeToString(fs.h.Sum(nil))
	done := FileDone{OfferSeq: fs.seq, Name: fs.offer.Name, Size: fs.got, SHA256: sum, Verified: sum == fs.offer.SHA256}
	raw, _ := json.Marshal(done)
	body := fmt.Sprintf("File %q transferred; SHA-256 verified.", fs.offer.Name)
	if !done.Verified {
		body = fmt.Sprintf("File %q transferred; its SHA-256 does not match the offer.", fs.offer.Name)
	}
	if _, err := c.store(c.ctx, c.srv.db, Message{Kind: KindFileDone, Body: body, Payload: raw}); err != nil {
		c.sendError(fmt.Sprint(fs.seq), err)
	}
}
