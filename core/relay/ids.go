package relay

import "sync"

// idIndex remembers, per session, the client_msg_ids of messages this
// process appended and saw committed, and the range of seqs it saw without a
// gap. When that range covers the whole dedup window, a miss in memory is a
// miss in the log and the append needs no search; any doubt (another node
// appended, a caller's transaction that may roll back, a restart) shrinks the
// range and sends look-ups to the log.
type idIndex struct {
	mu  sync.Mutex
	per map[int64]*sessionIDs
}

type idKey struct {
	sender   SenderKind
	senderID int64
	id       string
}

type sessionIDs struct {
	from, to int64 // every seq in [from, to] was appended and committed here
	seqs     map[idKey]int64
	order    []idKey // by seq, for eviction
}

// lookup answers for key when the index covers the window ending at last:
// known is false when the log must be searched; seq is 0 for "no such id".
func (x *idIndex) lookup(sessionID int64, key idKey, last int64) (seq int64, known bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.per[sessionID]
	if last == 0 {
		return 0, true
	}
	if s == nil || s.to != last || s.from > max(1, last-DedupWindow+1) {
		return 0, false
	}
	return s.seqs[key], true
}

// record notes an appended message. committed is false when it went into a
// caller's transaction, which may still roll back: its seq may then be taken
// again, which the index accepts for messages without a client_msg_id.
func (x *idIndex) record(m Message, committed bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	s := x.per[m.SessionID]
	if !committed && m.ClientMsgID != "" {
		delete(x.per, m.SessionID) // an id the index cannot vouch for
		return
	}
	switch {
	case s == nil:
		s = &sessionIDs{from: m.Seq, to: m.Seq, seqs: map[idKey]int64{}}
		x.per[m.SessionID] = s
	case m.Seq == s.to+1:
		s.to = m.Seq
	case m.Seq >= s.from && m.Seq <= s.to:
		// The seq of a rolled-back message without an id, taken again.
	default:
		*s = sessionIDs{from: m.Seq, to: m.Seq, seqs: map[idKey]int64{}}
	}
	if m.ClientMsgID == "" {
		return
	}
	key := idKey{sender: m.SenderKind, senderID: m.SenderID, id: m.ClientMsgID}
	s.seqs[key] = m.Seq
	s.order = append(s.order, key)
	for len(s.order) > 0 && s.seqs[s.order[0]] <= s.to-2*DedupWindow {
		delete(s.seqs, s.order[0])
		s.order = s.order[1:]
	}
}

func (x *idIndex) forget(sessionID int64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.per, sessionID)
}
